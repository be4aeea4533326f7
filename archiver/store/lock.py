"""One writing run per archive: the ``<db>.lock`` file."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archiver.errors import ArchiveBusy


@contextmanager
def write_lock(path: Path | str) -> Iterator[None]:
    """Hold the archive's write lock (``<db>.lock``) for the duration of the block.

    Two runs writing one archive at once (an overlapping cron job) would interleave their
    transactions until SQLite answers "database is locked" mid-run; the second run is refused
    up front instead. The lock goes with the process, even after ``kill -9``.

    Raises:
        ArchiveBusy: another run holds it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArchiveBusy(
                f"{path} is being written by another archiver run; try again when it has finished"
            ) from None
        yield
