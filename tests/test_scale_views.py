"""The views and canned queries of a large archive (issue 14): what ``citations_view`` and
``evidence_view`` computed for every row is stored, and stays what they computed whatever
writes; the views count from one table; the canned queries read what a page shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from archiver.evidence.find import Evidence
from archiver.ingest.article import Article
from archiver.ingest.claims import Citation
from archiver.publish.serve import build_datasette
from archiver.rows import CaptureRow, CheckRow, SourceText, UrlRows
from archiver.store import migrations, open_db, save_article, save_evidence, save_url_rows
from archiver.store.schema import CITATIONS_VIEW, EVIDENCE_VIEW

REPO = Path(__file__).resolve().parents[1]
METADATA: dict[str, Any] = json.loads((REPO / "metadata.json").read_text(encoding="utf-8"))[
    "databases"
]["citations"]
PORT = "https://example.org/port"
BANK = "https://example.org/bank"


def article(key: str, published: str | None, urls: list[str | None]) -> Article:
    """An article citing ``urls`` in order (None: a lost link)."""
    cited = [
        Citation(
            position=n,
            anchor_text=f"link {n}",
            href=url or "#",
            url=url,
            href_status="http" if url else "placeholder",
            claim=f"Claim {n} of {key} says 30 ports.",
            context=f"Claim {n} of {key} says 30 ports.",
            paragraph=n,
            start=0,
            end=5,
        )
        for n, url in enumerate(urls, start=1)
    ]
    return Article(
        source_key=key,
        url=None,
        path=None,
        title=f"Article {key}",
        author=None,
        publisher=None,
        published=published,
        text="\n\n".join(c.context for c in cited),
        citations=cited,
    )


def capture(url: str, at: str, outcome: str = "ok") -> CaptureRow:
    return CaptureRow(url=url, captured_at=at, outcome=outcome, status_code=200)


def captured(db: Database, url: str, at: str, label: str, outcome: str = "ok") -> UrlRows:
    """What an archive run saves for ``url``: a capture at ``at``, its text, and evidence of
    ``label`` for every claim citing it (none when the capture failed)."""
    ids = [row["id"] for row in db.query("select id from citations where url = ?", [url])]
    good = outcome == "ok"
    return UrlRows(
        url=url,
        outcome=outcome,
        capture=capture(url, at, outcome),
        source=SourceText(title="Page", text=f"text of {at}") if good else None,
        evidence=[(i, Evidence(label=label, passage=at, score=0.5)) for i in ids] if good else [],
    )


def rows(db: Database, sql: str, key: str) -> list[dict[str, Any]]:
    return [dict(row) for row in db.query(f"select * from ({sql}) order by {key}")]


def assert_views_compute_what_they_did(db: Database) -> None:
    """The views read what m010's ``citations_view`` and m008's ``evidence_view`` computed."""
    assert rows(db, "select * from citations_view", "id") == rows(db, CITATIONS_VIEW, "id")
    assert rows(db, "select * from evidence_view", "citation_id") == rows(
        db, EVIDENCE_VIEW, "citation_id"
    )


@pytest.fixture
def db(db_path: Path) -> Database:
    """Two articles citing the port report, one of them the bank's too, and a lost link."""
    db = open_db(db_path)
    save_article(db, article("a", "2025-03-01", [PORT, BANK, None, PORT]))
    save_article(db, article("b", None, [PORT]))
    return db


def archived(db: Database) -> None:
    """The port report captured in January (supported) and June (gone from the page); the
    bank's page never answered."""
    save_url_rows(db, [captured(db, PORT, "2025-01-10T09:00:00Z", "supported")])
    save_url_rows(db, [captured(db, BANK, "2025-01-10T09:00:00Z", "", outcome="not_found")])
    save_url_rows(db, [captured(db, PORT, "2025-06-01T09:00:00Z", "not_found")])


def check_with_a_new_version(db: Database) -> None:
    """A check on 1 February found the port page changed: its capture, text and evidence."""
    ids = [row["id"] for row in db.query("select id from citations where url = ?", [PORT])]
    at = "2025-02-01T09:00:00Z"
    check = CheckRow(url=PORT, checked_at=at, outcome="ok", similarity=0.5, drift="changed")
    save_url_rows(
        db,
        [
            UrlRows(
                url=PORT,
                outcome="ok",
                capture=capture(PORT, at),
                check=check,
                version="the February text",
                evidence=[(i, Evidence(label="partial", score=0.4)) for i in ids],
            )
        ],
    )


def evidence_without_a_capture(db: Database) -> None:
    """Annotated again with nothing captured to read: the citation's rows give way to one."""
    citation = next(db.query("select id from citations where url = ?", [PORT]))["id"]
    save_evidence(
        db,
        [({"id": citation, "capture_id": None, "url": PORT}, Evidence(label="unavailable"))],
    )


