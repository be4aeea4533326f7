"""One archive run: ingest the given articles, then fetch what they cite.

The CLI's ``archive`` command is a thin shell around ``ingest_sources``, then
``pipeline.frontier`` and ``pipeline.archive_urls``; other front ends (a scheduler, a notebook)
can call the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sqlite_utils import Database

from archiver.errors import ArticleError
from archiver.ingest.article import load_article
from archiver.net.fetch import FetchConfig
from archiver.run.archive import RunStats
from archiver.store import save_article

LOGGER = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What ingesting the SOURCE arguments gave: one row per article, one per failure."""

    articles: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    usage_error: bool = False  # a failure the command line itself caused (exit code 2)

    @property
    def article_ids(self) -> list[int]:
        return [int(row["article_id"]) for row in self.articles]


def ingest_sources(
    db: Database,
    sources: Iterable[str],
    *,
    stdin: BinaryIO | None = None,
    fetch_config: FetchConfig | None = None,
    on_error: Callable[[str, ArticleError], None] | None = None,
) -> IngestReport:
    """Load and save each source; a bad one is reported and the others go on.

    Each article is saved in its own transaction, so a failure never touches what is stored.
    """
    report = IngestReport()
    for source in sources:
        try:
            article = load_article(source, stdin=stdin, fetch_config=fetch_config)
        except ArticleError as error:
            report.usage_error = report.usage_error or error.usage
            report.errors.append({"source": source, "error": error.message})
            if on_error is not None:
                on_error(source, error)
            continue
        saved = save_article(db, article)
        report.articles.append(
            {
                "source": source,
                "article_id": saved.article_id,
                "title": article.title,
                "author": article.author,
                "publisher": article.publisher,
                "published": article.published,
                "created": saved.created,
                "citations": saved.citations,
                "unresolved": saved.unresolved,
                "urls": saved.urls,
            }
        )
    return report


def fetch_summary(stats: RunStats) -> dict[str, Any]:
    """The fetch part of ``archive --json``."""
    return {
        "urls": stats.urls,
        "done": stats.done,
        "outcomes": dict(sorted(stats.outcomes.items())),
        "unchanged": stats.unchanged,
        "interrupted": stats.interrupted,
        "internal_errors": stats.errors,
    }
