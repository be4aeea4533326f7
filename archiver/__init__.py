"""citation-archiver: keep an article's citations alive and checkable."""

import logging
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("citation-archiver")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
