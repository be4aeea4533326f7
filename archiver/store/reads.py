"""What the report and the CLI read from the archive: link statuses, check counts, rotten links.

Each function returns plain rows or counts; ``publish.report`` draws them and ``run.check``
sums them up, so neither holds SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

__all__ = [
    "article_status_counts",
    "checks_per_day",
    "dead_links",
    "drifted_sources",
    "rotten_citations",
    "status_counts",
    "stored_article_ids",
]


def stored_article_ids(db: Database) -> set[int]:
    """The id of every article in the archive."""
    return {row["id"] for row in db.query("select id from articles")}


def _article_filter(article_ids: Iterable[int] | None) -> tuple[str, list[Any]]:
    ids = list(article_ids or [])
    if not ids:
        return "", []
    return f" and citations.article_id in ({', '.join('?' for _ in ids)})", ids


def status_counts(db: Database, *, article_ids: Iterable[int] | None = None) -> dict[str, int]:
    """Distinct cited URLs per link status (``unchecked`` for those never checked)."""
    where, params = _article_filter(article_ids)
    rows = db.query(
        "select coalesce(sources.link_status, 'unchecked') as status, "
        "count(distinct citations.url) as n from citations "
        "left join sources on sources.url = citations.url "
        f"where citations.url is not null{where} group by status",
        params,
    )
    return {row["status"]: row["n"] for row in rows}


def dead_links(db: Database, *, article_ids: Iterable[int] | None = None) -> list[str]:
    """Cited URLs whose link status is ``dead``, in citation order."""
    where, params = _article_filter(article_ids)
    return [
        row["url"]
        for row in db.query(
            "select citations.url from citations join sources on sources.url = citations.url "
            f"where sources.link_status = 'dead'{where} "
            "group by citations.url order by min(citations.id)",
            params,
        )
    ]


def article_status_counts(db: Database) -> list[tuple[int, str, dict[str, int]]]:
    """Each article's id, title (its source when untitled) and distinct cited URLs per status."""
    per_article: dict[int, tuple[str, dict[str, int]]] = {}
    for row in db.query(
        "select articles.id, coalesce(articles.title, articles.source_key) as title, "
        "coalesce(sources.link_status, 'unchecked') as status, "
        "count(distinct citations.url) as n from citations "
        "join articles on articles.id = citations.article_id "
        "left join sources on sources.url = citations.url where citations.url is not null "
        "group by articles.id, status order by articles.id"
    ):
        per_article.setdefault(row["id"], (row["title"], {}))[1][row["status"]] = row["n"]
    return [(k, title, counts) for k, (title, counts) in per_article.items()]


def checks_per_day(db: Database) -> list[dict[str, Any]]:
    """Checks counted by day (``YYYY-MM-DD``), outcome and drift, oldest day first."""
    return [
        dict(row)
        for row in db.query(
            "select substr(checked_at, 1, 10) as day, outcome, drift, count(*) as n from checks "
            "group by day, outcome, drift order by day"
        )
    ]


def rotten_citations(db: Database) -> list[dict[str, Any]]:
    """Citations of dead, then suspect, links: the claim, and what to read instead: the local
    capture and the web-archive snapshot nearest the article's date (``citations_view``)."""
    return [
        dict(row)
        for row in db.query(
            "select cited.link_status, cited.article, cited.position, cited.claim, cited.url, "
            "cited.latest_outcome, "
            "(select max(checked_at) from checks where checks.url = cited.url) as last_checked, "
            "cited.capture_id, cited.captured_at, cited.memento_url, cited.memento_datetime, "
            "cited.memento_status from citations_view as cited "
            "where cited.link_status in ('dead', 'suspect') "
            "order by cited.link_status = 'suspect', cited.article_id, cited.position"
        )
    ]


def drifted_sources(db: Database) -> list[dict[str, Any]]:
    """Drifted sources with their latest check's similarity and drift, least similar first; one
    row per date the source is cited at, with the capture and snapshot nearest that date."""
    return [
        dict(row)
        for row in db.query(
            "select sources.url, sources.title, checks.similarity, checks.drift, "
            "checks.checked_at, cited.article_date, cited.capture_id, cited.captured_at, "
            "cited.memento_url, cited.memento_datetime, cited.memento_status "
            "from sources join checks on checks.id = "
            "(select id from checks where checks.url = sources.url "
            "order by checked_at desc, id desc limit 1) "
            "join citations_view as cited on cited.url = sources.url "
            "where sources.link_status = 'drifted' "
            "group by sources.url, cited.article_date "
            "order by checks.similarity, sources.url, cited.article_date"
        )
    ]
