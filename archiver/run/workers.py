"""What a worker process keeps between tasks: sessions, its WARC writer, robots rules, and the
extraction pool. Shared by the archive pipeline and the link checker.

Tasks run on any ``concurrent.futures.Executor``: a thread pool shares these per process; a
process pool or a Dask worker builds its own on first use, and closes its WARC file at exit
(a Dask worker also at the end of each run, which ``close_writers`` does there).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.util
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import requests

from archiver.capture.extract import Extracted, read_extractable
from archiver.capture.warc import RecordRef, WarcWriter
from archiver.errors import StorageError
from archiver.evidence.find import CitedClaim, Evidence
from archiver.net.fetch import FetchConfig, fetch, make_session
from archiver.net.result import FetchResult
from archiver.net.robots import RobotsCache
from archiver.run.extraction_worker import extract_and_trim, extract_with_evidence, start_worker

LOGGER = logging.getLogger(__name__)

#: Extractions done in the fetching threads before worker processes are started for the rest.
PROCESS_EXTRACTION_AFTER = 40
#: Bytes of bodies handed to worker processes and not extracted yet. When extraction is the
#: bottleneck the fetching threads run ahead, and the bodies they queue for the pool grow the
#: coordinator (bench/README.md, "Where the memory goes"); past this budget a thread waits.
MAX_QUEUED_BYTES = 8_000_000

Done = TypeVar("Done")

_local = threading.local()
_shared_lock = threading.Lock()
_writers: dict[str, WarcWriter] = {}
_robots: dict[FetchConfig, RobotsCache] = {}


def worker_session(config: FetchConfig) -> requests.Session:
    """One session per worker thread (requests sessions are not thread-safe)."""
    sessions: dict[FetchConfig, requests.Session] = _local.__dict__.setdefault("sessions", {})
    if config not in sessions:
        sessions[config] = make_session(config)
    return sessions[config]


def process_writer(warc_dir: str) -> WarcWriter:
    """The WARC writer of this process for ``warc_dir``, shared by its threads."""
    with _shared_lock:
        writer = _writers.get(warc_dir)
        if writer is None or writer.closed:
            writer = _writers[warc_dir] = WarcWriter(Path(warc_dir))
            # A process pool's workers never call close_writers() (a Dask worker does at the end
            # of each run, run/cluster.py); close the file when the process exits so its name
            # stops ending in ".open".
            multiprocessing.util.Finalize(writer, writer.close, exitpriority=10)
        return writer


def process_write(warc_dir: str, write: Callable[[WarcWriter], Done]) -> Done:
    """``write`` records with this process's WARC writer for ``warc_dir``.

    On a cluster's long-lived workers, another run's end closes every writer of the worker
    (``close_writers``), whenever it comes: a write that finds its writer closed so, before it
    wrote anything, goes to a new one.
    """
    while True:
        writer = process_writer(warc_dir)
        try:
            return write(writer)
        except ValueError:  # what a closed writer raises; any other one goes up
            if not writer.closed:
                raise


def robots_cache(config: FetchConfig) -> RobotsCache:
    """robots.txt rules of this process, read once per site."""
    with _shared_lock:
        return _robots.setdefault(config, RobotsCache(config))


def worker_fetch(
    url: str, config: FetchConfig, *, etag: str | None = None, last_modified: str | None = None
) -> FetchResult:
    """Fetch with this thread's session and this process's robots rules (conditional if given)."""
    return fetch(
        url,
        session=worker_session(config),
        config=config,
        robots=None if config.ignore_robots else robots_cache(config),
        etag=etag,
        last_modified=last_modified,
    )


def close_writers() -> None:
    """Finish this process's WARC files (rename from ``.open``).

    Raises:
        StorageError: the first file that could not be finished; every other one still is.
    """
    failed: StorageError | None = None
    with _shared_lock:
        for writer in _writers.values():
            try:
                writer.close()
            except StorageError as error:
                failed = failed or error
        _writers.clear()
    if failed is not None:
        raise failed


def final_response(refs: list[RecordRef]) -> RecordRef | None:
    """The record a capture row points at: the last response (or revisit) of the chain."""
    responses = [ref for ref in refs if ref.record_type in ("response", "revisit")]
    return responses[-1] if responses else None


class Extraction:
    """Extraction inline at first, in worker processes once a run turns out to need many.

    Most runs extract little (a check of unchanged pages extracts nothing), so processes are not
    started up front; a run with many pages gets every core for trafilatura, which would
    otherwise hold the GIL the fetching threads need, and the fetching threads go on with their
    host's next URL while a page is extracted.

    Args:
        after: extractions done inline before the pool starts; None: always inline.
    """

    def __init__(self, after: int | None = PROCESS_EXTRACTION_AFTER) -> None:
        self.after = after
        self.count = 0
        self.pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._queued = 0  # bytes submitted to the pool and not done
        self._room = threading.Condition()
        self._closed = False  # shut down: what is asked for now is cancelled (Ctrl-C)

    def submit(self, result: FetchResult) -> Future[Extracted]:
        """Extract ``result``'s body (read now, so the result may be closed before it is done)."""
        return self._submit(extract_and_trim, result)

    def submit_with_evidence(
        self, result: FetchResult, claims: Sequence[CitedClaim]
    ) -> Future[tuple[Extracted, list[tuple[int, Evidence]]]]:
        """Extract ``result``'s body and find the evidence of ``claims`` in its text."""
        return self._submit(extract_with_evidence, result, claims)

    def _submit(self, task: Callable[..., Done], result: FetchResult, *args: Any) -> Future[Done]:
        assert result.body is not None
        result.body.seek(0)
        body = read_extractable(result.body, result.content_type)
        kwargs: dict[str, Any] = {
            "content_type": result.content_type,
            "url": result.final_url or result.url,
            "charset": result.charset,
        }
        with self._lock:
            self.count += 1
            if self.pool is None and self.count == self.after and (os.cpu_count() or 1) > 1:
                self.pool = _process_pool()
            pool = self.pool
        done: Future[Done] = Future()
        if pool is None:
            done.set_result(task(body, *args, **kwargs))
            return done
        size = len(body)
        self._wait_for_room(size)
        self._in_pool(done, partial(task, body, *args, **kwargs), size, retry=True)
        return done

    def _in_pool(
        self, done: Future[Done], call: Callable[[], Done], size: int, *, retry: bool
    ) -> None:
        """Run ``call`` in a worker process and hand its outcome to ``done``.

        When a worker process dies (killed for its memory, or crashed in lxml), the pool fails
        every task it holds: each runs once more, in a fresh pool, so one bad page does not take
        the text of the others with it.
        """

        def landed(future: Future[Done]) -> None:
            if future.cancelled():  # Ctrl-C
                self._release(size)
                done.cancel()
                return
            error = future.exception()
            if isinstance(error, BrokenProcessPool) and retry:
                self._in_pool(done, call, size, retry=False)
                return
            self._release(size)
            if error is None:
                done.set_result(future.result())
            else:
                done.set_exception(error)

        try:
            self._live_pool_submit(call).add_done_callback(landed)
        except Exception as error:  # the run is over (Ctrl-C), or no new pool could be started
            self._release(size)
            if self._closed:  # a fetching thread that finished after Ctrl-C: nothing failed
                done.cancel()
            else:
                done.set_exception(error)

    def _live_pool_submit(self, call: Callable[[], Done]) -> Future[Done]:
        with self._lock:
            pool = self.pool
        assert pool is not None
        try:
            with _sigint_blocked():
                return pool.submit(call)
        except BrokenProcessPool:
            with self._lock:
                if self._closed:
                    raise
                if self.pool is pool:
                    LOGGER.warning("an extraction worker process died; starting new ones")
                    pool.shutdown(wait=False, cancel_futures=True)
                    self.pool = _process_pool()
                fresh = self.pool
            assert fresh is not None
            with _sigint_blocked():
                return fresh.submit(call)

    def _wait_for_room(self, size: int) -> None:
        """Block while the queued bodies are over budget (one body always goes, however big).

        Waiters are woken one at a time, each waking the next while there is room: waking every
        fetching thread at every finished extraction costs the coordinator CPU for nothing.
        """
        with self._room:
            self._room.wait_for(lambda: not self._queued or self._queued + size <= MAX_QUEUED_BYTES)
            self._queued += size
            if self._queued < MAX_QUEUED_BYTES:
                self._room.notify()

    def _release(self, size: int) -> None:
        with self._room:
            self._queued -= size
            self._room.notify()

    def shutdown(self) -> None:
        """Wait for running extractions (seconds at most) and stop the workers.

        The queued extractions are cancelled, and so is any asked for afterwards.
        """
        self._closed = True
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _process_pool() -> ProcessPoolExecutor:
    """Extraction workers, one per core, that end with this process and leave Ctrl-C to it."""
    return ProcessPoolExecutor(
        max_workers=os.cpu_count(),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_worker,
        initargs=(os.getpid(),),
    )


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT held back from this thread, and from the worker processes it starts meanwhile.

    A pool starts its workers in ``submit``; they inherit the mask and keep a Ctrl-C pending
    until their initializer ignores it, as CPython's resource tracker does at its start.
    """
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


#: For tasks run without a shared Extraction (another executor): always inline.
INLINE = Extraction(after=None)
