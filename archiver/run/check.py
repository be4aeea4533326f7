"""``archiver check``: revisit every cited URL, record its state now, keep what changed.

The check runs on the archive's coordinator (``engine.fetch_urls``: URLs grouped by host, one
chunk of a host in flight at a time on any ``concurrent.futures.Executor``, one transaction per
chunk, so a killed run keeps what it saved) and the revisit worker that ``archive --refresh``
uses too (``revisit.py``: the fetcher's politeness, robots and private-address guard, one set of
rules for the verdict). The URLs stream from SQLite (``check_frontier``): the coordinator holds
those of the hosts in flight, so its memory does not grow with the archive (issue 14).

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
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from archiver.run.engine import Frontier, Policy, RunStats, fetch_urls, revisit_job
from archiver.run.revisit import POOL_AFTER, RevisitConfig, UrlJob, UrlResult
from archiver.store import (
    dead_links,
    frontier_hosts,
    frontier_urls,
    open_frontier,
    status_counts,
)

__all__ = [
    "Frontier",
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
) -> Frontier:
    """The distinct cited URLs to check, host by host, read from the archive as the run goes.

    The URLs are counted now and kept in a temporary table of ``db``'s connection
    (``store.frontier``); a host's URLs and what the archive knows of each (``revisit_job``)
    are read when the run starts the host. Hosts come in the order their first URL is cited,
    a host's URLs in citation order.

    Args:
        article_ids: only URLs these articles cite; every article when None.
        older_than: only URLs not checked within this long before ``now``.
    """
    cutoff = None
    if older_than is not None:
        moment = (now or datetime.now(UTC)) - older_than
        cutoff = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    size = open_frontier(db, article_ids=article_ids, checked_before=cutoff)

    def hosts() -> Iterator[tuple[str, Iterator[UrlJob]]]:
        for host in frontier_hosts(db):
            yield host, (revisit_job(db, url) for url in frontier_urls(db, host))

    return Frontier(size, hosts, revisit=True)


def check_urls(
    db: Database,
    frontier: Frontier,
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
    """Check every URL of the frontier, host by host in parallel, saving each chunk as it
    finishes.

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
        frontier,
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
