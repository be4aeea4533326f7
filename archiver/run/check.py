"""``archiver check``: revisit every cited URL, record its state now, keep what changed.

The check runs in the shape of the archive pipeline: URLs grouped by host, one chunk of a host
in flight at a time on any ``concurrent.futures.Executor`` (the worker, ``revisit.check_host``,
fetches with the archive's fetcher, politeness, robots and private-address guard, and writes its
process's WARC files), and this coordinator alone writes SQLite, one transaction per chunk, so a
killed run keeps what it saved.

Where the texts live: ``sources.text`` stays the text the claim was archived from (what
``archive`` extracted; a check fills it only for a URL that was never archived). Each later
version found by a check is a row of ``capture_texts``, keyed by its capture; the first check of a
URL also copies ``sources.text`` there for the archive's own capture, so every version is a row
even after ``archive --refresh`` replaces ``sources.text``.

After each chunk, ``sources.latest_outcome`` and ``sources.link_status`` are recomputed from the
URL's check history (``rot.link_status``); one failed check never makes a link dead.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from archiver.capture.warc import recover_open_files
from archiver.errors import StorageError
from archiver.evidence.find import Evidence, claims_citing, for_capture, save_evidence
from archiver.publish.report import dead_links, status_counts
from archiver.run.archive import CAPTURED
from archiver.run.engine import chunk_by_host, run_host_chunks
from archiver.run.revisit import POOL_AFTER, CheckConfig, CheckJob, CheckResult, check_host
from archiver.run.workers import Extraction, close_writers
from archiver.store import capture_row, keep_archived_texts, link_status_of

LOGGER = logging.getLogger(__name__)

__all__ = [
    "CheckConfig",
    "CheckJob",
    "CheckResult",
    "CheckStats",
    "check_frontier",
    "check_summary",
    "check_urls",
    "parse_duration",
    "save_check_results",
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


def now_iso(moment: datetime | None = None) -> str:
    """``2026-11-28T17:46:23Z``, the format of the fetcher's timestamps."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class CheckStats:
    """Counts for the progress bar and the summary."""

    urls: int = 0
    done: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    drift: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    captured: int = 0  # new snapshots kept
    extracted: int = 0  # checks that needed the extractor
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    #: WARC records could not be written: the run stopped there (what was saved is kept).
    storage_error: StorageError | None = None


# -- which URLs ---------------------------------------------------------------------------------


def check_frontier(
    db: Database,
    *,
    article_ids: Iterable[int] | None = None,
    older_than: timedelta | None = None,
    now: datetime | None = None,
) -> list[CheckJob]:
    """The distinct cited URLs to check, in citation order, without their texts.

    Args:
        article_ids: only URLs these articles cite; every article when None.
        older_than: only URLs not checked within this long before ``now``.
    """
    ids = list(article_ids or [])
    where, params = "url is not null", list[Any]()
    if ids:
        where += f" and article_id in ({', '.join('?' for _ in ids)})"
        params += ids
    urls = [
        row["url"]
        for row in db.query(
            f"select url from citations where {where} group by url order by min(id)", params
        )
    ]
    if older_than is not None:
        cutoff = now_iso((now or datetime.now(UTC)) - older_than)
        recent = {
            row["url"]
            for row in db.query(
                "select url from checks group by url having max(checked_at) > ?", [cutoff]
            )
        }
        urls = [url for url in urls if url not in recent]
    return [_job(db, url) for url in urls]


def _job(db: Database, url: str) -> CheckJob:
    capture = next(
        db.query(
            "select captures.id, captures.etag, captures.last_modified, "
            "captures.payload_sha256, checks.similarity, "
            "checks.drift, checks.error, checks.id is not null as by_check from captures "
            "left join checks on checks.capture_id = captures.id "
            "where captures.url = ? and captures.outcome in ('ok', 'redirected') "
            "order by captures.id desc limit 1",
            [url],
        ),
        None,
    )
    last = next(
        db.query(
            "select outcome, payload_sha256, similarity, drift, error from checks where url = ? "
            "order by checked_at desc, id desc limit 1",
            [url],
        ),
        None,
    )
    has_text = bool(
        db.execute("select 1 from sources where url = ? and text is not null", [url]).fetchone()
    )
    # A check that answered but could not tell whether the page is there (an ``ok`` with a note
    # in ``error``, such as an app shell) did not find the body to be the page: look again.
    known: list[tuple[str | None, float | None, str | None, bool]] = []
    if capture is not None:
        digest = capture["payload_sha256"]
        if capture["by_check"]:
            found = capture["error"] is None
            known.append((digest, capture["similarity"], capture["drift"], found))
        elif has_text:  # the archive's own capture: its text is sources.text itself
            known.append((digest, 1.0, "unchanged", False))
        else:
            known.append((digest, None, None, False))
    answered = last is not None and last["outcome"] in CAPTURED
    if last is not None and answered and last["payload_sha256"]:
        found = last["error"] is None
        known.append((last["payload_sha256"], last["similarity"], last["drift"], found))
    conditional = last is None or (answered and last["error"] is None)
    return CheckJob(
        url=url,
        capture_id=capture["id"] if capture else None,
        etag=capture["etag"] if capture and conditional else None,
        last_modified=capture["last_modified"] if capture and conditional else None,
        known=tuple(known),
        has_cited_text=has_text,
    )


def _with_texts(db: Database, job: CheckJob) -> CheckJob:
    cited = db.execute("select text from sources where url = ?", [job.url]).fetchone()
    current = None
    if job.capture_id is not None:
        current = db.execute(
            "select text from capture_texts where capture_id = ?", [job.capture_id]
        ).fetchone()
    cited_text = cited[0] if cited else None
    return replace(job, cited_text=cited_text, capture_text=current[0] if current else cited_text)


