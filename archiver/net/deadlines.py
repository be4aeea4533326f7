"""Wall-clock deadlines for blocking socket reads, all watched by one thread per process.

A socket read timeout bounds each read, not a whole response: a server that drips one byte a
second keeps a worker forever. The only way to wake a thread blocked in ``recv`` is to shut the
socket down from another thread, so each response gets a ``Deadline`` that does that when its
time is up. A ``threading.Timer`` per response would start and stop a thread per request (a
measurable share of the CPU per URL, and more threads fighting for the GIL); here one daemon
thread per process sleeps on a heap of deadlines and wakes only when the earliest one is due or
an earlier one is added.

Fork-safe: a forked child (a process pool or a Dask worker) gets a fresh lock and heap, and
starts its own thread on first use, because threads do not survive ``fork``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time
from types import TracebackType

from archiver.errors import FetchTimeout

LOGGER = logging.getLogger(__name__)

#: Below this many entries the heap is never compacted; cancelled entries just wait their turn.
_COMPACT_MIN = 256


class Deadline:
    """Shuts the watched socket down when ``seconds`` of wall clock have passed.

    Use as ``with Deadline(60) as deadline:`` and hand ``deadline.watch`` every socket the
    request uses (``netguard.watching_sockets`` does). Leaving the block cancels the deadline:
    once ``__exit__`` has returned, the socket is never shut by it, so a pooled connection
    reused by the next request cannot be hit by a stale deadline.

    Attributes:
        seconds: the limit.
        deadline: ``time.monotonic()`` value at which it passes.
        fired: True once the limit passed while the block was running (the socket, if any, was
            shut down, so whatever was read after that is truncated).
        peer: IP address of the last socket watched (for the WARC record).
    """

    __slots__ = ("seconds", "deadline", "fired", "peer", "_sock", "_done", "_queued")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.fired = False
        self.peer: str | None = None
        self._sock: socket.socket | None = None
        self._done = False  # left the block: never fire
        self._queued = False  # in the watcher's heap

    def __enter__(self) -> Deadline:
        _WATCHER.add(self)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _WATCHER.cancel(self)

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it already has)."""
        try:
            self.peer = str(sock.getpeername()[0])
        except (OSError, IndexError):
            pass
        with _WATCHER.lock:
            self._sock = sock
            if self.fired:
                _shutdown(sock)

    def expired(self) -> bool:
        """Has the limit passed (whether or not the watcher has got round to it yet)?"""
        return self.fired or time.monotonic() >= self.deadline

    def timeout_error(self, url: str) -> FetchTimeout:
        """The error ``fetch()`` reports when the limit cut the response short."""
        return FetchTimeout(f"no complete response within {self.seconds:g}s", url=url)

    def _fire(self) -> None:
        """Called by the watcher with its lock held, so ``__exit__`` cannot slip in between."""
        if self._done:
            return
        self.fired = True
        if self._sock is not None:
            LOGGER.debug("wall-clock limit of %ss reached, closing the socket", self.seconds)
            _shutdown(self._sock)


def _shutdown(sock: socket.socket) -> None:
    """Wake any thread blocked on ``sock``; the base method, so SSL sockets need no handshake."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class _Watcher:
    """The process's deadline heap and the daemon thread that fires what is due.

    Cancelled deadlines stay in the heap (removing from a heap is linear) and are skipped when
    they reach the top; when they are over half of a large heap, it is rebuilt without them,
    so it stays about as big as the number of requests in flight.
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        """Fresh state: at start, and in a forked child (the lock may have been held by a
        thread of the parent, and the watcher thread is gone)."""
        self.lock = threading.Lock()
        self._wake = threading.Condition(self.lock)
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()  # ties on time never compare Deadline objects
        self._stale = 0  # cancelled entries still in the heap
        self._pid: int | None = None  # process whose thread serves the heap

    def add(self, deadline: Deadline) -> None:
        with self.lock:
            if self._pid != os.getpid():  # first use in this process (or a forked child)
                self._heap.clear()
                self._stale = 0
                threading.Thread(target=self._run, name="deadline-watcher", daemon=True).start()
                self._pid = os.getpid()  # only once it runs: a failed start is tried again
            heapq.heappush(self._heap, (deadline.deadline, next(self._order), deadline))
            deadline._queued = True
            if self._heap[0][2] is deadline:  # earlier than what the thread sleeps towards
                self._wake.notify()

    def cancel(self, deadline: Deadline) -> None:
        with self.lock:
            deadline._done = True
            deadline._sock = None  # the heap may hold the entry a while; not the socket
            if deadline._queued:
                self._stale += 1
                if len(self._heap) >= _COMPACT_MIN and 2 * self._stale > len(self._heap):
                    self._heap = [entry for entry in self._heap if not entry[2]._done]
                    heapq.heapify(self._heap)
                    self._stale = 0

    def _run(self) -> None:
        with self.lock:
            while True:
                now = time.monotonic()
                heap = self._heap
                while heap and (heap[0][2]._done or heap[0][0] <= now):
                    _, _, deadline = heapq.heappop(heap)
                    deadline._queued = False
                    if deadline._done:
                        self._stale -= 1
                        continue
                    try:
                        deadline._fire()
                    except Exception:  # never let one bad socket stop every timeout
                        LOGGER.exception("deadline watcher: firing failed")
                wait = min(heap[0][0] - now, threading.TIMEOUT_MAX) if heap else None
                self._wake.wait(wait)


_WATCHER = _Watcher()
