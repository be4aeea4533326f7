"""Run per-host chunks of work on an Executor: one chunk of a host in flight at a time.

The archive pipeline and the link checker both fetch many URLs over many hosts: hosts go in
parallel, a host's URLs go in series (the fetcher's throttle keeps the delay between them), and
the coordinator saves each finished chunk before the next of that host would need saving.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from archiver.errors import StorageError

LOGGER = logging.getLogger(__name__)

#: URLs of one host handed to a worker at a time: small enough that a kill loses little.
CHUNK_SIZE = 8

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

    try:
        for host in chunks:
            next_chunk(host)
        while running or settling:
            done, _ = wait([*running, *settling], return_when=FIRST_COMPLETED)
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
    except KeyboardInterrupt:
        run.interrupted = True
        for future in running:
            future.cancel()
    return run


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
