"""kill -9 or Ctrl-C in the middle of an archive run, then the same command again, completes it.

No test here waits for time to pass: each waits for an event (rows in the database, requests
held by the servers) and holds the run still where it needs it, so a slow or busy machine
changes how long the tests take, never what they see.
"""

from __future__ import annotations

import io
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from webserver import Behaviour, Handler, WebServer

from archiver.capture.warc import read_records
from archiver.net.result import FetchResult
from archiver.run import check, revisit
from archiver.run.engine import CHUNK_SIZE
from archiver.run.workers import MAX_QUEUED_BYTES, Extraction
from archiver.store import open_db

#: Over 64 KB, so a record decompresses to more than one read of the WARC repair (a record that
#: size once made the rerun's repair of the torn file crash); one paragraph, quick to extract.
PAGE = (
    b"<html><head><title>Held</title></head><body><article><p>A page the server may hold.</p><p>"
    + b" ".join(b"Sentence %d of the held page says %d." % (i, i * 7) for i in range(2200))
    + b"</p></article></body></html>"
)
#: Three hosts of 30 pages: 90 URLs, past the count that moves extraction to worker processes.
HOSTS = ("127.0.0.5", "127.0.0.6", "127.0.0.8")
PAGES_PER_HOST = 30
#: Bounds a wait for an event, so a hang fails the test; no assertion depends on it.
FAILSAFE = 120.0


class Gate:
    """Holds the requests for pages numbered ``first`` or more until it is opened."""

    def __init__(self, first: int) -> None:
        self.first = first
        self.arrived = 0
        self._opened = False
        self._changed = threading.Condition()

    def pass_through(self, page: int) -> None:
        if page < self.first:
            return
        with self._changed:
            self.arrived += 1
            self._changed.notify_all()
            self._changed.wait_for(lambda: self._opened)

    def open(self) -> None:
        with self._changed:
            self._opened = True
            self._changed.notify_all()

    def wait_for_arrivals(self, count: int) -> None:
        with self._changed:
            arrived = self._changed.wait_for(lambda: self.arrived >= count, timeout=FAILSAFE)
        assert arrived, f"{self.arrived} of {count} requests reached page {self.first}"


def gated_page(*gates: Gate) -> Behaviour:
    """``/slow/N``: the page, once every gate lets page N through."""

    def page(h: Handler) -> None:
        number = int(h.path.rsplit("/", 1)[1])
        for gate in gates:
            gate.pass_through(number)
        h.respond(200, PAGE)

    return page


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + FAILSAFE
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.02)


def captures_so_far(db_path: Path) -> int:
    try:
        with sqlite3.connect(db_path, timeout=1) as conn:
            return int(conn.execute("select count(*) from captures").fetchone()[0])
    except sqlite3.Error:
        return 0


