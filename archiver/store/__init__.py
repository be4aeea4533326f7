"""The archive's SQLite database: schema, reads and writes. The only package that holds SQL.

Callers import from here, not from the modules, so the store can be rearranged behind this face.
"""

from archiver.store.database import DEFAULT_DB, open_db
from archiver.store.lock import write_lock
from archiver.store.paths import archive_folder, stored_warc_path, warc_file
from archiver.store.revisits import (
    capture_row,
    keep_archived_texts,
    link_status_of,
    save_results,
)
from archiver.store.schema import migrations
from archiver.store.writes import SavedArticle, save_article

__all__ = [
    "DEFAULT_DB",
    "SavedArticle",
    "archive_folder",
    "capture_row",
    "keep_archived_texts",
    "link_status_of",
    "migrations",
    "open_db",
    "save_article",
    "save_results",
    "stored_warc_path",
    "warc_file",
    "write_lock",
]
