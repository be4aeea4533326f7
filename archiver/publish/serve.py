"""Publish an archive with Datasette: its metadata whatever the file is called, and limits that
hold when the server is shared (issue 11).

``build_datasette`` is what ``archiver serve`` runs and what the tests open, so both see the
same metadata, settings and plugin. The plugin is this module: ``prepare_connection`` caps the
size of any value a query can build, ``startup`` makes Datasette's error pages plain, and
``render_cell`` shows the HTML columns (datasette-render-html's job, done per table instead of
per cell).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from datasette.app import Datasette
from datasette.plugins import pm
from markupsafe import Markup
from pluggy import HookimplMarker
from sqlite_utils import Database

from archiver.capture.extract import MAX_TEXT_CHARS
from archiver.errors import NotAnArchive
from archiver.ingest.article import MAX_ARTICLE_BYTES
from archiver.store import migrations, open_db

#: metadata.json describes the archive under this database name; it is given to whatever name
#: Datasette gives the file (its stem), so ``--db other.db`` keeps queries and descriptions.
METADATA_DATABASE = "citations"
#: ./metadata.json when there is one (a site's own), else the one shipped with the package.
METADATA_CANDIDATES = (Path("metadata.json"), Path(__file__).resolve().parents[1] / "metadata.json")

#: Largest string or blob SQLite may build or read on a served connection. Datasette's time
#: limit cannot stop ``randomblob(1000000000)``: it is one step of SQLite's program, and the
#: server held 7.8 GB building and rendering it. Values above the limit fail at once ("string
#: or blob too big"), stored ones included, so it stays above anything the archiver stores: an
#: article of MAX_ARTICLE_BYTES decoded to UTF-8 (at most 3 bytes per byte), a text of
#: MAX_TEXT_CHARS (at most 4 bytes per character).
VALUE_LIMIT = max(3 * MAX_ARTICLE_BYTES, 4 * MAX_TEXT_CHARS)

#: Datasette's hookimpl, typed (pluggy has annotations, datasette none).
hookimpl = HookimplMarker("datasette")
#: datasette-render-html: its entry point's name, and the metadata.json key of its settings
#: (the columns to show as HTML, per table), which ``render_cell`` reads instead.
RENDER_HTML_PLUGIN = "render_html"
RENDER_HTML = "datasette-render-html"
#: Per Datasette, the HTML columns of each (database, table).
_html_columns: WeakKeyDictionary[Datasette, dict[tuple[str, str], frozenset[str]]] = (
    WeakKeyDictionary()
)

#: Datasette settings for a server people share (``datasette --setting``).
SETTINGS: dict[str, Any] = {
    "sql_time_limit_ms": 1000,  # any query, canned ones included
    "max_returned_rows": 1000,
    "num_sql_threads": 3,  # queries at once: bounds CPU and the memory of their results
    "facet_time_limit_ms": 200,
    # Suggesting facets runs a query per column on every table page, searches included: it was
    # most of a search's time under concurrent load (bench/README.md).
    "suggest_facets": False,
}


def load_metadata(path: Path | None = None) -> dict[str, Any]:
    """The metadata at ``path``, else the first of METADATA_CANDIDATES that exists."""
    path = path or next((p for p in METADATA_CANDIDATES if p.exists()), None)
    if path is None:
        return {}
    metadata: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return metadata


def metadata_for(name: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` with the archive's block (``databases.citations``) under ``name`` as well.

    Datasette names a database after its file's stem and finds its metadata, plugin settings
    (datasette-render-html) included, by that name only.
    """
    databases = dict(metadata.get("databases") or {})
    if name not in databases and METADATA_DATABASE in databases:
        databases[name] = databases[METADATA_DATABASE]
    return {**metadata, "databases": databases}


def opens_immutable(db_path: Path) -> bool:
    """True when the archive or its folder cannot be written (read-only media, a read-only copy).

    Datasette opens a file read-only (``mode=ro``), but SQLite still needs to create the -wal
    and -shm files beside a WAL database, and cannot: Datasette failed with "unable to open
    database file". Opened immutable, SQLite creates nothing and takes no locks.
    """
    folder = db_path.parent if str(db_path.parent) else Path(".")
    return not (os.access(db_path, os.W_OK) and os.access(folder, os.W_OK))


