"""kill -9 in the middle of an archive run, then the same command again, completes the archive."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from webserver import Handler, WebServer

from archiver.db import open_db
from archiver.warc import read_records

PAGE = b"<html><head><title>Slow</title></head><body><article><p>A slow page, served in a while.</p></article></body></html>"


def slow_page(h: Handler) -> None:
    time.sleep(0.15)
    h.respond(200, PAGE)


def captures_so_far(db_path: Path) -> int:
    try:
        with sqlite3.connect(db_path, timeout=1) as conn:
            return int(conn.execute("select count(*) from captures").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_kill_9_then_rerun_completes_without_duplicates(tmp_path: Path) -> None:
    with (
        WebServer("127.0.0.5", {"/slow/": slow_page}) as one,
        WebServer("127.0.0.6", {"/slow/": slow_page}) as two,
    ):
        urls = [server.url(f"/slow/{i}") for i in range(20) for server in (one, two)]
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
        while captures_so_far(db_path) < 8 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.05)
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
        killed_at = captures_so_far(db_path)
        assert 8 <= killed_at < len(urls), "the kill must land mid-run"
        assert list(warc_dir.glob("*.open")), "a killed writer leaves its file open"

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
