"""Opening an archive: WAL mode, foreign keys on, schema up to date."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from archiver.errors import NotAnArchive
from archiver.store.schema import migrations

DEFAULT_DB = Path("db/citations.db")


def open_db(path: Path | str = DEFAULT_DB) -> Database:
    """Open (creating if needed) the archive at ``path``, in WAL mode, schema up to date."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(path)
    try:
        db.enable_wal()
        db.execute("PRAGMA foreign_keys = ON")
        migrations.apply(db)
    except sqlite3.DatabaseError as error:  # another kind of file given as --db
        db.close()
        raise NotAnArchive(f"{path} is not an archive (SQLite says: {error})") from None
    return db
