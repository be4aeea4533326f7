"""What ``archiver export`` reads (issue 13): each citation with its source, evidence, local
capture and web-archive snapshot, the articles, the cited sources and the captures to package.

Every list is sorted on columns that identify its rows, so two exports of one archive read the
same rows in the same order. A citation's capture and snapshot are the ones ``citations_view``
shows (the local capture and the snapshot nearest the article's date), and its evidence the one
``evidence_view`` shows, so an export says what Datasette says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlite_utils import Database


@dataclass(frozen=True)
class ExportCitation:
    """One citation as the CSV and JSON exports give it (their columns, in this order), plus
    what the Robust Links HTML places it with (``context``, ``paragraph``, ``start``, ``end``,
    ``href_status``) and whether a local capture of it exists (``capture_id``)."""

    article_id: int
    article_title: str | None
    article_published: str | None
    position: int
    anchor_text: str | None
    href: str | None
    url: str | None
    claim: str | None
    source_title: str | None
    latest_outcome: str | None
    link_status: str | None
    evidence_label: str | None
    evidence_passage: str | None
    captured_at: str | None
    memento_url: str | None
    memento_datetime: str | None
    href_status: str | None
    context: str | None
    paragraph: int | None
    start: int | None
    end: int | None
    capture_id: int | None


#: The columns of the CSV and JSON exports: the citation's, not where the HTML places it.
EXPORT_COLUMNS = (
    "article_id",
    "article_title",
    "article_published",
    "position",
    "anchor_text",
    "href",
    "url",
    "claim",
    "source_title",
    "latest_outcome",
    "link_status",
    "evidence_label",
    "evidence_passage",
    "captured_at",
    "memento_url",
    "memento_datetime",
)


@dataclass(frozen=True)
class ExportArticle:
    """An article's metadata and main text (paragraphs separated by a blank line)."""

    id: int
    url: str | None
    path: str | None
    title: str | None
    author: str | None
    publisher: str | None
    published: str | None
    text: str | None


@dataclass(frozen=True)
class ExportSource:
    """A cited URL and what its capture said about it, for a CSL item."""

    url: str
    title: str | None
    author: str | None
    published: str | None
    sitename: str | None
    language: str | None
    first_captured: str | None


@dataclass(frozen=True)
class ExportCapture:
    """A capture whose records a WACZ package copies: its final response is at
    ``warc_offset`` of ``warc_path`` (relative to the archive's folder, see ``warc_file``)."""

    id: int
    url: str
    final_url: str | None
    captured_at: str
    outcome: str
    redirects: str | None
    warc_path: str
    warc_offset: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _only(article_ids: Iterable[int], column: str) -> tuple[str, list[int]]:
    """A ``where`` clause keeping the given articles (every article when there are none)."""
    ids = sorted(set(article_ids))
    if not ids:
        return "", []
    return f" where {column} in ({', '.join('?' for _ in ids)})", ids


def export_citations(db: Database, article_ids: Iterable[int] = ()) -> list[ExportCitation]:
    """Every citation of the articles (all when none given), by article and position."""
    where, ids = _only(article_ids, "citations.article_id")
    rows = db.query(
        f"""
        select
            citations.article_id, articles.title as article_title,
            articles.published as article_published, citations.position,
            citations.anchor_text, citations.href, citations.url, citations.claim,
            view.source_title, view.latest_outcome, view.link_status,
            evidence_view.label as evidence_label, evidence.passage as evidence_passage,
            view.captured_at, view.memento_url, view.memento_datetime,
            citations.href_status, citations.context, citations.paragraph,
            citations.start, citations."end", view.capture_id
        from citations
        join articles on articles.id = citations.article_id
        join citations_view as view on view.id = citations.id
        left join evidence_view on evidence_view.citation_id = citations.id
        left join evidence on evidence.citation_id = evidence_view.citation_id
            and evidence.capture_id = evidence_view.capture_id
        {where}
        order by citations.article_id, citations.position
        """,
        ids,
    )
    return [ExportCitation(**row) for row in rows]


def export_articles(db: Database, article_ids: Iterable[int] = ()) -> list[ExportArticle]:
    """The articles (all when none given), by id."""
    where, ids = _only(article_ids, "id")
    rows = db.query(
        "select id, url, path, title, author, publisher, published, text from articles"
        f"{where} order by id",
        ids,
    )
    return [ExportArticle(**row) for row in rows]


def export_sources(db: Database, article_ids: Iterable[int] = ()) -> list[ExportSource]:
    """Each URL the articles cite, once, with its ``sources`` row when it was fetched; by URL."""
    where, ids = _only(article_ids, "citations.article_id")
    rows = db.query(
        f"""
        select cited.url, sources.title, sources.author, sources.published, sources.sitename,
            sources.language, sources.first_captured
        from (
            select distinct citations.url from citations{where}
        ) as cited
        left join sources on sources.url = cited.url
        where cited.url is not null
        order by cited.url
        """,
        ids,
    )
    return [ExportSource(**row) for row in rows]


def export_captures(db: Database, article_ids: Iterable[int] = ()) -> list[ExportCapture]:
    """Every capture of a URL the articles cite that has WARC records, whatever its outcome
    (a 404 answer is evidence too); by URL, time and id."""
    where, ids = _only(article_ids, "citations.article_id")
    rows = db.query(
        f"""
        select id, url, final_url, captured_at, outcome, redirects, warc_path, warc_offset
        from captures
        where warc_path is not null and warc_offset is not null
          and url in (select citations.url from citations{where})
        order by url, captured_at, id
        """,
        ids,
    )
    return [ExportCapture(**row) for row in rows]
