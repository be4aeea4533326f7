"""Where a capture's WARC file is: ``captures.warc_path`` is kept relative to the archive's
folder, so an archive can be moved or read from anywhere."""

from __future__ import annotations

import os
from pathlib import Path

from sqlite_utils import Database


def archive_folder(db: Database) -> Path:
    """The folder of the database file, which ``captures.warc_path`` is relative to (the working
    directory for an in-memory database)."""
    filename = db.execute("pragma database_list").fetchone()[2]
    return Path(filename).parent if filename else Path.cwd()


def stored_warc_path(folder: Path, path: str | Path) -> str:
    """``path`` (absolute, or relative to the working directory) as ``captures.warc_path`` keeps
    it: relative to the archive's ``folder`` when inside it, so the archive can be moved or read
    from anywhere; absolute otherwise. Compared as written, then with symlinks resolved
    (SQLite names the database by its resolved path)."""
    absolute = Path(os.path.abspath(path))
    if absolute.is_relative_to(base := Path(os.path.abspath(folder))):
        return absolute.relative_to(base).as_posix()
    # Only now the symlinks: resolving costs a system call per part of both paths, every row.
    if (target := absolute.resolve()).is_relative_to(base := folder.resolve()):
        return target.relative_to(base).as_posix()
    return str(absolute)


def warc_file(db: Database, warc_path: str) -> Path:
    """The WARC file a ``captures.warc_path`` of this archive names: every reader goes through
    here, since the stored path is relative to the archive's folder, not the working one."""
    return archive_folder(db) / warc_path
