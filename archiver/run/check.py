"""``archiver check``: revisit every cited URL, record its state now, keep what changed.

The check runs on the archive's coordinator (``engine.fetch_urls``: URLs grouped by host, one
chunk of a host in flight at a time on any ``concurrent.futures.Executor``, one transaction per
chunk, so a killed run keeps what it saved) and the revisit worker that ``archive --refresh``
uses too (``revisit.py``: the fetcher's politeness, robots and private-address guard, one set of
rules for the verdict).

Where the texts live: ``sources.text`` stays the text the claim was archived from (what
``archive`` extracted; a check fills it only for a URL that was never archived). Each later
version found by a check is a row of ``capture_texts``, keyed by its capture; the first check of a
URL also copies ``sources.text`` there for the archive's own capture, so every version is a row
even after ``archive --refresh`` replaces ``sources.text``.

After each chunk, ``sources.latest_outcome`` and ``sources.link_status`` are recomputed from the
URL's check history (``linkrot.verdicts.link_status``); one failed check never makes a link dead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from archiver.run.engine import Policy, RunStats, fetch_urls, revisit_job
from archiver.run.revisit import POOL_AFTER, RevisitConfig, UrlJob, UrlResult
from archiver.store import checked_since, cited_urls, dead_links, status_counts

__all__ = [
    "RevisitConfig",
    "RunStats",
    "UrlJob",
    "UrlResult",
    "check_frontier",
    "check_summary",
    "check_urls",
    "parse_duration",
]

#: URLs of one host per chunk: a check is cheap, so larger than the archive's chunks.
CHUNK_SIZE = 16
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.I)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``, ``2w`` (or seconds, ``90s``) as a timedelta.

    Raises:
        ValueError: for anything else.
    """
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 12h, 7d, 2w)")
    return timedelta(**{_UNITS[match.group(2).lower()]: float(match.group(1))})


def check_frontier(
    db: Database,
    *,
    article_ids: Iterable[int] | None = None,
    older_than: timedelta | None = None,
    now: datetime | None = None,
) -> list[UrlJob]:
    """The distinct cited URLs to check, in citation order, without their texts.

    Args:
        article_ids: only URLs these articles cite; every article when None.
        older_than: only URLs not checked within this long before ``now``.
    """
    urls = cited_urls(db, article_ids)
    if older_than is not None:
        cutoff = (now or datetime.now(UTC)) - older_than
        recent = checked_since(db, cutoff.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        urls = [url for url in urls if url not in recent]
    return [revisit_job(db, url) for url in urls]


def check_urls(
    db: Database,
    jobs: list[UrlJob],
    *,
    config: RevisitConfig,
    warc_dir: Path,
    executor: Executor | None = None,
    on_fetched: Callable[[str], None] | None = None,
    on_result: Callable[[UrlResult, RunStats], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    min_failures: int = 3,
    min_days: float = 3.0,
) -> RunStats:
    """Check every job, host by host in parallel, saving each chunk as it finishes.

    Args:
        executor: where the hosts' chunks run; a thread pool of ``config.fetch.concurrency``
            if None.
        on_fetched: called with each URL as soon as it is fetched (``engine.fetch_urls``).
        on_result: called after each URL's result is saved.
        clock: "now" for ``checked_at`` and the link status (tests inject it); real time if None.
        min_failures, min_days: the rule for ``dead`` (``linkrot.verdicts.link_status``).
    """
    # A check extracts only pages that changed, so extraction processes start late.
    policy = Policy(CHUNK_SIZE, POOL_AFTER, clock, min_failures, min_days)
    return fetch_urls(
        db,
        jobs,
        config=config,
        warc_dir=warc_dir,
        policy=policy,
        executor=executor,
        on_fetched=on_fetched,
        on_result=on_result,
    )


def check_summary(
    stats: RunStats, db: Database, article_ids: Iterable[int] | None
) -> dict[str, Any]:
    """The document ``check --json`` prints: this run's counts, and what the archive now says."""
    ids = list(article_ids or [])
    return {
        "urls": stats.urls,
        "done": stats.done,
        "outcomes": dict(sorted(stats.outcomes.items())),
        "drift": dict(sorted(stats.drift.items())),
        "captured": stats.captured,
        "extracted": stats.extracted,
        "link_status": dict(sorted(status_counts(db, article_ids=ids).items())),
        "dead": dead_links(db, article_ids=ids),
        "interrupted": stats.interrupted,
        "internal_errors": stats.errors,
    }
