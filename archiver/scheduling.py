"""Run per-host chunks of work on an Executor: one chunk of a host in flight at a time.

The archive pipeline and the link checker both fetch many URLs over many hosts: hosts go in
parallel, a host's URLs go in series (the fetcher's throttle keeps the delay between them), and
the coordinator saves each finished chunk before the next of that host would need saving.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

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


def run_host_chunks(
    chunks: dict[str, deque[list[Job]]],
    *,
    submit: Callable[[list[Job]], Future[list[Result]]],
    on_done: Callable[[list[Result]], None],
) -> HostRun:
    """Submit each host's chunks one after another and hand every finished chunk to ``on_done``.

    A host's next chunk is submitted before the finished one is saved, so no host waits for
    SQLite. A chunk that raises is logged and counted, the others go on. Ctrl-C stops
    submitting, cancels what has not started and marks the run ``interrupted``.
    """
    run = HostRun()
    running: dict[Future[list[Result]], str] = {}

    def next_chunk(host: str) -> None:
        if chunks[host]:
            running[submit(chunks[host].popleft())] = host

    try:
        for host in chunks:
            next_chunk(host)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                host = running.pop(future)
                next_chunk(host)
                try:
                    results = future.result()
                except Exception as error:  # a bug in one chunk must not lose the others
                    LOGGER.exception("work on %s failed", host)
                    run.errors.append(f"{host}: {error}")
                    continue
                on_done(results)
    except KeyboardInterrupt:
        run.interrupted = True
        for future in running:
            future.cancel()
    return run
