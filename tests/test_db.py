"""The archive database: schema, idempotent re-ingestion, full-text search, atomic writes."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database
from warcio.archiveiterator import ArchiveIterator
from webserver import WebServer

from archiver.cli import cli
from archiver.ingest.article import Article, load_article
from archiver.store import capture_row, open_db, save_article, warc_file

TABLES = {"articles", "citations", "sources", "captures", "checks", "evidence", "mementos"}


def test_open_db_creates_contract_tables_in_wal_mode(db_path: Path) -> None:
    db = open_db(db_path)
    assert TABLES <= set(db.table_names())
    assert "citations_view" in db.view_names()
    assert db.journal_mode == "wal"
    assert set(db["citations"].columns_dict) >= {
        "id",
        "article_id",
        "position",
        "anchor_text",
        "href",
        "url",
        "claim",
        "context",
        "paragraph",
        "start",
        "end",
    }


def test_reopening_changes_nothing(db_path: Path) -> None:
    open_db(db_path)
    schema = open_db(db_path).schema
    assert open_db(db_path).schema == schema


def test_reingesting_updates_in_place(db_path: Path, example_article: Path) -> None:
    db = open_db(db_path)
    first = save_article(db, load_article(str(example_article)))
    ids = [row["id"] for row in db["citations"].rows_where(order_by="position")]
    second = save_article(db, load_article(str(example_article)))
    assert (first.created, second.created) == (True, False)
    assert second.article_id == first.article_id
    assert db["articles"].count == 1 and db["citations"].count == 25
    assert [row["id"] for row in db["citations"].rows_where(order_by="position")] == ids


def test_shrunk_article_loses_its_extra_citations(db_path: Path, example_article: Path) -> None:
    db = open_db(db_path)
    article = load_article(str(example_article))
    save_article(db, article)
    save_article(db, dataclasses.replace(article, citations=article.citations[:5]))
    assert db["citations"].count == 5


def test_fts_stays_current_through_triggers(db_path: Path, example_article: Path) -> None:
    db = open_db(db_path)
    save_article(db, load_article(str(example_article)))
    assert [r["position"] for r in db["citations"].search("Turkmenistan", columns=["position"])]
    article = load_article(str(example_article))
    article.citations[24].claim = "A rewritten claim about pipelines."
    save_article(db, article)
    hits = [
        r["position"] for r in db["citations"].search('"rewritten claim"', columns=["position"])
    ]
    assert hits == [25]
    assert db["articles"].search("Stronski") is not None
    assert [r["id"] for r in db["articles"].search("Kazakhstan", columns=["id"])] == [1]


def test_failed_save_leaves_previous_version_whole(db_path: Path, example_article: Path) -> None:
    db = open_db(db_path)
    article = load_article(str(example_article))
    save_article(db, article)
    unstorable = dataclasses.replace(article.citations[0], position=26, anchor_text=object())
    broken: Article = dataclasses.replace(
        article,
        title="Half-written title",
        citations=[dataclasses.replace(c, claim="changed") for c in article.citations]
        + [unstorable],
    )
    with pytest.raises(sqlite3.Error):
        save_article(db, broken)  # fails on the last row, after 25 updates and the article
    assert db["articles"].get(1)["title"] == article.title
    assert db["citations"].count == 25
    assert "changed" not in {row["claim"] for row in db["citations"].rows}


# -- WARC paths relative to the archive (issue 10) -----------------------------------------------


def test_capture_is_readable_after_the_archive_moves(
    tmp_path: Path, web_server: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    article = tmp_path / "article.md"
    article.write_text(f"# Moved\n\nThe page is [here]({web_server.url('/ok')}).\n", "utf-8")
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    result = CliRunner().invoke(
        cli,
        ["archive", str(article), "--db", "A/citations.db", "--warc-dir", "A/warc"]
        + ["--allow-private-addresses", "--delay", "0", "--timeout", "5", "--silent"],
    )
    assert result.exit_code == 0, result.output
    moved = Path(shutil.move(tmp_path / "run" / "A", tmp_path / "elsewhere"))
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    db = open_db(moved / "citations.db")
    capture = db["captures"].get(1)
    with warc_file(db, capture["warc_path"]).open("rb") as handle:
        handle.seek(capture["warc_offset"])
        record = next(iter(ArchiveIterator(handle)))
    assert record.rec_headers.get_header("WARC-Type") == "response"
    assert record.rec_headers.get_header("WARC-Target-URI") == web_server.url("/ok")


def _old_capture(db_path: Path, warc_path: str) -> None:
    """A captures row as an archive made before m006 kept it, then the upgrade to now."""
    db = open_db(db_path)
    db["captures"].insert({"url": "https://example.org/", "warc_path": warc_path})
    db.execute("delete from _sqlite_migrations where name = 'm006_warc_paths_relative_to_archive'")
    db.conn.commit()


def test_migration_makes_an_old_path_relative_to_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "A" / "k9warc").mkdir(parents=True)
    (tmp_path / "A" / "k9warc" / "archiver-1.warc.gz").write_bytes(b"")
    _old_capture(tmp_path / "A" / "citations.db", "A/k9warc/archiver-1.warc.gz")
    db = open_db(tmp_path / "A" / "citations.db")
    assert db["captures"].get(1)["warc_path"] == "k9warc/archiver-1.warc.gz"


def test_migration_leaves_a_path_it_cannot_find(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    _old_capture(tmp_path / "A" / "citations.db", "elsewhere/archiver-1.warc.gz")
    db = open_db(tmp_path / "A" / "citations.db")
    assert db["captures"].get(1)["warc_path"] == "elsewhere/archiver-1.warc.gz"
    assert "elsewhere/archiver-1.warc.gz not found" in caplog.text


def test_warc_outside_the_archive_is_stored_absolute(tmp_path: Path) -> None:
    db = open_db(tmp_path / "A" / "citations.db")
    row = capture_row(db, {"warc_path": str(tmp_path / "B" / "archiver-1.warc.gz")})
    assert row["warc_path"] == str(tmp_path / "B" / "archiver-1.warc.gz")


# -- evidence of the capture nearest the article's date (issue 10) -------------------------------


def drifted_archive(
    db_path: Path,
    published: str | None,
    ingested_at: str,
    labels: tuple[str, str] = ("supported", "not_found"),
) -> Database:
    """One citation whose source was captured twice and whose evidence changed between the two
    (by default: supported at first, gone from the page by the second capture)."""
    db = open_db(db_path)
    db["articles"].insert(
        {"id": 1, "source_key": "k", "title": "A", "published": published}
        | {"ingested_at": ingested_at}
    )
    db["citations"].insert(
        {"id": 1, "article_id": 1, "position": 1, "url": "https://example.org/report"}
        | {"claim": "The report counts 30 ports."}
    )
    db["captures"].insert_all(
        {"id": id_, "url": "https://example.org/report", "captured_at": at}
        for id_, at in ((1, "2025-01-10T09:00:00Z"), (2, "2025-06-01T09:00:00Z"))
    )
    db["evidence"].insert_all(
        [
            {"citation_id": 1, "capture_id": 1, "label": labels[0], "passage": "then"},
            {"citation_id": 1, "capture_id": 2, "label": labels[1], "passage": "now"},
        ]
    )
    return db


@pytest.mark.parametrize(
    ("published", "ingested_at", "capture_id"),
    [
        ("2018-03-29", "2025-01-10T08:59:00+00:00", 1),  # before every capture: the earliest
        ("2025-03-01", "2025-01-10T08:59:00+00:00", 1),  # the latest capture at or before it
        ("2025-06-01", "2025-01-10T08:59:00+00:00", 2),  # a capture on the day counts as at it
        (None, "2025-01-10T08:59:00+00:00", 1),  # no date: when the article was ingested
        (None, "2025-07-01T00:00:00+00:00", 2),
    ],
)
def test_evidence_view_shows_the_capture_nearest_the_articles_date(
    db_path: Path, published: str | None, ingested_at: str, capture_id: int
) -> None:
    db = drifted_archive(db_path, published, ingested_at)
    row = next(db.query("select capture_id, latest_capture_id from evidence_view"))
    assert (row["capture_id"], row["latest_capture_id"]) == (capture_id, 2)


def test_evidence_view_shows_supported_then_gone_now(db_path: Path) -> None:
    db = drifted_archive(db_path, "2018-03-29", "2025-01-10T08:59:00+00:00")
    row = next(db.query("select label, captured_at, latest_label from evidence_view"))
    assert row == {
        "label": "supported",
        "captured_at": "2025-01-10T09:00:00Z",
        "latest_label": "not_found",
    }


def test_evidence_view_reads_evidence_through_indexes_only(db_path: Path) -> None:
    plan = [
        row[3] for row in open_db(db_path).execute("explain query plan select * from evidence_view")
    ]
    assert [step for step in plan if step.startswith("SCAN")] == ["SCAN judged"]


# -- links that are not citations (issue 10) -----------------------------------------------------

SKIPPING_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ports and power | The Gazette</title>
<base href="https://gazette.example/world/"></head><body>
<main><article><h1>Ports and power in the Indian Ocean</h1>
<p>Container traffic through the port rose by 12 per cent in 2020, according to <a href="#">the port authority</a>, whose figures were published in March.</p>
<p>The new terminal cost US$1.2 billion, <a href="#">official filings show</a>, and was built in three years by a consortium of four firms.</p>
<p>Write to the desk at <a href="mailto:desk@gazette.example">desk@gazette.example</a>. Follow us on <a href="https://twitter.com/gazette">Twitter</a>.</p>
<p><a href="https://gazette.example/newsletters">Subscribe to our newsletter</a> for the week's top stories.</p>
</article></main></body></html>"""


