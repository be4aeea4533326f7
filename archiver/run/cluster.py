"""Fetch on a Dask cluster: a running one (``--scheduler``), or one started here (``--workers``).

The coordinator (``engine.fetch_urls``) runs here either way and alone writes SQLite; what it
needs is a ``concurrent.futures.Executor``, and ``ClusterExecutor`` is a Dask client as one. Each
task is one chunk of a host's URLs (``revisit.revisit_host``): the worker fetches, extracts and
finds the evidence, and writes its WARC records into the shared ``--warc-dir`` in files named
for its host, pid and a random token, so workers never share a file.

What can go wrong, and what the run does:

* A worker dies (``kill -9``, the OOM killer): the scheduler runs its tasks again on another
  worker. Nothing was saved of them, so no row is written twice; its ``.open`` file is repaired
  by the next run, which asks every worker to repair the files of dead writers on its host.
* The scheduler goes away: every task fails with ``SchedulerLost``, which stops the run; the
  chunks saved are kept and a rerun (on a cluster or not) fetches the rest.
* Ctrl-C: the run's tasks are cancelled and its client leaves; the cluster goes on running.

Dask's own logs are for ``-v`` and more: a run prints what the archiver has to say.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Executor, Future
from concurrent.futures import wait as wait_for
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from archiver.capture.warc import recover_open_files
from archiver.errors import ArchiverError, StorageError
from archiver.run.workers import close_writers

if TYPE_CHECKING:
    from distributed import Client, LocalCluster
    from distributed import Future as DaskFuture

LOGGER = logging.getLogger(__name__)

#: Seconds to reach the scheduler, and for it to have a worker: a wrong address fails this fast.
CONNECT_TIMEOUT = 5.0
#: Why Dask cancels every task of a client whose scheduler went away.
_LOST = "scheduler-connection-lost"
#: Loggers Dask sets a level of its own on import.
_DASK_LOGGERS = (
    "distributed",
    "distributed.client",
    "distributed.gc",
    "tornado",
    "tornado.application",
)

P = ParamSpec("P")
T = TypeVar("T")


class ClusterUnavailable(ArchiverError):
    """The cluster cannot be used: an address that is not one, a scheduler that does not
    answer or has no worker, a worker that cannot write the WARC folder."""


class SchedulerLost(BrokenExecutor):
    """The Dask scheduler went away during the run: none of its tasks can finish now."""

    def __init__(self, address: str) -> None:
        super().__init__(f"lost the Dask scheduler at {address}")
        self.address = address


@dataclass(frozen=True)
class Cluster:
    """Where a run fetches: the scheduler of a running cluster, or ``workers`` local processes."""

    scheduler: str | None = None
    workers: int | None = None


class ClusterExecutor(Executor):
    """A Dask client as the ``Executor`` of ``engine.fetch_urls``.

    Not Dask's own ``Client.get_executor()``: a task whose scheduler went away comes back from
    it merely cancelled, which the coordinator would take for Ctrl-C, and its ``shutdown``
    knows nothing of the WARC files the workers keep open between tasks. Here such a task fails
    with ``SchedulerLost``, and ``shutdown`` after a finished run closes the workers' files.

    Attributes:
        threads: the cluster's worker threads when connected: the hosts it fetches at once.
        local: the cluster, when it was started for this run.
    """

    def __init__(self, client: Client, address: str, local: LocalCluster | None = None) -> None:
        self.client = client
        self.address = address
        self.local = local
        self.threads = sum(client.nthreads().values())
        self._lock = threading.Lock()
        self._tasks: dict[Future[Any], DaskFuture] = {}
        self._shut = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run ``fn`` on a worker (never deduplicated with another task: fetches are not pure)."""
        if self._shut:
            raise RuntimeError("cannot schedule new futures after shutdown")
        done: Future[T] = Future()
        if self._connected():
            task = self.client.submit(fn, *args, pure=False, **kwargs)
            # Lost while it was sent: Dask will never answer for it.
            if self._connected():
                with self._lock:
                    self._tasks[done] = task
                done.add_done_callback(self._cancelled)
                task.add_done_callback(partial(self._landed, done))
                return done
        done.set_exception(SchedulerLost(self.address))
        return done

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking tasks; after a finished run (``wait``), close the workers' WARC files.

        Without ``wait`` (Ctrl-C) the client leaves at once, so the scheduler forgets the tasks
        cancelled; those already running end on their workers, whose files stay open for them.
        A cluster started for the run is stopped at once instead: its workers are killed, since
        one may be in a fetch for up to ``--timeout``, and the next run repairs their files.

        Raises:
            StorageError: a worker could not finish its WARC file.
        """
        self._shut = True
        with self._lock:
            outstanding = list(self._tasks)
        if cancel_futures:
            for done in outstanding:
                done.cancel()
        if not wait:
            self._leave()
            return
        wait_for(outstanding)
        if self._connected():
            self._close_writers()

    def _leave(self) -> None:
        if self.local is not None and self._connected():
            for pid in self.client.run(os.getpid, on_error="return").values():
                if isinstance(pid, int):
                    os.kill(pid, signal.SIGKILL)
        self.client.close(timeout=CONNECT_TIMEOUT)
        if self.local is not None:
            self.local.close(timeout=CONNECT_TIMEOUT)

    def _connected(self) -> bool:
        return bool(self.client.status == "running")

    def _cancelled(self, done: Future[Any]) -> None:
        """A task given up by the coordinator (Ctrl-C, a full disk) is cancelled on the cluster."""
        if not done.cancelled():
            return
        with self._lock:
            task = self._tasks.pop(done, None)
        if task is not None and self._connected():
            task.cancel()

    def _landed(self, done: Future[Any], task: DaskFuture) -> None:
        """Hand a task's outcome to its future (in Dask's callback thread)."""
        from distributed.client import FutureCancelledError

        with self._lock:
            self._tasks.pop(done, None)
        if done.cancelled():
            return
        failure: BaseException | None = None
        try:
            value = task.result()  # the chunk's rows, gathered from its worker
        except FutureCancelledError as error:
            failure = SchedulerLost(self.address) if error.reason == _LOST else error
        except Exception as error:
            failure = error if self._connected() else SchedulerLost(self.address)
        if not done.set_running_or_notify_cancel():  # cancelled while it was gathered
            return
        if failure is None:
            done.set_result(value)
        else:
            done.set_exception(failure)

    def _close_writers(self) -> None:
        """Finish every worker's WARC files, so none stays ``.open`` on a long-lived worker."""
        for worker, outcome in self.client.run(close_writers, on_error="return").items():
            if isinstance(outcome, StorageError):
                raise outcome
            if isinstance(outcome, Exception):  # a worker gone meanwhile: the next run repairs
                LOGGER.info("worker %s did not close its WARC files: %s", worker, outcome)