# -- the coordinator ----------------------------------------------------------------------------


def save_check_results(
    db: Database,
    results: list[CheckResult],
    *,
    now: datetime | None = None,
    min_failures: int = 3,
    min_days: float = 3.0,
) -> None:
    """Write one chunk's checks and new captures, then each source's status, in one transaction.

    Args:
        now: the clock; when given, it is also the checks' ``checked_at`` (tests inject days).
    """
    checked_at = now_iso(now) if now is not None else None
    moment = now or datetime.now(UTC)
    found: list[tuple[dict[str, Any], Evidence]] = []  # the claims against new captures
    with db.atomic():
        for result in results:
            capture_id = None
            source: dict[str, Any] = {"url": result.url}
            if result.capture is not None:
                capture_id = db.table("captures").insert(capture_row(db, result.capture)).last_pk
                db.table("capture_texts").insert(
                    {"capture_id": capture_id, "url": result.url, "text": result.text}
                )
                found += for_capture(result.url, capture_id, result.evidence or ())
                source["last_captured"] = result.capture["captured_at"]
                if result.extracted is not None:
                    source |= result.extracted | {"final_url": result.capture["final_url"]}
            row = result.check | {"capture_id": capture_id}
            if checked_at is not None:
                row["checked_at"] = checked_at
            db.execute(
                f"insert into checks ({', '.join(row)}) values ({', '.join('?' for _ in row)})",
                list(row.values()),
            )
            source["latest_outcome"] = result.outcome
            source["link_status"] = link_status_of(
                db, result.url, now=moment, min_failures=min_failures, min_days=min_days
            )
            # Rewriting a row rewrites its whole text: leave unchanged sources alone. (Read
            # through the sources_status index, which holds both columns.)
            stored = db.execute(
                "select latest_outcome, link_status from sources where url = ?", [result.url]
            ).fetchone()
            status = (source["latest_outcome"], source["link_status"])
            if stored is None or len(source) > 3:
                db.table("sources").upsert(source, pk="url")
            elif tuple(stored) != status:
                db.execute(
                    "update sources set latest_outcome = ?, link_status = ? where url = ?",
                    [*status, result.url],
                )
            if "last_captured" in source:
                db.execute(
                    "update sources set first_captured = ? "
                    "where url = ? and first_captured is null",
                    [source["last_captured"], result.url],
                )
        save_evidence(db, found)


def check_urls(
    db: Database,
    jobs: list[CheckJob],
    *,
    config: CheckConfig,
    warc_dir: Path,
    executor: Executor | None = None,
    on_fetched: Callable[[str], None] | None = None,
    on_result: Callable[[CheckResult, CheckStats], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    min_failures: int = 3,
    min_days: float = 3.0,
) -> CheckStats:
    """Check every job, host by host in parallel, saving each chunk as it finishes.

    A host's next chunk is submitted as soon as its previous one is done (before saving it), so
    the host never waits for SQLite; it still has one chunk in flight. Ctrl-C stops submitting,
    keeps what was saved and marks the stats ``interrupted``. So does a failure to write WARC
    records, which the stats keep as ``storage_error``.

    Args:
        executor: where ``check_host`` runs; a thread pool of ``config.fetch.concurrency`` if None.
        on_fetched: called with each URL as soon as it is fetched (progress bars): from the
            checking threads when they are this process's (so it must be thread-safe), else
            when its chunk comes back.
        on_result: called after each URL's result is saved.
        clock: "now" for ``checked_at`` and the link status (tests inject it); real time if None.
        min_failures, min_days: the rule for ``dead`` (``rot.link_status``).
    """
    stats = CheckStats(urls=len(jobs))
    if not jobs:
        return stats
    recover_open_files(warc_dir)
    keep_archived_texts(db)
    pool = executor or ThreadPoolExecutor(max_workers=config.fetch.concurrency)
    # Processes are local only; a check extracts only pages that changed, so start them late.
    extraction = Extraction(after=POOL_AFTER) if executor is None else None

    def submit(chunk: list[CheckJob]) -> Future[list[CheckResult]]:
        claims = claims_citing(db, [job.url for job in chunk])
        chunk = [replace(_with_texts(db, job), claims=tuple(claims[job.url])) for job in chunk]
        return pool.submit(
            check_host,
            chunk,
            config,
            str(warc_dir),
            extraction=extraction,
            on_fetched=on_fetched if executor is None else None,
        )

    def save(results: list[CheckResult]) -> None:
        save_check_results(
            db,
            results,
            now=clock() if clock is not None else None,
            min_failures=min_failures,
            min_days=min_days,
        )
        for result in results:
            if executor is not None and on_fetched is not None:  # fetched elsewhere: reported now
                on_fetched(result.url)
            stats.done += 1
            stats.outcomes[result.outcome] += 1
            stats.drift[result.check["drift"] or "none"] += 1
            stats.captured += result.capture is not None
            stats.extracted += result.extracted_now
            if on_result is not None:
                on_result(result, stats)

    chunks = chunk_by_host(jobs, lambda job: job.url, size=CHUNK_SIZE)
    run = run_host_chunks(chunks, submit=submit, on_done=save)
    stats.interrupted, stats.errors = run.interrupted, run.errors
    stats.storage_error = run.storage_error
    pool.shutdown(wait=not run.interrupted, cancel_futures=True)
    if extraction is not None:
        extraction.shutdown()
    if not run.interrupted:
        try:
            close_writers()
        except StorageError as error:  # the folder went away after the last write
            stats.storage_error = stats.storage_error or error
    return stats


# -- what the archive now says ------------------------------------------------------------------


def check_summary(
    stats: CheckStats, db: Database, article_ids: Iterable[int] | None
) -> dict[str, Any]:
    """The document ``check --json`` prints."""
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