def build_datasette(
    db_path: Path,
    *,
    metadata: dict[str, Any] | None = None,
    allow_sql: bool = False,
    immutable: bool | None = None,
) -> Datasette:
    """A Datasette for one archive, as ``archiver serve`` publishes it.

    Args:
        db_path: the archive's SQLite file.
        metadata: Datasette metadata with the archive under ``databases.citations``
            (default: ``load_metadata()``).
        allow_sql: let visitors run their own SQL; canned queries and table pages work either
            way.
        immutable: open the file immutable (default: when it or its folder is read-only).

    Returns:
        The Datasette, not started: ``await ds.invoke_startup()`` before use.
    """
    register_plugin()
    if immutable is None:
        immutable = opens_immutable(db_path)
    if not immutable:
        upgrade(db_path)
    files = ([], [str(db_path)]) if immutable else ([str(db_path)], [])
    return Datasette(
        files[0],
        immutables=files[1],
        metadata=metadata_for(db_path.stem, load_metadata() if metadata is None else metadata),
        settings={**SETTINGS, "default_allow_sql": allow_sql},
    )


def upgrade(db_path: Path) -> None:
    """Bring an archive made by an older version up to date, as any other command does on
    opening it: the canned queries read the tables and indexes its migrations add (issue 14).

    A file no migration ever ran on (another SQLite database, or not one at all) is left as it
    is: ``serve`` says so when it cannot be served.
    """
    db = Database(db_path)
    try:
        outdated = bool(migrations.applied(db) and migrations.pending(db))
    except sqlite3.DatabaseError:
        outdated = False
    finally:
        db.close()
    if outdated:
        open_db(db_path).close()


def register_plugin() -> None:
    """Make this module's hooks part of every Datasette in the process (once), in place of
    datasette-render-html's (see ``render_cell``)."""
    module = sys.modules[__name__]
    if not pm.is_registered(module):
        pm.register(module, name="archiver.publish.serve")
    render_html = pm.get_plugin(RENDER_HTML_PLUGIN)
    if render_html is not None:
        pm.unregister(render_html)


def serve(ds: Datasette, *, host: str, port: int) -> None:
    """Start ``ds``, check that its database opens, and serve it until stopped.

    Raises:
        NotAnArchive: the file cannot be opened as a database.
    """
    import uvicorn

    asyncio.run(_start(ds))
    uvicorn.run(ds.app(), host=host, port=port, log_level="info", lifespan="on", workers=1)


async def _start(ds: Datasette) -> None:
    """Run the startup hooks, then read the schema, so that a bad file is one message, not a
    crash (Datasette's own read: this package holds no SQL)."""
    await ds.invoke_startup()
    db = ds.get_database()
    try:
        await db.table_names()
    except sqlite3.DatabaseError as error:
        raise NotAnArchive(f"{db.path} cannot be served (SQLite says: {error})") from None


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    """Cap the size of every string and blob a query can build (see VALUE_LIMIT)."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, VALUE_LIMIT)


@hookimpl
def startup(datasette: Datasette) -> None:
    """Plain error pages: no rich traceback.

    Datasette's default error handler prints a rich traceback, locals included, for every
    error, 404s too. For a path no route matches (``/db/table/-/insert``, ``/-/create``) it is
    called with no exception being handled, rich raises ValueError, and the answer is a 500.
    Without rich, 4xx answers print nothing and 500s a plain traceback.
    """
    # Imported here: imported before datasette.plugins, it would be registered half-loaded.
    from datasette import handle_exception as default_error_page

    default_error_page.rich = None


@hookimpl
def render_cell(
    value: Any, column: str, table: str | None, database: str, datasette: Datasette
) -> Markup | None:
    """A column metadata.json lists under datasette-render-html, as HTML; None for the others.

    What that plugin does, but it looked its settings up in the whole metadata for every cell
    of every page: a third of a 100-row table page's time (bench/README.md, issue 14). Here
    they are read once per table.
    """
    if table is None:  # a canned or arbitrary query: its database's settings
        table = ""
    known = _html_columns.setdefault(datasette, {})
    if (database, table) not in known:
        config = datasette.plugin_config(RENDER_HTML, database=database, table=table or None)
        known[(database, table)] = frozenset((config or {}).get("columns") or ())
    if column in known[(database, table)]:
        return Markup(value or "")
    return None
