"""Archive cited pages: which URLs to fetch, the per-host worker, and the single writer.

The fetch-and-extract stage is ``archive_host``, a plain function of a few URLs of one host that
returns row-shaped, picklable results, so any ``concurrent.futures.Executor`` can run it: local
threads by default, a Dask cluster's executor later. Workers write their own WARC files; only the
coordinator (``archive_urls``) writes SQLite, one short transaction per finished chunk, so a
killed run loses at most the chunks in flight and a rerun picks up the rest.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.util
import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlite_utils import Database

from archiver.db import save_results
from archiver.extract import Extracted, extract, read_extractable
from archiver.fetch import FetchConfig, fetch, make_session
from archiver.records import FetchResult
from archiver.robots import RobotsCache
from archiver.warc import RecordRef, WarcWriter, recover_open_files

LOGGER = logging.getLogger(__name__)

#: Outcomes that mean the page itself was captured.
CAPTURED = ("ok", "redirected")
#: URLs of one host handed to a worker at a time: small enough that a kill loses little.
CHUNK_SIZE = 8
#: Bodies above this are cut before extraction (kept until check.py uses read_extractable).
MAX_EXTRACT_BYTES = 20_000_000
#: After extracting a body this large, a worker returns freed memory to the system.
TRIM_AFTER_BYTES = 1_000_000
#: With fewer pages than this, extraction runs in the fetching threads (no process start-up).
PROCESS_EXTRACTION_MIN_PAGES = 40


@dataclass(frozen=True)
class UrlJob:
    """One URL to fetch, with what the last good capture knew (for conditional refresh)."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    payload_sha256: str | None = None
    record_id: str | None = None  # WARC-Record-ID of the last good response
    captured_at: str | None = None
    final_url: str | None = None


@dataclass
class UrlResult:
    """What happened to one URL, as rows: a new capture, or a check when nothing changed."""

    url: str
    outcome: str
    capture: dict[str, Any] | None = None
    check: dict[str, Any] | None = None
    extracted: dict[str, str | None] | None = None
    #: Extraction still running in a worker process; ``archive_host`` waits for it at the end.
    extraction: Future[Extracted] | None = field(default=None, repr=False, compare=False)

    def finish(self) -> UrlResult:
        """Wait for the extraction (if any) and keep its columns; picklable afterwards."""
        if self.extraction is not None:
            self.extracted = self.extraction.result().as_dict()
            self.extraction = None
        return self


@dataclass
class RunStats:
    """Counts for the progress bar and the summary."""

    urls: int = 0
    done: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False


# -- the frontier ---------------------------------------------------------------------------


def frontier(db: Database, *, article_ids: Iterable[int], refresh: bool = False) -> list[UrlJob]:
    """Distinct cited URLs of the articles that need fetching, in citation order.

    Without ``refresh``: URLs with no successful capture yet (failed ones are tried again).
    With ``refresh``: every URL, carrying the validators of its last good capture.
    """
    ids = list(article_ids)
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    urls = [
        row["url"]
        for row in db.query(
            f"select url from citations where url is not null and article_id in ({marks}) "
            f"group by url order by min(id)",
            ids,
        )
    ]
    last_good = {
        row["url"]: row
        for row in db.query(
            f"select url, etag, last_modified, payload_sha256, warc_record_id, captured_at, "
            f"final_url, max(id) from captures where outcome in ('ok', 'redirected') "
            f"and url in (select url from citations where article_id in ({marks})) group by url",
            ids,
        )
    }
    jobs = []
    for url in urls:
        good = last_good.get(url)
        if good is None:
            jobs.append(UrlJob(url))
        elif refresh:
            jobs.append(
                UrlJob(
                    url,
                    etag=good["etag"],
                    last_modified=good["last_modified"],
                    payload_sha256=good["payload_sha256"],
                    record_id=good["warc_record_id"],
                    captured_at=good["captured_at"],
                    final_url=good["final_url"],
                )
            )
    return jobs


# -- the worker -----------------------------------------------------------------------------