#: Every kind of write that changes what the views show, after ``archived``.
WRITES = {
    "nothing more": lambda db: None,
    "a check's new version": check_with_a_new_version,
    "a capture with no text to find evidence in": lambda db: save_url_rows(
        db, [UrlRows(url=PORT, outcome="ok", capture=capture(PORT, "2025-02-15T09:00:00Z"))]
    ),
    "a capture that failed": lambda db: save_url_rows(
        db, [captured(db, PORT, "2025-07-01T09:00:00Z", "", outcome="not_found")]
    ),
    "the article dated before every capture": lambda db: save_article(
        db, article("a", "2025-01-05", [PORT, BANK, None, PORT])
    ),
    "the article dated by the day only, a capture made on it": lambda db: save_article(
        db, article("a", "2025-06-01", [PORT, BANK, None, PORT])
    ),
    "the article undated": lambda db: save_article(
        db, article("a", None, [PORT, BANK, None, PORT])
    ),
    "a link pointed elsewhere": lambda db: save_article(
        db, article("a", "2025-03-01", [BANK, PORT, None, PORT])
    ),
    "citations dropped": lambda db: save_article(db, article("a", "2025-03-01", [BANK])),
    "a new article citing a page already captured": lambda db: save_article(
        db, article("c", "2025-07-01", [PORT])
    ),
    "evidence without a capture": evidence_without_a_capture,
    "a label corrected by hand": lambda db: db.execute(
        "update evidence set label = 'supported' where capture_id = 3"
    ),
    "the newest capture's evidence deleted": lambda db: db.execute(
        "delete from evidence where capture_id = 3"
    ),
    "a capture deleted with its evidence": lambda db: db.executescript(
        "delete from evidence where capture_id = 3; delete from captures where id = 3"
    ),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_views_show_what_they_computed_after_any_write(db: Database, write: Any) -> None:
    archived(db)
    write(db)
    assert_views_compute_what_they_did(db)


def test_views_read_the_capture_nearest_the_articles_date(db: Database) -> None:
    archived(db)
    view = {row["id"]: row["capture_id"] for row in db.query("select * from citations_view")}
    evidence = {
        row["citation_id"]: (row["label"], row["latest_label"])
        for row in db.query("select * from evidence_view")
    }
    # Article a (1 March): January's capture; b (undated, ingested now): June's.
    assert (view[1], view[4], view[5]) == (1, 1, 3)
    assert view[2] is None  # the bank's page: no good capture
    assert evidence == {
        1: ("supported", "not_found"),
        4: ("supported", "not_found"),
        5: ("not_found", "not_found"),
    }


def test_dropped_citations_leave_no_stored_rows(db: Database) -> None:
    archived(db)
    save_article(db, article("a", "2025-03-01", [BANK]))
    stored = {
        row["citation_id"]
        for table in ("nearest_captures", "judged_evidence")
        for row in db.query(f"select citation_id from {table}")
    }
    assert stored == {row["id"] for row in db.query("select id from citations")} == {1, 5}


def test_migration_fills_the_stored_rows_of_an_older_archive(db_path: Path) -> None:
    """Through both ways it fills them: a URL captured once, and one captured three times."""
    court = "https://example.org/court"
    old = Database(db_path)
    migrations.apply(old, stop_before="m011_stored_nearest_captures")
    save_article(old, article("a", "2025-03-01", [PORT, BANK, None, PORT]))
    save_article(old, article("b", None, [PORT, court]))
    archived(old)
    check_with_a_new_version(old)
    save_url_rows(old, [captured(old, court, "2025-06-01T09:00:00Z", "partial")])
    computed = (rows(old, CITATIONS_VIEW, "id"), rows(old, EVIDENCE_VIEW, "citation_id"))
    db = open_db(db_path)
    assert db["nearest_captures"].count == 5 and db["judged_evidence"].count == 4
    assert computed == (
        rows(db, "select * from citations_view", "id"),
        rows(db, "select * from evidence_view", "citation_id"),
    )


def plan(db: Database, sql: str) -> list[str]:
    params = {"q": "port", "article_id": 1, "url": PORT}
    return [row[3] for row in db.execute(f"explain query plan {sql}", params).fetchall()]


@pytest.mark.parametrize("view", ["citations_view", "evidence_view"])
def test_a_view_is_counted_from_one_table(db: Database, view: str) -> None:
    """Datasette counts a view on every page of it: one pass over one index, nothing else."""
    [step] = plan(db, f"select count(*) from {view}")
    assert step.startswith("SCAN")


@pytest.mark.parametrize(
    "query",
    ["unsupported_citations", "dead_links", "never_archived", "unresolved_citations"]
    + ["blocked_links", "article_citations", "check_history"],
)
def test_a_canned_query_reads_its_rows_in_order(db: Database, query: str) -> None:
    """No sort or grouping of every row before the first: the page costs what it shows."""
    steps = plan(db, METADATA["queries"][query]["sql"])
    assert not [
        step
        for step in steps
        if step.startswith(("USE TEMP B-TREE FOR ORDER BY", "USE TEMP B-TREE FOR GROUP BY"))
    ]
    scans = [step for step in steps if step.startswith("SCAN")]
    assert all(
        "nearest_captures_missing" in step or "citations_unresolved" in step for step in scans
    )


@pytest.mark.parametrize("table", ["sources", "captures", "checks", "mementos"])
def test_every_facet_and_sort_of_a_growing_table_reads_an_index(db: Database, table: str) -> None:
    """A table with a row per cited URL (or more): metadata.json's facets and sorts of it group
    or order an index, not every row (issue 14)."""
    settings = METADATA["tables"][table]
    wanted = set(settings.get("facets", [])) | {settings.get("sort"), settings.get("sort_desc")}
    led = {index.columns[0] for index in db[table].indexes}
    assert wanted - {None} <= led


async def test_link_health_counts_each_articles_links_by_status(
    db: Database, db_path: Path
) -> None:
    archived(db)
    check_with_a_new_version(db)  # the port page changed: drifted; the bank's never checked
    ds = build_datasette(db_path)
    await ds.invoke_startup()
    response = await ds.client.get("/citations/link_health.json?_shape=array")
    counts = [
        {key: value for key, value in row.items() if value and key != "article"}
        for row in response.json()
    ]
    assert counts == [
        {"article_id": 1, "links": 2, "drifted": 1, "unchecked": 1},
        {"article_id": 2, "links": 1, "drifted": 1},
    ]
