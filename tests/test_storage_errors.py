"""A WARC folder that cannot be written mid-run ends archive and check with one line (issue 11).

The folder is moved away mid-run and a file put in its place, by the test server while it
answers one page: a real failure, at a known page, on any machine and as root (a full disk or a
read-only remount cannot be made in a container). Putting the folder back is the "good
directory" the rerun gets.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from webserver import Handler, WebServer

from archiver.capture.warc import read_records
from archiver.run import check
from archiver.run import engine as scheduling
from archiver.store import open_db, warc_file

PAGE = (
    b"<html><head><title>Page</title></head><body><article><p>Container traffic through the "
    b"port rose by 12 per cent in 2020, the authority reported.</p></article></body></html>"
)
#: Bounds each run, so a hang fails the test; no assertion depends on it.
FAILSAFE = 120.0


class Site:
    """``/page/N`` on 127.0.0.1: a 404 until ``live``, then the page; answering page
    ``spoil_at``, it moves the WARC folder aside and leaves a file in its place, once."""

    def __init__(self, warc_dir: Path, spoil_at: int) -> None:
        self.warc_dir = warc_dir
        self.aside = warc_dir.with_name("warc-moved")
        self.spoil_at = spoil_at
        self.live = False
        self.spoiled = False
        self._lock = threading.Lock()

    def page(self, h: Handler) -> None:
        number = h.path.rsplit("/", 1)[1]
        if not (self.live and number.isdigit()):  # also the check's made-up probe paths
            h.respond(404, b"<html><body>no such page</body></html>")
            return
        with self._lock:
            if int(number) == self.spoil_at and not self.spoiled:
                self.warc_dir.rename(self.aside)
                self.warc_dir.write_bytes(b"not a folder")
                self.spoiled = True
        h.respond(200, PAGE)

    def restore(self) -> None:
        """The good directory again: the file gone, the folder back with what it held."""
        self.warc_dir.unlink()
        self.aside.rename(self.warc_dir)


@pytest.fixture
def server() -> Iterator[WebServer]:
    with WebServer("127.0.0.1") as web:
        yield web


def run_archiver(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in a process of its own: its stderr is all a user would see."""
    command = [sys.executable, "-m", "archiver", *args, "--db", str(tmp_path / "citations.db")]
    command += ["--warc-dir", str(tmp_path / "warc"), "--allow-private-addresses"]
    command += ["--delay", "0", "--timeout", "30", "--silent"]
    return subprocess.run(command, capture_output=True, text=True, timeout=FAILSAFE)


def start(tmp_path: Path, server: WebServer, pages: int, spoil_at: int) -> tuple[Site, Path]:
    site = Site(tmp_path / "warc", spoil_at)
    server.routes["/page/"] = site.page
    article = tmp_path / "article.md"
    links = " ".join(f"Claim {i} [src]({server.url(f'/page/{i}')})." for i in range(pages))
    article.write_text(f"# Ports\n\n{links}\n", encoding="utf-8")
    return site, article


def assert_one_error_line(stderr: str, progress: str, warc_dir: Path) -> None:
    """Exactly one line: the folder, why, what was kept and what to do; no traceback."""
    assert re.fullmatch(
        rf"Error: cannot write WARC records to {re.escape(str(warc_dir))}: \S+\.warc\.gz\.open "
        rf"was moved or deleted while written; {progress}; make sure the folder can be written "
        r"and rerun the same command\n",
        stderr,
    ), stderr


def count(tmp_path: Path, sql: str) -> int:
    with sqlite3.connect(tmp_path / "citations.db") as conn:
        return int(conn.execute(sql).fetchone()[0])


def assert_every_capture_readable(tmp_path: Path) -> None:
    """No file left ``.open``, and each capture row points at a whole record of its URL."""
    warc_dir = tmp_path / "warc"
    assert not list(warc_dir.glob("*.open"))
    db = open_db(tmp_path / "citations.db")
    for row in db.query("select url, warc_path, warc_offset from captures where outcome = 'ok'"):
        scan = read_records(warc_file(db, row["warc_path"]))
        assert not scan.torn
        [record] = [r for r in scan.records if r.offset == row["warc_offset"]]
        assert (record.record_type, record.target_uri) == ("response", row["url"])


def test_archive_stops_at_a_warc_folder_gone_mid_run(tmp_path: Path, server: WebServer) -> None:
    pages = scheduling.CHUNK_SIZE + 4  # the first chunk is saved, the second fails
    site, article = start(tmp_path, server, pages, spoil_at=scheduling.CHUNK_SIZE + 2)
    site.live = True
    first = run_archiver(tmp_path, "archive", str(article))
    assert first.returncode == 1
    progress = f"{scheduling.CHUNK_SIZE} of {pages} cited URLs saved"
    assert_one_error_line(first.stderr, progress, tmp_path / "warc")
    saved = "select count(*) from captures where outcome = 'ok'"
    assert count(tmp_path, saved) == scheduling.CHUNK_SIZE

    site.restore()
    again = run_archiver(tmp_path, "archive", str(article))
    assert again.returncode == 0, again.stderr
    assert count(tmp_path, saved) == count(tmp_path, "select count(distinct url) from captures")
    assert count(tmp_path, saved) == pages
    assert_every_capture_readable(tmp_path)


def test_check_stops_at_a_warc_folder_gone_mid_run(tmp_path: Path, server: WebServer) -> None:
    pages = check.CHUNK_SIZE + 4
    site, article = start(tmp_path, server, pages, spoil_at=check.CHUNK_SIZE + 2)
    archived = run_archiver(tmp_path, "archive", str(article))  # every page missing, then
    assert archived.returncode == 0, archived.stderr
    site.live = True  # ...every page there: each check captures its page
    first = run_archiver(tmp_path, "check")
    assert first.returncode == 1
    progress = f"{check.CHUNK_SIZE} of {pages} links checked and saved"
    assert_one_error_line(first.stderr, progress, tmp_path / "warc")
    assert count(tmp_path, "select count(*) from checks") == check.CHUNK_SIZE

    site.restore()
    again = run_archiver(tmp_path, "check")
    assert again.returncode == 0, again.stderr
    assert count(tmp_path, "select count(*) from checks") == check.CHUNK_SIZE + pages
    assert count(tmp_path, "select count(distinct url) from captures where outcome = 'ok'") == (
        pages
    )
    assert_every_capture_readable(tmp_path)
