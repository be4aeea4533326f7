"""archive and check on a Dask cluster: a LocalCluster (``--workers``), and real ``dask
scheduler`` / ``dask worker`` processes on 127.0.0.1 (``--scheduler``), against loopback servers.

As in test_crash.py, no test waits for time to pass: held pages (``Gate``) put a run where it
needs to be, and a worker is killed only once a request of its task is held.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from distributed import Client
from serving import free_port
from test_crash import (
    FAILSAFE,
    Gate,
    Run,
    assert_complete_without_duplicates,
    assert_only_interrupted,
    captures_so_far,
    default_ctrl_c,
    live_processes,
    wait_for,
)
from test_pipeline import ARTICLE_PAGE, run_archive
from webserver import Handler, WebServer

from archiver.capture.warc import read_records
from archiver.cli import cli
from archiver.ingest.article import load_article
from archiver.net.fetch import FetchConfig
from archiver.run.archive import archive_urls, frontier
from archiver.run.engine import CHUNK_SIZE
from archiver.store import open_db, save_article

REPO = Path(__file__).resolve().parents[1]
DASK = str(Path(sys.executable).with_name("dask"))
HOSTS = ("127.0.0.5", "127.0.0.6", "127.0.0.8")
#: Two chunks per host: the first may be saved while the second is held.
PAGES_PER_HOST = CHUNK_SIZE + 2


def write_article(path: Path, urls: list[str]) -> Path:
    path.write_text(" ".join(f"Claim {i} [src]({u})." for i, u in enumerate(urls)), "utf-8")
    return path


def small_page(*gates: Gate) -> Callable[[Handler], None]:
    """``/p/N``: a short page, once every gate lets page N through."""

    def page(h: Handler) -> None:
        number = int(h.path.rsplit("/", 1)[1])
        for gate in gates:
            gate.pass_through(number)
        h.respond(200, b"<html><body><p>Page %d of a held site.</p></body></html>" % number)

    return page


# -- the same archive on a LocalCluster as here ---------------------------------------------------


def run_check(db_path: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        cli,
        ["check", "--db", str(db_path), "--warc-dir", str(db_path.parent / "warc")]
        + ["--allow-private-addresses", "--delay", "0", "--timeout", "5", "--json", "--silent"]
        + list(extra),
    )
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def archive_rows(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What an archive says of its article, without times, paths or ids."""
    db = open_db(db_path)
    queries = {
        "citations": "select position, url, claim from citations order by position",
        "captures": "select url, outcome, status_code, final_url, payload_sha256 from captures "
        "order by url",
        "sources": "select url, title, text, latest_outcome, link_status from sources order by url",
        "evidence": "select c.position, e.label, e.passage from evidence e "
        "join citations c on c.id = e.citation_id order by c.position",
        "checks": "select url, outcome, status_code, similarity, drift from checks order by url",
    }
    return {
        table: [tuple(row) for row in db.execute(sql).fetchall()] for table, sql in queries.items()
    }


def test_an_archive_made_on_a_local_cluster_is_the_one_made_here(tmp_path: Path) -> None:
    """Rows, evidence labels and check verdicts alike; the workers wrote the WARC files (named
    for their own pids, all closed), the coordinator none."""
    routes = {"/article-page": lambda h: h.respond(200, ARTICLE_PAGE.encode())}
    with ExitStack() as stack:
        a, b, c = (stack.enter_context(WebServer(host, routes)) for host in HOSTS)
        claims = [
            f"The new terminal cost US$1.2 billion [source]({a.url('/article-page')}).",
            f"The new terminal cost US$1.5 billion [report]({b.url('/article-page')}).",
            f"The archive says hello [greeting]({c.url('/ok')}).",
            f"This page is missing [notice]({a.url('/status/404')}).",
            f"This one moved [move]({b.url('/redirect/301/2')}).",
            f"This one is gone [record]({c.url('/status/410')}).",
        ]
        article = tmp_path / "article.md"
        article.write_text("# Ports\n\n" + " ".join(claims) + "\n", encoding="utf-8")
        here, there = tmp_path / "here" / "citations.db", tmp_path / "cluster" / "citations.db"
        local = run_archive(article, here)
        remote = run_archive(article, there, "--workers", "2")
        assert remote["fetch"] == local["fetch"] and remote["evidence"] == local["evidence"]
        run_check(here)
        run_check(there, "--workers", "2")
    expected = archive_rows(here)
    assert {label for _, label, _ in expected["evidence"]} >= {"supported", "partial"}
    assert archive_rows(there) == expected
    warc_dir = there.parent / "warc"
    assert not list(warc_dir.glob("*.open"))
    writers = {int(path.name.split("-")[-3]) for path in warc_dir.glob("*.warc.gz")}
    assert writers and os.getpid() not in writers


