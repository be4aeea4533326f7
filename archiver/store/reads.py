"""What the report and the CLI read from the archive: link statuses, check counts, rotten links.

Each function returns plain rows or counts; ``publish.report`` draws them and ``run.check``
sums them up, so neither holds SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

__all__ = [
    "ROTTEN",
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


#: A source's status columns, read from the index that holds them (schema ``m003``): the row keeps
#: them after the source's text, so a lookup by the primary key reads the text's overflow pages
#: too (a 1M-citation report spent most of its time there, issue 14).
_SOURCE_STATUS = "sources indexed by sources_status"
#: Link statuses an editor acts on: the report lists their citations, and ranks articles by them.
ROTTEN = ("dead", "suspect")
_RANKED = ", ".join(f"'{status}'" for status in (*ROTTEN, "drifted"))
_CITES = "exists (select 1 from citations where article_id = articles.id and url is not null)"


def status_counts(db: Database, *, article_ids: Iterable[int] | None = None) -> dict[str, int]:
    """Distinct cited URLs per link status (``unchecked`` for those never checked)."""
    where, params = _article_filter(article_ids)
    rows = db.query(
        "select coalesce(sources.link_status, 'unchecked') as status, count(*) as n from "
        f"(select distinct url from citations where citations.url is not null{where}) as cited "
        f"left join {_SOURCE_STATUS} on sources.url = cited.url group by status",
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


def article_status_counts(
    db: Database, *, limit: int
) -> tuple[list[tuple[int, str, dict[str, int]]], int]:
    """The ``limit`` articles with the most dead or suspect cited URLs (then drifted ones, then
    the first articles), each one's id, title (its source when untitled) and distinct cited URLs
    per status; and how many articles cite a URL at all.

    Articles are ranked from the sources that are dead, suspect or drifted and the citations of
    those, so the cost follows the problems, not the archive's size.
    """
    problems: dict[int, dict[str, int]] = defaultdict(dict)
    for row in db.query(
        f"select citations.article_id, sources.link_status, count(distinct citations.url) as n "
        f"from {_SOURCE_STATUS} cross join citations on citations.url = sources.url "
        f"where sources.link_status in ({_RANKED}) group by 1, 2"
    ):
        problems[row["article_id"]][row["link_status"]] = row["n"]

    def worst_first(article_id: int) -> tuple[int, int, int]:
        found = problems[article_id]
        return -sum(found.get(s, 0) for s in ROTTEN), -found.get("drifted", 0), article_id

    shown = sorted(problems, key=worst_first)[:limit]
    if len(shown) < limit:
        for (article_id,) in db.execute(f"select id from articles where {_CITES} order by id"):
            if article_id not in problems:
                shown.append(article_id)
                if len(shown) == limit:
                    break
    (total,) = db.execute(f"select count(*) from articles where {_CITES}").fetchone()
    marks = ", ".join("?" for _ in shown)
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for row in db.query(
        "select cited.article_id, coalesce(sources.link_status, 'unchecked') as status, "
        "count(*) as n from (select distinct article_id, url from citations "
        f"where url is not null and article_id in ({marks})) as cited "
        f"left join {_SOURCE_STATUS} on sources.url = cited.url "
        "group by cited.article_id, status",
        shown,
    ):
        counts[row["article_id"]][row["status"]] = row["n"]
    titles = dict(
        db.execute(
            f"select id, coalesce(title, source_key) from articles where id in ({marks})", shown
        ).fetchall()
    )
    return [(article_id, titles[article_id], counts[article_id]) for article_id in shown], total


def checks_per_day(db: Database) -> list[dict[str, Any]]:
    """Checks counted by day (``YYYY-MM-DD``), outcome and drift, oldest day first."""
    return [
        dict(row)
        for row in db.query(
            "select substr(checked_at, 1, 10) as day, outcome, drift, count(*) as n from checks "
            "group by day, outcome, drift order by day"
        )
    ]


def rotten_citations(db: Database, *, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Citations of dead, then suspect, links: the claim, and what to read instead: the local
    capture and the web-archive snapshot nearest the article's date (``citations_view``); and
    how many citations there are of such links.

    The citations are chosen first (from the sources' status, then the citations of those URLs),
    so the view's nearest capture and snapshot are looked up for the rows shown only.

    Args:
        limit: at most this many citations.
    """
    rotten = ", ".join(f"'{status}'" for status in ROTTEN)
    # Sources first (the planner would walk every citation in article order instead).
    chosen = (
        f"select citations.id from {_SOURCE_STATUS} "
        "cross join citations on citations.url = sources.url "
        f"where sources.link_status in ({rotten})"
    )
    (total,) = db.execute(f"select count(*) from ({chosen})").fetchone()
    rows = db.query(
        "select cited.link_status, cited.article, cited.position, cited.claim, cited.url, "
        "cited.latest_outcome, "
        "(select max(checked_at) from checks where checks.url = cited.url) as last_checked, "
        "cited.capture_id, cited.captured_at, cited.memento_url, cited.memento_datetime, "
        "cited.memento_status from citations_view as cited "
        f"where cited.id in ({chosen} order by sources.link_status = 'suspect', "
        "citations.article_id, citations.position limit ?) "
        "order by cited.link_status = 'suspect', cited.article_id, cited.position",
        [limit],
    )
    return [dict(row) for row in rows], int(total)


def drifted_sources(db: Database, *, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Drifted sources with their latest check's similarity and drift, least similar first; one
    row per date the source is cited at, with the capture and snapshot nearest that date; and
    how many sources are drifted.

    Args:
        limit: the rows of at most this many sources.
    """
    (total,) = db.execute(
        f"select count(*) from {_SOURCE_STATUS} where link_status = 'drifted'"
    ).fetchone()
    rows = db.query(
        "select sources.url, sources.title, checks.similarity, checks.drift, "
        "checks.checked_at, cited.article_date, cited.capture_id, cited.captured_at, "
        "cited.memento_url, cited.memento_datetime, cited.memento_status "
        "from sources join checks on checks.id = "
        "(select id from checks where checks.url = sources.url "
        "order by checked_at desc, id desc limit 1) "
        "join citations_view as cited on cited.url = sources.url "
        "where sources.url in (select drifted.url "
        "from sources as drifted indexed by sources_status join checks on checks.id = "
        "(select id from checks where checks.url = drifted.url "
        "order by checked_at desc, id desc limit 1) where drifted.link_status = 'drifted' "
        "order by checks.similarity, drifted.url limit ?) "
        "group by sources.url, cited.article_date "
        "order by checks.similarity, sources.url, cited.article_date",
        [limit],
    )
    return [dict(row) for row in rows], int(total)
