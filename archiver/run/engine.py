"""Run per-host chunks of work on an Executor, and the one coordinator of archive and check.

The archive pipeline and the link checker both fetch many URLs over many hosts: hosts go in
parallel, a host's URLs go in series (the fetcher's throttle keeps the delay between them), and
the coordinator (``fetch_urls``) alone writes SQLite, one short transaction per finished chunk,
so a killed run loses at most the chunks in flight and a rerun picks up the rest.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlite_utils import Database

from archiver.capture.warc import recover_open_files
from archiver.errors import StorageError
from archiver.run.memory import release_free_memory
from archiver.run.revisit import RevisitConfig, UrlJob, UrlResult, fetch_host, revisit_host
from archiver.run.workers import Extraction, close_writers
from archiver.store import (
    claims_citing,
    keep_archived_texts,
    last_capture,
    save_url_rows,
    texts_of,
)

LOGGER = logging.getLogger(__name__)

#: URLs of one host handed to a worker at a time: small enough that a kill loses little.
CHUNK_SIZE = 8
#: Seconds between two looks at the Ctrl-C flag while the coordinator waits for chunks.
CTRL_C_POLL = 0.1

Job = TypeVar("Job")
Result = TypeVar("Result")


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def chunk_by_host(
    jobs: Sequence[Job], url_of: Callable[[Job], str], size: int = CHUNK_SIZE
) -> dict[str, deque[list[Job]]]:
    """Jobs grouped by host, in order, cut into chunks of ``size``."""
    by_host: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        by_host[host_of(url_of(job))].append(job)
    return {
        host: deque(items[i : i + size] for i in range(0, len(items), size))
        for host, items in by_host.items()
    }


@dataclass
class HostRun:
    """How a run of chunks ended."""

    interrupted: bool = False
    errors: list[str] = field(default_factory=list)
    #: The first failure to write WARC records, which stopped the run.
    storage_error: StorageError | None = None


def run_host_chunks(
    chunks: dict[str, deque[list[Job]]],
    *,
    submit: Callable[[list[Job]], Future[list[Result]]],
    on_done: Callable[[list[Result]], None],
    settle: Callable[[list[Result]], Future[list[Result]]] | None = None,
) -> HostRun:
    """Submit each host's chunks one after another and hand every finished chunk to ``on_done``.

    A host's next chunk is submitted as soon as the host's work on the last one is done: before
    that chunk is saved, so no host waits for SQLite, and before what ``settle`` waits for (work
    the host handed on, such as extraction in worker processes), so no host waits for the
    extraction backlog either. A chunk that raises is logged and counted, the others go on.
    Ctrl-C stops submitting, cancels what has not started and marks the run ``interrupted``.
    A ``StorageError`` does the same, since every later chunk would fail alike, but waits for
    the chunks already running and saves those that succeed; it becomes ``storage_error``.

    Args:
        settle: given a host's results, a future of the results ready to save; None: ready.
    """
    run = HostRun()
    running: dict[Future[list[Result]], str] = {}
    settling: dict[Future[list[Result]], str] = {}

    def next_chunk(host: str) -> None:
        if chunks[host]:
            running[submit(chunks[host].popleft())] = host

    def stop(error: StorageError) -> None:
        run.storage_error = run.storage_error or error
        for queue in chunks.values():
            queue.clear()
        for future in [future for future in running if future.cancel()]:
            del running[future]

    def outcome(future: Future[list[Result]], host: str) -> list[Result] | None:
        try:
            return future.result()
        except StorageError as error:  # the disk, not the chunk: the user is told once, at the end
            stop(error)
            return None
        except Exception as error:  # a bug in one chunk must not lose the others
            LOGGER.exception("work on %s failed", host)
            run.errors.append(f"{host}: {error}")
            return None

    with ctrl_c_pressed() as ctrl_c:
        for host in chunks:
            next_chunk(host)
        while running or settling:
            done, _ = wait([*running, *settling], timeout=CTRL_C_POLL, return_when=FIRST_COMPLETED)
            if ctrl_c.pressed:
                run.interrupted = True
                for future in running:
                    future.cancel()
                break
            for future in done:
                if future in settling:
                    results = outcome(future, settling.pop(future))
                else:
                    host = running.pop(future)
                    results = outcome(future, host)
                    next_chunk(host)
                    if results is not None and settle is not None:
                        settling[settle(results)] = host
                        continue
                if results is not None:
                    on_done(results)
    return run


@dataclass
class CtrlC:
    """Whether Ctrl-C was pressed: a plain attribute, so the signal handler takes no lock."""

    pressed: bool = False


@contextmanager
def ctrl_c_pressed() -> Iterator[CtrlC]:
    """While the block runs, Ctrl-C sets ``pressed`` instead of raising KeyboardInterrupt.

    A KeyboardInterrupt lands wherever the main thread happens to be: inside
    ``concurrent.futures.wait``, which takes its futures' locks one by one, it can leave some of
    them held, and the run then hangs at shutdown (seen on a busy machine). The coordinator
    looks at the flag between waits instead. Outside the main thread signals are not ours to
    catch, and nothing changes.
    """
    ctrl_c = CtrlC()
    if threading.current_thread() is not threading.main_thread():
        yield ctrl_c
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        ctrl_c.pressed = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield ctrl_c
    finally:
        signal.signal(signal.SIGINT, previous)


def when_all_done(futures: Sequence[Future[Any]], then: Callable[[], Result]) -> Future[Result]:
    """A future of ``then()``, called once every one of ``futures`` is done (however it ended).

    Nothing blocks: ``then`` runs in the thread that completes the last future. An exception
    it raises becomes the future's. When one of ``futures`` was cancelled (Ctrl-C cancels the
    extractions still queued), nothing failed and nothing is finished: ``then`` is not called
    and the future is cancelled as well, so a chunk is not saved and a rerun does it again.
    """
    combined: Future[Result] = Future()
    left = len(futures)
    lock = threading.Lock()

    def finish() -> None:
        if any(future.cancelled() for future in futures):
            combined.cancel()
        elif combined.set_running_or_notify_cancel():  # from here it cannot be cancelled half-way
            try:
                combined.set_result(then())
            except Exception as error:
                combined.set_exception(error)

    def one_done(_: Future[Any]) -> None:
        nonlocal left
        with lock:
            left -= 1
            if left:
                return
        finish()

    if not futures:
        finish()
    for future in futures:
        future.add_done_callback(one_done)
    return combined


# -- the coordinator -----------------------------------------------------------------------------


@dataclass
class RunStats:
    """Counts for the progress bar and the summaries of archive and check."""

    urls: int = 0
    done: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    drift: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unchanged: int = 0  # revisits that learnt nothing new: no capture
    captured: int = 0  # new snapshots kept by revisits
    extracted: int = 0  # revisits that needed the extractor
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    #: WARC records could not be written: the run stopped there (what was saved is kept).
    storage_error: StorageError | None = None

    def count(self, result: UrlResult) -> None:
        """Add one saved result."""
        self.done += 1
        self.outcomes[result.outcome] += 1
        if result.check is not None:
            self.drift[result.check.drift or "none"] += 1
            self.unchanged += result.capture is None
            self.captured += result.capture is not None
            self.extracted += result.extracted_now


@dataclass(frozen=True)
class Policy:
    """How a command runs its jobs: chunk size, when extraction moves to processes, the rule
    for ``dead``, and the clock (tests inject days)."""

    chunk_size: int = CHUNK_SIZE
    #: Extractions done inline before worker processes start; None: always inline.
    extraction_after: int | None = None
    clock: Callable[[], datetime] | None = None
    min_failures: int = 3
    min_days: float = 3.0


def fetch_urls(
    db: Database,
    jobs: list[UrlJob],
    *,
    config: RevisitConfig,
    warc_dir: Path,
    policy: Policy | None = None,
    executor: Executor | None = None,
    on_fetched: Callable[[str], None] | None = None,
    on_result: Callable[[UrlResult, RunStats], None] | None = None,
) -> RunStats:
    """Fetch every job, host by host in parallel, and save each chunk as it finishes.

    A host's next chunk is submitted as soon as its previous one is fetched (before saving it,
    and before its extractions are done), so the host never waits for SQLite or the extraction
    backlog; it still has one chunk in flight. Ctrl-C stops submitting, keeps what was saved and
    marks the stats ``interrupted``. So does a failure to write WARC records, which the stats
    keep as ``storage_error``.

    Args:
        config: the run's options (``refresh`` for ``archive --refresh``).
        policy: chunk size, extraction, link-status rule and clock; the defaults if None.
        executor: where ``revisit_host`` runs; a thread pool of ``config.fetch.concurrency``
            if None.
        on_fetched: called with each URL as soon as it is fetched (progress bars): from the
            fetching threads when they are this process's (so it must be thread-safe), else
            when its chunk comes back.
        on_result: called after each URL's result is saved.
    """
    rules = policy or Policy()
    stats = RunStats(urls=len(jobs))
    if not jobs:
        return stats
    recover_open_files(warc_dir)
    # Later versions are rows of capture_texts: the archived text must be one before any is
    # added, or replaced by a refresh (a killed run's at the next).
    revisits = any(job.revisit for job in jobs)
    if revisits:
        keep_archived_texts(db)
    pool = executor or ThreadPoolExecutor(max_workers=config.fetch.concurrency)
    # Processes are local only.
    extraction = Extraction(after=rules.extraction_after) if executor is None else None

    def submit(chunk: list[UrlJob]) -> Future[list[UrlResult]]:
        claims = claims_citing(db, [job.url for job in chunk])
        chunk = [_with_texts(db, replace(job, claims=tuple(claims[job.url]))) for job in chunk]
        if extraction is not None:  # threads of this process: extraction goes on after them
            return pool.submit(fetch_host, chunk, config, str(warc_dir), extraction, on_fetched)
        return pool.submit(revisit_host, chunk, config, str(warc_dir))

    def save(results: list[UrlResult]) -> None:
        save_url_rows(
            db,
            results,
            now=rules.clock() if rules.clock is not None else None,
            min_failures=rules.min_failures,
            min_days=rules.min_days,
        )
        if any(result.capture is not None for result in results):
            release_free_memory()  # the chunk's bodies and rows are gone; keep RSS near the heap
        for result in results:
            if executor is not None and on_fetched is not None:  # fetched elsewhere: reported now
                on_fetched(result.url)
            stats.count(result)
            if on_result is not None:
                on_result(result, stats)

    run = run_host_chunks(
        chunk_by_host(jobs, lambda job: job.url, size=rules.chunk_size),
        submit=submit,
        on_done=save,
        settle=_settle if extraction is not None else None,
    )
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
    if config.refresh:
        keep_archived_texts(db)  # the refreshed versions, now that they are the sources' texts
    return stats


def revisit_job(db: Database, url: str) -> UrlJob:
    """A URL to fetch again, with what the archive knows of it (check, ``archive --refresh``)."""
    last, known, conditional = last_capture(db, url)
    return UrlJob(url, revisit=True, last=last, known=tuple(known), conditional=conditional)


def _with_texts(db: Database, job: UrlJob) -> UrlJob:
    """A revisit with the cited text and the last capture's, read just before it is sent."""
    if not job.revisit:
        return job
    cited, current = texts_of(db, job.url, job.last.id if job.last else None)
    return replace(job, cited_text=cited, capture_text=current)


def _settle(results: list[UrlResult]) -> Future[list[UrlResult]]:
    """The results of ``fetch_host``, finished, once all their extractions are done."""
    return when_all_done(
        [result.extraction for result in results if result.extraction is not None],
        lambda: [result.finish() for result in results],
    )