@pytest.fixture
def skipping_article(tmp_path: Path) -> Path:
    """An HTML article citing two placeholders (nothing to fetch), with three links that are not
    citations."""
    path = tmp_path / "ports.html"
    path.write_text(SKIPPING_PAGE, encoding="utf-8")
    return path


def test_links_that_are_not_citations_are_saved_with_their_reason(
    db_path: Path, skipping_article: Path
) -> None:
    db = open_db(db_path)
    save_article(db, load_article(str(skipping_article)))
    rows = db["skipped_links"].rows_where(order_by="position", select="anchor_text, href, reason")
    assert list(rows) == [
        {
            "anchor_text": "desk@gazette.example",
            "href": "mailto:desk@gazette.example",
            "reason": "scheme:mailto",
        },
        {
            "anchor_text": "Twitter",
            "href": "https://twitter.com/gazette",
            "reason": "social_profile",
        },
        {
            "anchor_text": "Subscribe to our newsletter",
            "href": "https://gazette.example/newsletters",
            "reason": "call_to_action",
        },
    ]


def test_resaving_replaces_the_skipped_links(db_path: Path, skipping_article: Path) -> None:
    db = open_db(db_path)
    article = load_article(str(skipping_article))
    save_article(db, article)
    save_article(db, dataclasses.replace(article, skipped=article.skipped[:1]))
    assert [row["reason"] for row in db["skipped_links"].rows] == ["scheme:mailto"]


