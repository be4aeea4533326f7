"""Serving an archive to people who share it: limits that hold, no 500s, read-only archives."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from datasette.app import Datasette
from serving import serving

from archiver.capture.extract import MAX_TEXT_CHARS
from archiver.ingest.article import MAX_ARTICLE_BYTES, load_article
from archiver.publish.serve import VALUE_LIMIT, build_datasette, opens_immutable
from archiver.store import open_db, save_article

REPO = Path(__file__).resolve().parents[1]
BIG_VALUE_SQL = "select randomblob(1000000000)"


@pytest.fixture
def archive(db_path: Path, example_article: Path) -> Path:
    db = open_db(db_path)
    save_article(db, load_article(str(example_article)))
    db.close()  # checkpointed: the file alone is the whole archive
    return db_path


async def started(ds: Datasette) -> Datasette:
    await ds.invoke_startup()
    return ds


@pytest.fixture
async def shared(archive: Path) -> AsyncIterator[Datasette]:
    """As ``archiver serve`` publishes it."""
    yield await started(build_datasette(archive))


@pytest.fixture
async def with_sql(archive: Path) -> AsyncIterator[Datasette]:
    """As ``archiver serve --allow-sql`` publishes it."""
    yield await started(build_datasette(archive, allow_sql=True))


async def test_own_sql_is_refused_by_default(shared: Datasette) -> None:
    response = await shared.client.get("/citations.json", params={"sql": "select 1"})
    assert response.status_code == 403


async def test_canned_queries_work_without_own_sql(shared: Datasette) -> None:
    response = await shared.client.get("/citations/unresolved_citations.json?_shape=array")
    assert response.status_code == 200
    assert len(response.json()) == 25


async def test_allow_sql_runs_own_sql(with_sql: Datasette) -> None:
    response = await with_sql.client.get(
        "/citations.json", params={"sql": "select count(*) as n from citations", "_shape": "array"}
    )
    assert response.json() == [{"n": 25}]


async def test_a_huge_value_is_an_error_not_gigabytes(with_sql: Datasette) -> None:
    """randomblob(1e9) held 7.8 GB: it is one step of SQLite's program, which the time limit
    cannot interrupt, so the connection's length limit has to refuse it."""
    started_at = time.monotonic()
    response = await with_sql.client.get("/citations.json", params={"sql": BIG_VALUE_SQL})
    assert response.status_code == 400
    assert response.json()["error"] == "string or blob too big"
    assert len(response.content) < 10_000
    assert time.monotonic() - started_at < 2


async def test_canned_queries_answer_under_the_value_limit(shared: Datasette) -> None:
    """The limit applies to every connection, and the archive's own pages still work."""
    response = await shared.client.get("/citations/search_claims.json?q=Turkmenistan&_shape=array")
    assert response.status_code == 200
    assert len(response.json()) == 5


def test_value_limit_is_above_anything_the_archiver_stores() -> None:
    """SQLite refuses to read a stored value over the limit too."""
    assert VALUE_LIMIT >= 3 * MAX_ARTICLE_BYTES  # an article decoded to UTF-8
    assert VALUE_LIMIT >= 4 * MAX_TEXT_CHARS  # a source's text in UTF-8


WRITE_ENDPOINTS = [
    ("get", "/citations/articles/-/insert"),
    ("post", "/citations/articles/-/insert"),
    ("get", "/-/create"),
    ("post", "/-/create"),
    ("post", "/citations/-/create"),
    ("post", "/citations/articles/1/-/delete"),
    ("post", "/citations/articles/1/-/update"),
    ("post", "/citations/articles/-/drop"),
    ("get", "/no/such/path/at/all"),
]


@pytest.mark.parametrize(("method", "path"), WRITE_ENDPOINTS)
async def test_write_endpoints_answer_4xx_not_500(
    shared: Datasette, method: str, path: str
) -> None:
    """Datasette's error page printed a rich traceback, which raises when no exception is being
    handled, as for a path no route matches: those answered 500."""
    response = await getattr(shared.client, method)(path)
    assert 400 <= response.status_code < 500


@pytest.fixture
def read_only_copy(archive: Path, tmp_path: Path) -> Iterator[Path]:
    """The archive in a folder nobody can write, read-only media as near as a test gets.

    chmod alone does not stop root, which the tests may run as; the immutable attribute
    (chattr +i) does. Skipped where neither makes the folder unwritable.
    """
    folder = tmp_path / "media"
    folder.mkdir()
    copy = folder / "citations.db"
    shutil.copy(archive, copy)
    copy.chmod(0o444)
    folder.chmod(0o555)
    locked = os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(folder)]).returncode == 0
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("cannot make a folder read-only here (root without chattr +i)")
        yield copy
    finally:
        if locked:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_read_only_folder_is_opened_immutable(read_only_copy: Path) -> None:
    assert opens_immutable(read_only_copy)


def test_writable_archive_is_opened_read_only_not_immutable(archive: Path) -> None:
    """Immutable would not see what an archive run writes while the server runs."""
    assert not opens_immutable(archive)


async def test_read_only_archive_serves(read_only_copy: Path) -> None:
    ds = await started(build_datasette(read_only_copy))
    response = await ds.client.get("/citations/unresolved_citations.json?_shape=array")
    assert response.status_code == 200
    assert len(response.json()) == 25


@pytest.mark.slow
def test_serve_publishes_any_file_name_with_limits(archive: Path, tmp_path: Path) -> None:
    """The real command: metadata under the file's own name, and no SQL of the visitor's."""
    other = tmp_path / "other.db"
    shutil.copy(archive, other)
    with serving(other, cwd=tmp_path) as (base, _):
        with urllib.request.urlopen(f"{base}/other/search_claims.json?q=US$30", timeout=30) as r:
            assert r.status == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/other.json?sql=select+1", timeout=30).close()
        assert refused.value.code == 403