def test_workers_refuse_private_addresses_unless_allowed(
    tmp_path: Path, web_server: WebServer
) -> None:
    """The guard runs where the fetch does: a worker inside a network is no way into it."""
    article = write_article(tmp_path / "article.md", [web_server.url("/ok")])
    db_path = tmp_path / "citations.db"
    result = CliRunner().invoke(
        cli,
        ["archive", str(article), "--db", str(db_path), "--warc-dir", str(tmp_path / "warc")]
        + ["--workers", "1", "--json", "--silent"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["fetch"]["outcomes"] == {"blocked_private_address": 1}
    assert web_server.requests == []


# -- a host's pace across processes ---------------------------------------------------------------


class TakingTurns(Executor):
    """Two single-process pools, each chunk on the other one: a host's next chunk always runs
    in a process whose throttle never saw the host (as on a cluster, where it may)."""

    def __init__(self) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.pools = [ProcessPoolExecutor(max_workers=1, mp_context=spawn) for _ in range(2)]
        self.turn = count()
        for pool in self.pools:  # started, the archiver imported: the gaps are the throttle's
            pool.submit(exec, "import archiver.run.revisit").result()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return self.pools[next(self.turn) % 2].submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        for pool in self.pools:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def test_a_host_s_retry_after_holds_for_its_next_chunk_in_another_process(
    tmp_path: Path, web_server: WebServer
) -> None:
    """The first chunk's last page asks for a second's rest (Retry-After): the host hears
    nothing more for that long, though its next chunk runs in a process that never heard it."""
    last_of_first = CHUNK_SIZE - 1

    def page(h: Handler) -> None:
        number = int(h.path.rsplit("/", 1)[1])
        rest = {"Retry-After": "1"} if number == last_of_first else None
        h.respond(200, b"<html><body><p>A page.</p></body></html>", headers=rest)

    web_server.routes["/p/"] = page
    urls = [web_server.url(f"/p/{i}") for i in range(CHUNK_SIZE + 1)]
    db = open_db(tmp_path / "citations.db")
    saved = save_article(db, load_article(str(write_article(tmp_path / "article.md", urls))))
    config = FetchConfig(allow_private_addresses=True, delay=0, timeout=FAILSAFE)
    stats = archive_urls(
        db,
        frontier(db, article_ids=[saved.article_id]),
        config=config,
        warc_dir=tmp_path / "warc",
        executor=TakingTurns(),
    )
    assert dict(stats.outcomes) == {"ok": len(urls)}
    writers = {row["url"]: row["warc_path"].split("-")[-3] for row in db["captures"].rows}
    assert writers[urls[0]] != writers[urls[-1]], "the chunks ran in two processes"
    requests = web_server.requests
    asked = next(i for i, r in enumerate(requests) if r.path == f"/p/{last_of_first}")
    rest = requests[asked + 1].started - requests[asked].ended
    assert rest >= 1.0, f"the host was asked again {rest:.2f}s after a Retry-After of 1s"


# -- bad cluster options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "cannot be used together"),
        (["--workers", "0"], "'--workers'"),
        (["--workers", "1", "--no-fetch"], "--no-fetch fetches nothing"),
        (["--scheduler", "http://127.0.0.1:8786"], "is not a Dask scheduler address"),
        (["--scheduler", "tcp://127.0.0.1"], "is not a Dask scheduler address"),
        (["--scheduler", "UNREACHABLE"], "cannot reach the Dask scheduler at tcp://127.0.0.1:"),
    ],
    ids=["both", "no-workers", "no-fetch", "scheme", "no-port", "unreachable"],
)
def test_a_cluster_that_cannot_be_used_is_refused_before_anything_is_written(
    tmp_path: Path, options: list[str], message: str
) -> None:
    options = [f"tcp://127.0.0.1:{free_port()}" if o == "UNREACHABLE" else o for o in options]
    article = write_article(tmp_path / "article.md", ["http://127.0.0.1:9/x"])
    db_path = tmp_path / "citations.db"
    result = CliRunner().invoke(cli, ["archive", str(article), "--db", str(db_path), *options])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr
    assert message in result.stderr.strip().splitlines()[-1]
    assert not db_path.exists()