@contextmanager
def cluster_executor(
    cluster: Cluster, *, threads: int, warc_dir: Path
) -> Iterator[ClusterExecutor]:
    """A ``ClusterExecutor`` on ``cluster``, its workers ready to write into ``warc_dir``.

    A cluster started here (``cluster.workers``) is closed at the end; a running one is left
    running, only this client leaves it.

    Args:
        threads: hosts fetched at once by the local cluster, spread over its workers.
        warc_dir: the WARC folder, which every worker must reach at the same path.

    Raises:
        ClusterUnavailable: before anything is fetched, with the reason in one line.
    """
    with _client(cluster, threads) as (client, address, local):
        folder = str(warc_dir.absolute())
        for worker, problem in client.run(_prepare_worker, folder, on_error="return").items():
            if isinstance(problem, Exception):  # the archiver is not installed there, as a rule
                problem = f"cannot run the archiver: {problem}"
            if problem is not None:
                raise ClusterUnavailable(f"the Dask worker at {worker} {problem}")
        yield ClusterExecutor(client, address, local)


@contextmanager
def _client(cluster: Cluster, threads: int) -> Iterator[tuple[Client, str, LocalCluster | None]]:
    """A client of the scheduler, or of a local cluster started (and closed) here, and that."""
    from distributed import Client, LocalCluster

    level = _quiet_dask()
    if cluster.scheduler is None:
        workers = cluster.workers or 1
        start = partial(
            LocalCluster,
            n_workers=workers,
            threads_per_worker=math.ceil(threads / workers),
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=level,
        )
        try:
            local = _ignoring_ctrl_c(start)
        except Exception as error:  # no room for its scratch space, no free port...
            raise ClusterUnavailable(f"cannot start a local Dask cluster: {error}") from None
        with local, Client(local, set_as_default=False) as client:
            yield client, str(local.scheduler_address), local
        return
    address = cluster.scheduler
    _reach(address)
    client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    try:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except TimeoutError:
            raise ClusterUnavailable(
                f"the Dask scheduler at {address} has no worker (start one: dask worker {address})"
            ) from None
        yield client, address, None
    finally:
        client.close(timeout=CONNECT_TIMEOUT)


def _reach(address: str) -> None:
    """Check that a Dask scheduler answers at ``address``, before a client is made for it.

    A ``Client`` that fails to connect lingers, and spends seconds at exit closing itself.
    """
    from distributed.comm.core import connect
    from distributed.security import Security

    async def probe() -> None:
        args = Security().get_connection_args("client")
        comm = await connect(address, timeout=CONNECT_TIMEOUT, **args)
        await comm.close()

    try:
        asyncio.run(probe())
    except ValueError as error:  # no port, an unknown scheme
        raise ClusterUnavailable(f"{address!r} is not a Dask scheduler address: {error}") from None
    except OSError as error:  # refused, timed out, no such host
        raise ClusterUnavailable(f"cannot reach the Dask scheduler at {address}: {error}") from None


def _ignoring_ctrl_c(start: Callable[[], T]) -> T:
    """``start()`` with Ctrl-C ignored, so the worker processes it starts ignore it too.

    A terminal's Ctrl-C reaches the whole process group: the workers would die of it, each with
    a traceback, while the coordinator stops the run in order.
    """
    if threading.current_thread() is not threading.main_thread():
        return start()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return start()
    finally:
        signal.signal(signal.SIGINT, previous)


def _quiet_dask() -> int:
    """Dask's loggers one step quieter than the archiver's, silent without ``-v``; their level.

    Dask sets its own levels (INFO) when it is imported, which is after the CLI set ours.
    """
    ours = logging.getLogger("archiver").getEffectiveLevel()
    level = {logging.DEBUG: logging.INFO, logging.INFO: logging.WARNING}.get(ours, logging.CRITICAL)
    for name in _DASK_LOGGERS:
        logging.getLogger(name).setLevel(level)
    return level


def _prepare_worker(warc_dir: str) -> str | None:
    """On a worker: repair the files of dead writers on its host, and prove it can write.

    Returns:
        None, or what is wrong, to end a sentence that names the worker.
    """
    try:
        Path(warc_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=warc_dir):
            pass
        recover_open_files(Path(warc_dir))
    except OSError as error:
        return f"(pid {os.getpid()}) cannot write {warc_dir}: {error.strerror or error}"
    return None
