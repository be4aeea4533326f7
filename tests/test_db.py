"""The archive database: schema, idempotent re-ingestion, full-text search, atomic writes."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from archiver.article import Article, load_article
from archiver.db import open_db, save_article

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