_local = threading.local()
_shared_lock = threading.Lock()
_writers: dict[str, WarcWriter] = {}
_robots: dict[FetchConfig, RobotsCache] = {}


def _session(config: FetchConfig) -> requests.Session:
    """One session per worker thread (requests sessions are not thread-safe)."""
    sessions: dict[FetchConfig, requests.Session] = _local.__dict__.setdefault("sessions", {})
    if config not in sessions:
        sessions[config] = make_session(config)
    return sessions[config]


def _writer(warc_dir: str) -> WarcWriter:
    """The WARC writer of this process for ``warc_dir``, shared by its threads."""
    with _shared_lock:
        writer = _writers.get(warc_dir)
        if writer is None or writer.closed:
            writer = _writers[warc_dir] = WarcWriter(Path(warc_dir))
            # Worker processes (a process pool, a Dask worker) never call close_writers(); close
            # the file when the process exits so its name stops ending in ".open".
            multiprocessing.util.Finalize(writer, writer.close, exitpriority=10)
        return writer


def _robots_cache(config: FetchConfig) -> RobotsCache:
    with _shared_lock:
        return _robots.setdefault(config, RobotsCache(config))


def close_writers() -> None:
    """Finish this process's WARC files (rename from ``.open``)."""
    with _shared_lock:
        for writer in _writers.values():
            writer.close()
        _writers.clear()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _extract_and_trim(body: bytes, **kwargs: Any) -> Extracted:
    """Extraction in a worker process; hands the memory of a big page back to the system.

    glibc keeps a worker at its high-water mark after a large lxml tree otherwise.
    """
    extracted = extract(body, **kwargs)
    if len(body) > TRIM_AFTER_BYTES:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
    return extracted


def start_extraction(result: FetchResult, pool: Executor | None = None) -> Future[Extracted]:
    """Extract a fetched body, in ``pool`` when given (the caller goes on fetching meanwhile)."""
    assert result.body is not None
    body = read_extractable(result.body, result.content_type)
    url = result.final_url or result.url
    kwargs: dict[str, Any] = {
        "content_type": result.content_type,
        "url": url,
        "charset": result.charset,
    }
    if pool is not None:
        return pool.submit(_extract_and_trim, body, **kwargs)
    done: Future[Extracted] = Future()
    done.set_result(extract(body, **kwargs))
    return done


def _unchanged_check(result: FetchResult) -> dict[str, Any]:
    return {
        "url": result.url,
        "checked_at": result.captured_at,
        "outcome": result.outcome,
        "status_code": result.status_code,
        "final_url": result.final_url,
        "similarity": 1.0,
        "drift": "unchanged",
        "error": None,
        "elapsed_ms": result.elapsed_ms,
    }


def _final_response(refs: list[RecordRef]) -> RecordRef | None:
    responses = [ref for ref in refs if ref.record_type in ("response", "revisit")]
    return responses[-1] if responses else None


def _archive_one(
    job: UrlJob, config: FetchConfig, writer: WarcWriter, pool: Executor | None
) -> UrlResult:
    result = fetch(
        job.url,
        session=_session(config),
        config=config,
        robots=None if config.ignore_robots else _robots_cache(config),
        etag=job.etag,
        last_modified=job.last_modified,
    )
    try:
        if result.status_code == 304:
            return UrlResult(job.url, result.outcome, check=_unchanged_check(result))
        captured = result.outcome in CAPTURED
        if captured and job.record_id and result.payload_sha256 == job.payload_sha256:
            writer.write_revisit(
                result,
                refers_to=job.record_id,
                refers_to_uri=job.final_url or job.url,
                refers_to_date=job.captured_at or result.captured_at,
            )
            return UrlResult(job.url, result.outcome, check=_unchanged_check(result))
        final = _final_response(writer.write_fetch(result))
        capture = result.as_row() | {
            "warc_path": str(final.path) if final else None,
            "warc_offset": final.offset if final else None,
            "warc_record_id": final.record_id if final else None,
        }
        done = UrlResult(job.url, result.outcome, capture=capture)
        if captured and result.body is not None:
            done.extraction = start_extraction(result, pool)
        return done
    finally:
        result.close()