# -- real dask scheduler and workers --------------------------------------------------------------


@dataclass
class DaskCluster:
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1, and a client of ours."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]
    client: Client

    def pids(self) -> dict[str, int]:
        """Each worker's address and pid."""
        return {address: int(pid) for address, pid in self.client.run(os.getpid).items()}

    def scheduler_tasks(self) -> int:
        return int(self.client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)))


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    with ExitStack() as stack:

        def start(*command: str) -> subprocess.Popen[bytes]:
            process = subprocess.Popen(
                [DASK, *command], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            stack.callback(process.wait)
            stack.callback(process.kill)
            return process

        scheduler_file = str(tmp_path / "scheduler.json")  # the workers wait for it
        scheduler = start(
            *"scheduler --host 127.0.0.1 --port 0 --no-dashboard".split(),
            "--scheduler-file",
            scheduler_file,
        )
        workers = [
            start(
                *"worker --host 127.0.0.1 --nthreads 2 --no-nanny --no-dashboard".split(),
                "--scheduler-file",
                scheduler_file,
                "--local-directory",
                str(tmp_path / f"w{i}"),
            )
            for i in range(2)
        ]
        client = Client(scheduler_file=scheduler_file, timeout=FAILSAFE, set_as_default=False)
        stack.callback(client.close)
        client.wait_for_workers(2, timeout=FAILSAFE)
        address = json.loads(Path(scheduler_file).read_text())["address"]
        yield DaskCluster(address, scheduler, workers, client)


def start_archive(
    tmp_path: Path, gate: Gate, *options: str, new_session: bool = False
) -> tuple[Run, ExitStack]:
    """Servers whose pages pass ``gate``, and ``archiver archive`` of them in a subprocess."""
    stack = ExitStack()
    servers = [stack.enter_context(WebServer(h, {"/p/": small_page(gate)})) for h in HOSTS]
    stack.callback(gate.open)
    urls = [s.url(f"/p/{i}") for i in range(PAGES_PER_HOST) for s in servers]
    article = write_article(tmp_path / "article.md", urls)
    db_path, warc_dir = tmp_path / "citations.db", tmp_path / "warc"
    command = [sys.executable, "-m", "archiver", "archive", str(article), "--db", str(db_path)]
    command += ["--warc-dir", str(warc_dir), "--allow-private-addresses", "--delay", "0"]
    command += ["--timeout", str(FAILSAFE), "--silent"]
    process = subprocess.Popen(
        [*command, *options],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=new_session,
        preexec_fn=default_ctrl_c,
    )
    stack.callback(process.wait)
    stack.callback(process.kill)
    return Run(process, command, urls, db_path, warc_dir), stack


def rerun(run: Run, *options: str) -> None:
    """The same command again, in this process: its start-up is not what is tested."""
    again = CliRunner().invoke(cli, [*run.command[3:], *options])
    assert again.exit_code == 0, again.output


def test_a_worker_killed_mid_run_loses_nothing(tmp_path: Path, dask_cluster: DaskCluster) -> None:
    """kill -9 of a worker while its task holds a page: the scheduler runs the task again on
    the other worker, every URL gets one capture, and the next run repairs the dead worker's
    ``.open`` file."""
    gate = Gate(1)  # every host's first page is written, then the chunks are held
    run, stack = start_archive(tmp_path, gate, "--scheduler", dask_cluster.address)
    with stack:
        gate.wait_for_arrivals(len(HOSTS))
        busy = [w for w, keys in dask_cluster.client.processing().items() if keys]
        victim = dask_cluster.pids()[busy[0]]
        os.kill(victim, signal.SIGKILL)
        gate.open()
        _, stderr = run.process.communicate(timeout=FAILSAFE)
        assert run.process.returncode == 0, stderr.decode()
        db = open_db(run.db_path)
        per_url = dict(db.execute("select url, count(*) from captures group by url").fetchall())
        assert per_url == {url: 1 for url in run.urls}
        torn = [p for p in run.warc_dir.glob("*.open") if f"-{victim}-" in p.name]
        assert torn, "the killed worker left its file open"
        rerun(run, "--scheduler", dask_cluster.address)
    assert not any(path.exists() for path in torn)
    repaired = [p for p in run.warc_dir.glob("*.warc.gz") if f"-{victim}-" in p.name]
    assert repaired
    for path in repaired:
        scan = read_records(path)
        assert not scan.torn and scan.error is None, path
    assert_complete_without_duplicates(run)


def test_ctrl_c_cancels_the_run_s_tasks_and_leaves_the_cluster_running(
    tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    gate = Gate(1)
    run, stack = start_archive(tmp_path, gate, "--scheduler", dask_cluster.address)
    with stack:
        gate.wait_for_arrivals(len(HOSTS))
        run.process.send_signal(signal.SIGINT)
        _, stderr = run.process.communicate(timeout=FAILSAFE)
        assert run.process.returncode == 130
        assert_only_interrupted(stderr.decode())
        gate.open()
        wait_for(lambda: dask_cluster.scheduler_tasks() == 0, "the run's tasks to be forgotten")
        assert len(dask_cluster.pids()) == 2
        rerun(run, "--scheduler", dask_cluster.address)
    assert_complete_without_duplicates(run)


def test_ctrl_c_stops_the_local_cluster_with_the_run(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the whole process group: the workers started for the run
    neither die of it with tracebacks nor outlive the run, which ends as a local one does."""
    gate = Gate(1)
    run, stack = start_archive(tmp_path, gate, "--workers", "2", new_session=True)
    with stack:
        gate.wait_for_arrivals(len(HOSTS))
        os.killpg(run.process.pid, signal.SIGINT)
        _, stderr = run.process.communicate(timeout=FAILSAFE)
        assert run.process.returncode == 130
        assert_only_interrupted(stderr.decode())
        wait_for(lambda: not live_processes(group=run.process.pid), "the workers to end")


def test_losing_the_scheduler_ends_the_run_in_one_line_and_a_rerun_completes_it(
    tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    gate = Gate(CHUNK_SIZE)  # every host's first chunk is saved, its second held
    run, stack = start_archive(tmp_path, gate, "--scheduler", dask_cluster.address)
    with stack:
        gate.wait_for_arrivals(len(HOSTS))
        saved = CHUNK_SIZE * len(HOSTS)
        wait_for(lambda: captures_so_far(run.db_path) == saved, "the first chunks")
        dask_cluster.client.close()
        dask_cluster.scheduler.kill()
        _, stderr = run.process.communicate(timeout=FAILSAFE)
        assert run.process.returncode == 1
        assert re.fullmatch(
            rf"Error: lost the Dask scheduler at {dask_cluster.address}; {saved} of "
            rf"{len(run.urls)} cited URLs saved; rerun the same command to finish\n",
            stderr.decode(),
        ), stderr.decode()
        for worker in dask_cluster.workers:  # the rest of the cluster goes down too
            worker.kill()
            worker.wait()  # dead, its lock on its .open file gone, before the rerun repairs it
        gate.open()
        rerun(run)
    assert_complete_without_duplicates(run)