def test_rerunning_archive_adds_no_skipped_link_twice(
    db_path: Path, skipping_article: Path
) -> None:
    for _ in range(2):
        result = CliRunner().invoke(
            cli, ["archive", str(skipping_article), "--db", str(db_path), "--silent"]
        )
        assert result.exit_code == 0, result.output
    assert open_db(db_path)["skipped_links"].count == 3


# -- where an article's date was read (issue 10) -------------------------------------------------

HTML_ARTICLE = (
    '<html><head><meta name="date" content="2019-11-08"><title>Ports</title></head><body>'
    "<article><h1>Ports</h1><p>Container traffic through the port rose by 12 per cent, as "
    '<a href="https://example.org/report">the authority reported</a> in its annual review of '
    "the harbour, which also counted more ships than in any year since the 2016 bombing.</p>"
    "</article></body></html>"
)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("article.md", None, ("2018-03-29", "byline")),
        ("article.html", HTML_ARTICLE, ("2019-11-08", "metadata")),
    ],
)
def test_article_date_keeps_where_it_was_read(
    tmp_path: Path, example_article: Path, name: str, text: str | None, expected: tuple[str, str]
) -> None:
    path = tmp_path / name
    path.write_text(text or example_article.read_text("utf-8"), "utf-8")
    db = open_db(tmp_path / "citations.db")
    save_article(db, load_article(str(path)))
    row = db["articles"].get(1)
    assert (row["published"], row["published_from"]) == expected