def live_processes(*, parent: int | None = None, group: int | None = None) -> list[int]:
    """Pids of live processes (zombies are gone) with this parent or process group (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, ppid, pgrp = fields[0], int(fields[1]), int(fields[2])
        if state != "Z" and parent in (None, ppid) and group in (None, pgrp):
            found.append(int(stat.parent.name))
    return found


def extraction_workers(pid: int) -> list[int]:
    """The archiver's spawned extraction workers (its multiprocessing resource tracker aside)."""
    found = []
    for child in live_processes(parent=pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            found.append(child)
    return found


def alive(pid: int) -> bool:
    """Running, stopped or sleeping: anything but gone or a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Run:
    """An ``archiver archive`` of 90 pages served by ``HOSTS``, running in a subprocess."""

    process: subprocess.Popen[bytes]
    command: list[str]
    urls: list[str]
    db_path: Path
    warc_dir: Path


@dataclass
class Stalled:
    """A run held mid-way, its extraction workers paused with work queued for them."""

    run: Run
    workers: list[int]
    rest: Gate

    def resume_workers(self) -> None:
        resume(self.workers)

    def stop(self, send: Callable[[int, int], None], sig: signal.Signals) -> str:
        """Send ``sig`` with ``send`` (``os.kill``, ``os.killpg``), then let the workers go on
        (a paused worker would hold the shutdown); the run's stderr once it has ended."""
        send(self.run.process.pid, sig)
        self.resume_workers()
        _, stderr = self.run.process.communicate(timeout=FAILSAFE)
        return stderr.decode()


def default_ctrl_c() -> None:
    """In the child before it runs the archiver: Ctrl-C does what a terminal's does.

    A shell starts a background job (``make test &``, a CI runner's script) with SIGINT ignored,
    and a child inherits that: these tests' Ctrl-C would then be dropped and the run go on.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_run(stack: ExitStack, tmp_path: Path, gates: list[Gate], *, new_session: bool) -> Run:
    """Servers whose pages pass ``gates``, and the archiver fetching them; all end with
    ``stack``, the gates opened first so that no held request outlives its server."""
    page = gated_page(*gates)
    servers = [stack.enter_context(WebServer(host, {"/slow/": page})) for host in HOSTS]
    for gate in gates:
        stack.callback(gate.open)
    urls = [s.url(f"/slow/{i}") for i in range(PAGES_PER_HOST) for s in servers]
    article = tmp_path / "article.md"
    article.write_text(
        " ".join(f"Claim {i} [src]({u})." for i, u in enumerate(urls)), encoding="utf-8"
    )
    db_path, warc_dir = tmp_path / "citations.db", tmp_path / "warc"
    command = [sys.executable, "-m", "archiver", "archive", str(article), "--db"]
    command += [str(db_path), "--warc-dir", str(warc_dir), "--allow-private-addresses"]
    # Held requests must not time out: the rerun's fetches are the ones that count.
    command += ["--delay", "0", "--timeout", str(FAILSAFE), "--silent"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=new_session,
        preexec_fn=default_ctrl_c,
    )
    stack.callback(process.wait)
    stack.callback(process.kill)  # a failed test leaves no run behind
    return Run(process, command, urls, db_path, warc_dir)


@contextmanager
def stalled_run(tmp_path: Path, *, new_session: bool = False) -> Iterator[Stalled]:
    """An archive run of 90 pages, held where extraction is its bottleneck.

    Every host's first chunk is saved (so the extraction workers run), then the workers are
    paused, as a busy machine starves them, while every host's next two chunks are fetched and
    queued for them; the servers hold the remaining pages until ``rest`` opens. So the run is
    mid-way, with extractions waiting in the pool, however fast or busy the machine is.
    """
    queued = 2 * CHUNK_SIZE * len(HOSTS)
    assert queued * len(PAGE) < MAX_QUEUED_BYTES, "the fetching threads must not wait for room"
    first, rest = Gate(CHUNK_SIZE), Gate(3 * CHUNK_SIZE)
    with ExitStack() as stack:
        run = start_run(stack, tmp_path, [first, rest], new_session=new_session)
        first.wait_for_arrivals(len(HOSTS))
        saved = CHUNK_SIZE * len(HOSTS)
        wait_for(lambda: captures_so_far(run.db_path) == saved, "the first chunks")
        workers = extraction_workers(run.process.pid)
        assert workers, "extraction worker processes are running"
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        stalled = Stalled(run, workers, rest)
        stack.callback(stalled.resume_workers)
        first.open()
        rest.wait_for_arrivals(len(HOSTS))
        yield stalled


def resume(pids: list[int]) -> None:
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGCONT)


def assert_only_interrupted(stderr: str, saved: str = "cited URLs saved") -> None:
    """Ctrl-C prints one line: what was saved and how to go on; no warning, no traceback."""
    assert re.fullmatch(
        rf"Interrupted: \d+ of \d+ {saved}; rerun the same command to finish\.\n", stderr
    ), stderr


def assert_complete_without_duplicates(run: Run) -> None:
    """Every URL captured once, every WARC file closed and whole, one record per capture."""
    db = open_db(run.db_path)
    per_url = dict(
        db.execute(
            "select url, count(*) from captures where outcome = 'ok' group by url"
        ).fetchall()
    )
    assert per_url == {url: 1 for url in run.urls}
    assert not list(run.warc_dir.glob("*.open"))
    for path in run.warc_dir.glob("*.warc.gz"):
        scan = read_records(path)
        assert not scan.torn and scan.error is None, path
    offsets = {(row["warc_path"], row["warc_offset"]) for row in db["captures"].rows}
    assert len(offsets) == len(run.urls)


def rerun(stalled: Stalled) -> None:
    """The same command again, every page served now."""
    stalled.rest.open()
    again = subprocess.run(stalled.run.command, capture_output=True, text=True, timeout=FAILSAFE)
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_stopped_run_then_rerun_completes_without_duplicates(
    tmp_path: Path, stop: signal.Signals
) -> None:
    with stalled_run(tmp_path) as stalled:
        run = stalled.run
        stalled.stop(os.kill, stop)
        wait_for(lambda: not any(map(alive, stalled.workers)), "the workers to end")
        stopped_at = captures_so_far(run.db_path)
        assert CHUNK_SIZE * len(HOSTS) <= stopped_at < len(run.urls), "the stop lands mid-run"
        assert list(run.warc_dir.glob("*.open")), "a stopped writer leaves its file open"
        rerun(stalled)
    assert_complete_without_duplicates(run)


@pytest.mark.parametrize(
    ("send", "new_session"), [(os.kill, False), (os.killpg, True)], ids=["archiver", "group"]
)
def test_ctrl_c_while_pages_wait_for_extraction_prints_one_line(
    tmp_path: Path, send: Callable[[int, int], None], new_session: bool
) -> None:
    """Ctrl-C cancels the extractions still queued: that is no failure, so no 'text not
    extracted' warning; and the extraction workers leave Ctrl-C to the archiver, so a
    terminal's, which reaches the whole process group, prints no worker traceback (issue 10).
    The rerun after such a stop: ``test_stopped_run_then_rerun_completes_without_duplicates``.
    """
    with stalled_run(tmp_path, new_session=new_session) as stalled:
        stderr = stalled.stop(send, signal.SIGINT)
    assert stalled.run.process.returncode == 130
    assert_only_interrupted(stderr)


def test_ctrl_c_to_the_process_group_as_a_worker_starts_prints_no_traceback(
    tmp_path: Path,
) -> None:
    """Ctrl-C while an extraction worker still starts up, before its initializer could ignore
    SIGINT: it starts with SIGINT blocked, so the signal waits and is dropped (issue 10)."""
    with ExitStack() as stack:
        run = start_run(stack, tmp_path, [Gate(CHUNK_SIZE)], new_session=True)
        wait_for(lambda: bool(extraction_workers(run.process.pid)), "an extraction worker")
        starting = extraction_workers(run.process.pid)
        for pid in starting:
            os.kill(pid, signal.SIGSTOP)  # held where it is: importing, as a rule
        os.killpg(run.process.pid, signal.SIGINT)
        resume(starting)
        _, stderr = run.process.communicate(timeout=FAILSAFE)
    assert run.process.returncode == 130
    assert_only_interrupted(stderr.decode())


def test_an_extraction_worker_killed_mid_run_loses_nothing(tmp_path: Path) -> None:
    """kill -9 of one extraction worker (as the OOM killer would) while pages wait for it: the
    run still ends normally with every page captured and its text extracted, no traceback."""
    with stalled_run(tmp_path) as stalled:
        run = stalled.run
        os.kill(stalled.workers[0], signal.SIGKILL)
        stalled.resume_workers()
        stalled.rest.open()
        _, stderr = run.process.communicate(timeout=FAILSAFE)
    assert run.process.returncode == 0, stderr.decode()
    assert "Traceback" not in stderr.decode()
    db = open_db(run.db_path)
    captured = db.execute("select count(distinct url) from captures where outcome = 'ok'")
    assert captured.fetchone()[0] == len(run.urls)
    with_text = db.execute("select count(*) from sources where text is not null").fetchone()[0]
    assert with_text == len(run.urls)


def test_ctrl_c_while_checks_wait_for_extraction_prints_one_line(tmp_path: Path) -> None:
    """``archiver check`` waits for its extractions in the checking threads, not through
    ``when_all_done``: Ctrl-C cancels those still queued, which is no failure either, so no
    'text not extracted' warning (issue 11).

    Every page is missing when archived and there when checked, so every check extracts its
    page. Two hosts start the extraction workers, which are then paused, and queue more pages
    than the workers and their call queue can hold; only then does the third host fetch its
    pages. The pool hands work out in order, so all of the third host's extractions are still
    queued, and its thread waits for the first of them, when Ctrl-C comes.
    """
    cores = os.cpu_count() or 1
    if cores < 2:
        pytest.skip("extraction runs in worker processes only on more than one core")
    fillers, victim = HOSTS[:2], HOSTS[2]
    # Pages the two first hosts fetch before the pause: the inline extractions, then one for
    # each worker the pool starts.
    start = Gate(-(-(revisit.POOL_AFTER - 1 + cores) // len(fillers)))
    last = check.CHUNK_SIZE - 1  # one chunk per host
    # Held by the workers and their call queue (cores + 1) once paused, at most; the first
    # hosts queue more than that before the third host's first page.
    if len(fillers) * last - (revisit.POOL_AFTER - 1) <= 2 * cores + 1:
        pytest.skip(f"{cores} cores: two hosts' pages cannot fill the extraction queue")
    live = threading.Event()
    third = Gate(0)

    def page(gate: Gate) -> Behaviour:
        def behaviour(h: Handler) -> None:
            number = h.path.rsplit("/", 1)[1]
            if not (live.is_set() and number.isdigit()):  # also soft-404 probes' made-up paths
                h.respond(404, b"<html><body>no such page</body></html>")
                return
            gate.pass_through(int(number))
            h.respond(200, PAGE)

        return behaviour

    with ExitStack() as stack:
        first_hosts = [stack.enter_context(WebServer(h, {"/slow/": page(start)})) for h in fillers]
        last_host = stack.enter_context(WebServer(victim, {"/slow/": page(third)}))
        stack.callback(start.open)
        stack.callback(third.open)
        servers = [*first_hosts, last_host]
        urls = [s.url(f"/slow/{i}") for i in range(check.CHUNK_SIZE) for s in servers]
        article = tmp_path / "article.md"
        article.write_text(
            " ".join(f"Claim {i} [src]({u})." for i, u in enumerate(urls)), encoding="utf-8"
        )
        options = ["--db", str(tmp_path / "citations.db"), "--warc-dir", str(tmp_path / "warc")]
        options += ["--allow-private-addresses", "--delay", "0", "--timeout", str(FAILSAFE)]
        options += ["--silent"]
        command = [sys.executable, "-m", "archiver"]
        archived = subprocess.run(
            [*command, "archive", str(article), *options], capture_output=True, timeout=FAILSAFE
        )
        assert archived.returncode == 0, archived.stderr
        archived_requests = len(last_host.requests)
        live.set()
        process = subprocess.Popen(
            [*command, "check", *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=default_ctrl_c,
        )
        stack.callback(process.wait)
        stack.callback(process.kill)
        start.wait_for_arrivals(len(fillers))
        wait_for(lambda: len(extraction_workers(process.pid)) == cores, "the extraction workers")
        workers = extraction_workers(process.pid)
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        stack.callback(resume, workers)
        start.open()
        # Asking for its last page, a host has queued the extractions of all the others.
        start.wait_for_arrivals(len(fillers) * (check.CHUNK_SIZE - start.first))
        third.open()

        def last_page_answered() -> bool:
            checked = last_host.requests[archived_requests:]
            return any(r.path == f"/slow/{last}" and r.ended for r in checked)

        wait_for(last_page_answered, "the third host's last page")
        os.kill(process.pid, signal.SIGINT)
        resume(workers)
        _, stderr = process.communicate(timeout=FAILSAFE)
    assert process.returncode == 130
    assert_only_interrupted(stderr.decode(), "links checked and saved")


def test_a_page_handed_on_after_ctrl_c_is_cancelled_not_failed() -> None:
    """Ctrl-C stops the extraction workers while the fetching threads finish the pages they are
    on: a page handed on afterwards is cancelled like the queued ones, not failed with 'text
    not extracted: cannot schedule new futures after shutdown' (issue 11)."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("extraction runs in worker processes only on more than one core")

    def fetched(number: int) -> FetchResult:
        url = f"http://example.test/{number}"
        return FetchResult(
            url, "ok", "2026-11-28T00:00:00Z", content_type="text/html", body=io.BytesIO(PAGE)
        )

    extraction = Extraction(after=1)
    assert extraction.submit(fetched(1)).result(timeout=FAILSAFE).title == "Held"  # in a worker
    extraction.shutdown()
    assert extraction.submit(fetched(2)).cancelled()
