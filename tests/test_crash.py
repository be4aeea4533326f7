"""kill -9 or Ctrl-C in the middle of an archive run, then the same command again, completes it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from webserver import Handler, WebServer

from archiver.db import open_db
from archiver.warc import read_records
from archiver.workers import PROCESS_EXTRACTION_AFTER

#: Over 64 KB, so a record decompresses to more than one read of the WARC repair (a record that
#: size once made the rerun's repair of the torn file crash).
PAGE = (
    b"<html><head><title>Slow</title></head><body><article><p>A slow page, served in a while.</p>"
    + b"".join(b"<p>Paragraph %d of the slow page says %d.</p>" % (i, i * 7) for i in range(2000))
    + b"</article></body></html>"
)


def slow_page(h: Handler) -> None:
    time.sleep(0.15)
    h.respond(200, PAGE)


def captures_so_far(db_path: Path) -> int:
    try:
        with sqlite3.connect(db_path, timeout=1) as conn:
            return int(conn.execute("select count(*) from captures").fetchone()[0])
    except sqlite3.Error:
        return 0


def children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def all_gone(pids: list[int], *, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_stopped_run_then_rerun_completes_without_duplicates(
    tmp_path: Path, stop: signal.Signals
) -> None:
    with (
        WebServer("127.0.0.5", {"/slow/": slow_page}) as one,
        WebServer("127.0.0.6", {"/slow/": slow_page}) as two,
        WebServer("127.0.0.8", {"/slow/": slow_page}) as three,
    ):
        # Killed past PROCESS_EXTRACTION_AFTER pages, while extraction worker processes run.
        servers = (one, two, three)
        urls = [server.url(f"/slow/{i}") for i in range(30) for server in servers]
        article = tmp_path / "article.md"
        article.write_text(
            " ".join(f"Claim {i} [src]({u})." for i, u in enumerate(urls)), encoding="utf-8"
        )
        db_path, warc_dir = tmp_path / "citations.db", tmp_path / "warc"
        command = [
            sys.executable,
            "-m",
            "archiver",
            "archive",
            str(article),
            "--db",
            str(db_path),
            "--warc-dir",
            str(warc_dir),
            "--allow-private-addresses",
            "--delay",
            "0",
            "--timeout",
            "5",
            "--silent",
        ]
        run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while (
            captures_so_far(db_path) < PROCESS_EXTRACTION_AFTER + 8
            and time.monotonic() < deadline
            and run.poll() is None
        ):
            time.sleep(0.05)
        workers = children(run.pid)
        assert workers, "extraction worker processes are running"
        os.kill(run.pid, stop)
        _, stderr = run.communicate(timeout=30)
        assert all_gone(workers, within=10), "workers must not outlive the archiver"
        stopped_at = captures_so_far(db_path)
        assert PROCESS_EXTRACTION_AFTER + 8 <= stopped_at < len(urls), "the stop must land mid-run"
        assert list(warc_dir.glob("*.open")), "a stopped writer leaves its file open"
        if stop == signal.SIGINT:
            assert run.returncode == 130
            message = stderr.decode().strip()
            assert message.startswith("Interrupted: ") and message.endswith(
                "cited URLs saved; rerun the same command to finish."
            )
            assert "Traceback" not in message

        rerun = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr

    db = open_db(db_path)
    per_url = dict(
        db.execute(
            "select url, count(*) from captures where outcome = 'ok' group by url"
        ).fetchall()
    )
    assert per_url == {url: 1 for url in urls}
    assert not list(warc_dir.glob("*.open"))
    for path in warc_dir.glob("*.warc.gz"):
        scan = read_records(path)
        assert not scan.torn and scan.error is None, path
    offsets = {(row["warc_path"], row["warc_offset"]) for row in db["captures"].rows}
    assert len(offsets) == len(urls)


def _extraction_workers(pid: int) -> list[int]:
    """The archiver's spawned extraction workers (its multiprocessing resource tracker aside)."""
    found = []
    for child in children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            found.append(child)
    return found


def test_an_extraction_worker_killed_mid_run_loses_nothing(tmp_path: Path) -> None:
    """kill -9 of one extraction worker (as the OOM killer would) mid-run: the run still ends
    normally with every page captured and its text extracted, and no traceback."""
    with (
        WebServer("127.0.0.5", {"/slow/": slow_page}) as one,
        WebServer("127.0.0.6", {"/slow/": slow_page}) as two,
    ):
        urls = [server.url(f"/slow/{i}") for i in range(25) for server in (one, two)]
        article = tmp_path / "article.md"
        article.write_text(
            " ".join(f"Claim {i} [src]({u})." for i, u in enumerate(urls)), encoding="utf-8"
        )
        db_path = tmp_path / "citations.db"
        command = [sys.executable, "-m", "archiver", "archive", str(article), "--db"]
        command += [str(db_path), "--warc-dir", str(tmp_path / "warc"), "--delay", "0"]
        command += ["--allow-private-addresses", "--timeout", "5", "--silent"]
        run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while captures_so_far(db_path) < 4 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.05)
        workers = _extraction_workers(run.pid)
        assert workers, "extraction worker processes are running"
        os.kill(workers[0], signal.SIGKILL)
        assert captures_so_far(db_path) < len(urls), "the kill must land mid-run"
        _, stderr = run.communicate(timeout=120)

    assert run.returncode == 0, stderr.decode()
    assert "Traceback" not in stderr.decode()
    db = open_db(db_path)
    captured = db.execute("select count(distinct url) from captures where outcome = 'ok'")
    assert captured.fetchone()[0] == len(urls)
    with_text = db.execute("select count(*) from sources where text is not null").fetchone()[0]
    assert with_text == len(urls)
