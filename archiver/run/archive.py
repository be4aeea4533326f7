"""``archiver archive``'s fetch stage: which cited URLs to fetch, and fetching them.

A URL never captured (or whose text could not be extracted) is captured; with ``--refresh`` a
captured URL is fetched again by the revisit worker that ``check`` uses (``revisit.py``), so a
refresh and a check give the same verdict for the same answer. The coordinator is
``engine.fetch_urls``; this module says what an archive run asks of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from pathlib import Path

from sqlite_utils import Database

from archiver.net.fetch import FetchConfig
from archiver.run.engine import Frontier, Policy, RunStats, fetch_urls, revisit_job
from archiver.run.revisit import RevisitConfig, UrlJob, UrlResult
from archiver.run.workers import PROCESS_EXTRACTION_AFTER
from archiver.store import cited_urls

__all__ = ["RunStats", "UrlJob", "UrlResult", "archive_urls", "frontier"]


def frontier(db: Database, *, article_ids: Iterable[int], refresh: bool = False) -> list[UrlJob]:
    """Distinct cited URLs of the articles that need fetching, in citation order.

    Without ``refresh``: URLs with no successful capture yet (failed ones are tried again, and
    so are captures whose text could not be extracted).
    With ``refresh``: every URL; the captured ones as revisits, carrying what the archive knows
    of them (validators, the payloads seen and what was found of each).
    """
    ids = list(article_ids)
    if not ids:
        return []
    jobs = []
    for url in cited_urls(db, ids):
        known = revisit_job(db, url)
        if known.last is None or known.last.text_missing:
            jobs.append(UrlJob(url))
        elif refresh:
            jobs.append(known)
    return jobs


def archive_urls(
    db: Database,
    jobs: list[UrlJob],
    *,
    config: FetchConfig,
    warc_dir: Path,
    executor: Executor | None = None,
    on_fetched: Callable[[str], None] | None = None,
    on_result: Callable[[UrlResult, RunStats], None] | None = None,
) -> RunStats:
    """Fetch every job, host by host in parallel, and record the results as they come.

    Args:
        executor: where the hosts' chunks run; a thread pool of ``config.concurrency`` if None.
        on_fetched: called with each URL as soon as it is fetched (``engine.fetch_urls``).
        on_result: called after each URL's result is saved.
    """
    # Many pages: extraction workers from the first page, so the coordinator never grows by the
    # lxml trees of inline extractions; few: inline, no process start-up.
    many = len(jobs) >= PROCESS_EXTRACTION_AFTER
    urls = Frontier.of(jobs)
    return fetch_urls(
        db,
        urls,
        config=RevisitConfig(config, refresh=urls.revisit),
        warc_dir=warc_dir,
        policy=Policy(extraction_after=1 if many else None),
        executor=executor,
        on_fetched=on_fetched,
        on_result=on_result,
    )
