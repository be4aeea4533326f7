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
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    Executor,
    Future,
    ThreadPoolExecutor,
    wait,
)
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from sqlite_utils import Database

from archiver.capture.warc import recover_open_files
from archiver.errors import StorageError
from archiver.net.politeness import HostPace
from archiver.run.memory import release_free_memory
from archiver.run.revisit import RevisitConfig, UrlJob, UrlResult, fetch_host, revisit_host
from archiver.run.workers import Extraction, close_writers
from archiver.store import (
    claims_citing,
    keep_archived_texts,
    last_capture,
    save_url_rows,
    texts_of,
    url_host,
)

LOGGER = logging.getLogger(__name__)

#: URLs of one host handed to a worker at a time: small enough that a kill loses little.
CHUNK_SIZE = 8
#: Seconds between two looks at the Ctrl-C flag while the coordinator waits for chunks.
CTRL_C_POLL = 0.1

Job = TypeVar("Job")
Result = TypeVar("Result")


#: Hosts with a chunk in flight per worker: one running, the others queued so that a worker
#: that frees up never waits for the coordinator. More would only hold more jobs in memory.
HOSTS_PER_WORKER = 4

#: Each host with its chunks, made as they are asked for: a run holds the chunks in flight.
HostChunks = Iterable[tuple[str, Iterator[list[Job]]]]


def chunks_of(jobs: Iterable[Job], size: int) -> Iterator[list[Job]]:
    """``jobs`` cut into lists of ``size``, each read from ``jobs`` only when it is asked for."""
    items = iter(jobs)
    while chunk := list(islice(items, size)):
        yield chunk


@dataclass
class HostRun:
    """How a run of chunks ended."""

    interrupted: bool = False
    errors: list[str] = field(default_factory=list)
    #: The first failure to write WARC records, which stopped the run.
    storage_error: StorageError | None = None
    #: The executor broke (a cluster's scheduler went away), which stopped the run.
    executor_lost: BrokenExecutor | None = None


def run_host_chunks(
    hosts: HostChunks[Job],
    *,
    submit: Callable[[list[Job]], Future[list[Result]]],
    on_done: Callable[[list[Result]], None],
    settle: Callable[[list[Result]], Future[list[Result]]] | None = None,
    window: int = HOSTS_PER_WORKER,
    pace: Callable[[str, list[Result]], None] | None = None,
) -> HostRun:
    """Submit each host's chunks one after another and hand every finished chunk to ``on_done``.

    At most ``window`` hosts have a chunk in flight; when one has no chunk left, the next host
    is taken from ``hosts``, so hosts and chunks are read only as they are needed (a check of a
    million citations holds the jobs in flight, not the archive's).
    A host's next chunk is submitted as soon as the host's work on the last one is done: before
    that chunk is saved, so no host waits for SQLite, and before what ``settle`` waits for (work
    the host handed on, such as extraction in worker processes), so no host waits for the
    extraction backlog either. A chunk that raises is logged and counted, the others go on.
    Ctrl-C stops submitting, cancels what has not started and marks the run ``interrupted``.
    A ``StorageError`` does the same, since every later chunk would fail alike, but waits for
    the chunks already running and saves those that succeed; it becomes ``storage_error``.
    So does a broken executor (``BrokenExecutor``: a cluster whose scheduler went away), which
    becomes ``executor_lost``.

    Args:
        settle: given a host's results, a future of the results ready to save; None: ready.
        window: hosts in flight at once.
        pace: given a host and its results as they come back, before its next chunk is
            submitted (a cluster's workers tell how long the host must be left alone).
    """
    run = HostRun()
    running: dict[Future[list[Result]], tuple[str, Iterator[list[Job]]]] = {}
    settling: dict[Future[list[Result]], str] = {}
    waiting = iter(hosts)
    stopped = False

    def next_chunk(host: str, chunks: Iterator[list[Job]]) -> None:
        chunk = None if stopped else next(chunks, None)
        if chunk is not None:
            try:
                running[submit(chunk)] = (host, chunks)
            except BrokenExecutor as error:  # a process pool refuses work once it is broken
                stop(error)

    def open_hosts() -> None:
        while not stopped and len(running) < window:
            opened = next(waiting, None)
            if opened is None:
                return
            next_chunk(*opened)

    def stop(error: StorageError | BrokenExecutor) -> None:
        nonlocal stopped
        stopped = True
        if isinstance(error, StorageError):
            run.storage_error = run.storage_error or error
        else:
            run.executor_lost = run.executor_lost or error
        for future in [future for future in running if future.cancel()]:
            del running[future]

    def outcome(future: Future[list[Result]], host: str) -> list[Result] | None:
        try:
            return future.result()
        except (StorageError, BrokenExecutor) as error:  # not the chunk: told once, at the end
            stop(error)
            return None
        except Exception as error:  # a bug in one chunk must not lose the others
            LOGGER.exception("work on %s failed", host)
            run.errors.append(f"{host}: {error}")
            return None

    with ctrl_c_pressed() as ctrl_c:
        open_hosts()
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
                    host, chunks = running.pop(future)
                    results = outcome(future, host)
                    if results is not None and pace is not None:
                        pace(host, results)
                    next_chunk(host, chunks)
                    open_hosts()
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
    #: The executor broke (a cluster's scheduler went away): the run stopped there too.
    executor_lost: BrokenExecutor | None = None

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


