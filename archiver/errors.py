"""Typed errors and the outcome words of DESIGN.md.

Every failure the archiver knows about is an ``ArchiverError`` carrying the URL (or path) it
concerns and the outcome word that gets recorded, so callers never have to parse messages.
"""

from __future__ import annotations

#: Outcome words shared by ``captures`` and ``checks`` (DESIGN.md, "Outcome words").
OUTCOMES: tuple[str, ...] = (
    "ok",
    "redirected",
    "not_found",
    "gone",
    "blocked",
    "client_error",
    "server_error",
    "rate_limited",
    "timeout",
    "too_large",
    "unreachable",
    "tls_error",
    "redirect_loop",
    "blocked_by_robots",
    "blocked_private_address",
    "soft_404",
    "invalid_url",
)


class ArchiverError(Exception):
    """Base class: a failure with a recorded outcome word."""

    outcome: str = "error"

    def __init__(self, message: str, *, url: str | None = None, outcome: str | None = None):
        super().__init__(message)
        self.message = message
        self.url = url
        if outcome is not None:
            self.outcome = outcome

    def __str__(self) -> str:
        return self.message


class ArticleError(ArchiverError):
    """The article given to ingest cannot be used: missing, binary, empty, unknown type.

    ``usage`` marks mistakes in the command line itself (a path that is not there, a file type
    we do not read), which the CLI reports with exit code 2.
    """

    outcome = "invalid_article"

    def __init__(self, message: str, *, url: str | None = None, usage: bool = False):
        super().__init__(message, url=url)
        self.usage = usage


class ArchiveBusy(ArchiverError):
    """Another run is writing the archive (``db.write_lock``)."""


class NotAnArchive(ArchiverError):
    """The ``--db`` file is not an SQLite archive (a text file, another program's data)."""


class StorageError(ArchiverError):
    """WARC records cannot be written to their folder: disk full, read-only, the folder removed.

    Not about one URL: every later write would fail the same way, so a run stops at the first.
    ``errno`` is the OS error's number when there was one, so callers can tell a full disk.
    """

    def __init__(self, directory: str, reason: str, *, errno: int | None = None):
        super().__init__(f"cannot write WARC records to {directory}: {reason}")
        self.directory = directory
        self.reason = reason
        self.errno = errno

    def __reduce__(self) -> tuple[type[StorageError], tuple[str, str], dict[str, int | None]]:
        # Raised in worker processes too: pickled back to the coordinator with its fields.
        return StorageError, (self.directory, self.reason), {"errno": self.errno}


class FetchError(ArchiverError):
    """A URL could not be fetched; ``outcome`` says why in one of the OUTCOMES words."""

    outcome = "unreachable"


class InvalidURL(FetchError):
    outcome = "invalid_url"


class BlockedPrivateAddress(FetchError):
    outcome = "blocked_private_address"


class BlockedByRobots(FetchError):
    outcome = "blocked_by_robots"


class FetchTimeout(FetchError):
    outcome = "timeout"


class TooLarge(FetchError):
    outcome = "too_large"


class RedirectLoop(FetchError):
    outcome = "redirect_loop"


class TLSError(FetchError):
    outcome = "tls_error"