def archive_host(
    jobs: list[UrlJob],
    config: FetchConfig,
    warc_dir: str,
    *,
    extract_pool: Executor | None = None,
) -> list[UrlResult]:
    """Fetch, preserve and extract URLs of one host, one after another.

    With ``extract_pool``, a page is extracted while the next one is fetched. Politeness (one
    request in flight per host, the delay, Retry-After) is kept by the fetcher's per-process
    host throttle; robots.txt is read once per site per process.

    Args:
        jobs: URLs of a single host.
        config: fetch options.
        warc_dir: where this process writes its WARC files.
        extract_pool: run extraction there (processes use the other cores); inline when None.

    Returns:
        One ``UrlResult`` per job, in order.
    """
    writer = _writer(warc_dir)
    started = [_archive_one(job, config, writer, extract_pool) for job in jobs]
    return [result.finish() for result in started]


# -- the coordinator ------------------------------------------------------------------------


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _chunks(jobs: list[UrlJob]) -> dict[str, deque[list[UrlJob]]]:
    by_host: dict[str, list[UrlJob]] = defaultdict(list)
    for job in jobs:
        by_host[host_of(job.url)].append(job)
    return {
        host: deque(urls[i : i + CHUNK_SIZE] for i in range(0, len(urls), CHUNK_SIZE))
        for host, urls in by_host.items()
    }


def _exit_with_parent(parent: int) -> None:
    """Extraction workers end when the archiver does, even after ``kill -9``.

    A pool's workers otherwise wait forever for work from a parent that is gone.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _extraction_pool(pages: int) -> ProcessPoolExecutor | None:
    """Processes for extraction when there are enough pages to pay for their start-up."""
    cores = os.cpu_count() or 1
    if pages < PROCESS_EXTRACTION_MIN_PAGES or cores < 2:
        return None
    return ProcessPoolExecutor(
        max_workers=cores,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


def archive_urls(
    db: Database,
    jobs: list[UrlJob],
    *,
    config: FetchConfig,
    warc_dir: Path,
    executor: Executor | None = None,
    on_result: Callable[[UrlResult, RunStats], None] | None = None,
) -> RunStats:
    """Fetch every job, host by host in parallel, and record the results as they come.

    Each host has at most one chunk in flight; the next is submitted when the previous one is
    saved. Ctrl-C stops submitting, keeps what was saved, and marks the stats ``interrupted``.

    Args:
        executor: where ``archive_host`` runs; a thread pool of ``config.concurrency`` if None.
        on_result: called after each URL's result is saved (progress bars).
    """
    stats = RunStats(urls=len(jobs))
    if not jobs:
        return stats
    recover_open_files(warc_dir)
    own_executor = executor is None
    pool = executor or ThreadPoolExecutor(max_workers=config.concurrency)
    extract_pool = _extraction_pool(len(jobs)) if own_executor else None
    queues = _chunks(jobs)
    running: dict[Future[list[UrlResult]], str] = {}

    def submit(host: str) -> None:
        if queues[host]:
            chunk = queues[host].popleft()
            future = pool.submit(
                archive_host, chunk, config, str(warc_dir), extract_pool=extract_pool
            )
            running[future] = host

    try:
        for host in queues:
            submit(host)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                host = running.pop(future)
                try:
                    results = future.result()
                except Exception as error:  # a bug in one chunk must not lose the others
                    LOGGER.exception("archiving %s failed", host)
                    stats.errors.append(f"{host}: {error}")
                    results = []
                save_results(db, results)
                for result in results:
                    stats.done += 1
                    stats.outcomes[result.outcome] += 1
                    stats.unchanged += result.check is not None
                    if on_result is not None:
                        on_result(result, stats)
                submit(host)
    except KeyboardInterrupt:
        stats.interrupted = True
        for future in running:
            future.cancel()
    finally:
        pool.shutdown(wait=not stats.interrupted, cancel_futures=True)
        if extract_pool is not None:
            extract_pool.shutdown(wait=True, cancel_futures=True)  # seconds at most
        if not stats.interrupted:
            close_writers()
    return stats
