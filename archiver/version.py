"""The installed version, for the User-Agent, WARC records and ``--version``."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("citation-archiver")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"