@dataclass(frozen=True)
class Frontier:
    """The URLs a run fetches: how many, and host by host, their jobs made as they are needed.

    ``hosts()`` gives each host (in the order the run starts them) with an iterable of its jobs;
    the coordinator reads a host's jobs a chunk at a time, just before submitting the chunk, so a
    frontier that reads them from SQLite (``check``) holds those of the hosts in flight only.
    Iterating the frontier gives every job, host by host.
    """

    size: int
    hosts: Callable[[], Iterable[tuple[str, Iterable[UrlJob]]]]
    #: Some jobs fetch a captured URL again (check, ``archive --refresh``).
    revisit: bool = False

    @classmethod
    def of(cls, jobs: Sequence[UrlJob]) -> Frontier:
        """The frontier of jobs already in memory (an archive run's few URLs)."""
        by_host: dict[str, list[UrlJob]] = defaultdict(list)
        for job in jobs:
            by_host[url_host(job.url)].append(job)
        return cls(len(jobs), by_host.items, any(job.revisit for job in jobs))

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[UrlJob]:
        for _, jobs in self.hosts():
            yield from jobs


def fetch_urls(
    db: Database,
    frontier: Frontier,
    *,
    config: RevisitConfig,
    warc_dir: Path,
    policy: Policy | None = None,
    executor: Executor | None = None,
    on_fetched: Callable[[str], None] | None = None,
    on_result: Callable[[UrlResult, RunStats], None] | None = None,
) -> RunStats:
    """Fetch every job of the frontier, host by host in parallel, and save each chunk as it
    finishes.

    A host's next chunk is submitted as soon as its previous one is fetched (before saving it,
    and before its extractions are done), so the host never waits for SQLite or the extraction
    backlog; it still has one chunk in flight. ``HOSTS_PER_WORKER`` hosts per worker are in
    flight at once, and each chunk is read from the frontier just before it is submitted.
    Ctrl-C stops submitting, keeps what was saved and marks the stats ``interrupted``. So does a
    failure to write WARC records, which the stats keep as ``storage_error``, and a broken
    executor (``executor_lost``).

    Args:
        frontier: what to fetch (``Frontier.of`` a list of jobs, or ``check.check_frontier``).
        config: the run's options (``refresh`` for ``archive --refresh``).
        policy: chunk size, extraction, link-status rule and clock; the defaults if None.
        executor: where ``revisit_host`` runs; a thread pool of ``config.fetch.concurrency``
            if None. Its workers (other processes, a cluster's) do not share this process's
            throttle: each host's pause is carried from chunk to chunk (``HostPace``).
        on_fetched: called with each URL as soon as it is fetched (progress bars): from the
            fetching threads when they are this process's (so it must be thread-safe), else
            when its chunk comes back.
        on_result: called after each URL's result is saved.
    """
    rules = policy or Policy()
    stats = RunStats(urls=len(frontier))
    recover_open_files(warc_dir)  # a killed run's files, even when this one has nothing to do
    if not stats.urls:
        return stats
    # Later versions are rows of capture_texts: the archived text must be one before any is
    # added, or replaced by a refresh (a killed run's at the next).
    if frontier.revisit:
        keep_archived_texts(db)
    pool = executor or ThreadPoolExecutor(max_workers=config.fetch.concurrency)
    # Processes are local only.
    extraction = Extraction(after=rules.extraction_after) if executor is None else None
    pace = HostPace()

    def submit(chunk: list[UrlJob]) -> Future[list[UrlResult]]:
        claims = claims_citing(db, [job.url for job in chunk])
        chunk = [_with_texts(db, replace(job, claims=tuple(claims[job.url]))) for job in chunk]
        if extraction is not None:  # threads of this process: extraction goes on after them
            return pool.submit(fetch_host, chunk, config, str(warc_dir), extraction, on_fetched)
        # Another process, maybe on another machine: its own working directory and throttle.
        wait = pace.left(url_host(chunk[0].url))
        return pool.submit(revisit_host, chunk, config, str(warc_dir.absolute()), wait)

    def report_pace(host: str, results: list[UrlResult]) -> None:
        pace.report(host, max(result.host_wait for result in results))

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
        ((host, chunks_of(jobs, rules.chunk_size)) for host, jobs in frontier.hosts()),
        submit=submit,
        on_done=save,
        settle=_settle if extraction is not None else None,
        window=HOSTS_PER_WORKER * config.fetch.concurrency,
        pace=report_pace if extraction is None else None,
    )
    stats.interrupted, stats.errors = run.interrupted, run.errors
    stats.storage_error, stats.executor_lost = run.storage_error, run.executor_lost
    try:
        # A cluster's workers finish their WARC files as it shuts down (run/cluster.py).
        pool.shutdown(wait=not run.interrupted, cancel_futures=True)
    except StorageError as error:
        stats.storage_error = stats.storage_error or error
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
