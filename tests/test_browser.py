"""The served archive as a person sees it: real `archiver serve`, real headless Chromium."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SCREENSHOTS

from archiver.article import load_article
from archiver.db import open_db, save_article

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, example_article: Path) -> Iterator[str]:
    """`archiver serve` on a free loopback port, waited for (at most 30 s), stopped afterwards."""
    db_path = tmp_path / "citations.db"
    save_article(open_db(db_path), load_article(str(example_article)))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "archiver", "serve", "--db", str(db_path), "--port", str(port)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/-/versions.json", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("archiver serve did not come up") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_search_in_the_browser_shows_the_claims(served: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{served}/citations/citations", timeout=30_000)
    assert "One row per link the article cites" in page.content()
    page.fill("input[name=_search]", "Turkmenistan")
    page.press("input[name=_search]", "Enter")
    page.wait_for_url("**_search=Turkmenistan**", timeout=15_000)
    cells = page.locator("td.col-claim").all_inner_texts()
    page.screenshot(path=str(SCREENSHOTS / "search-turkmenistan.png"), full_page=True)
    assert (
        "Three of them border China, while Turkmenistan is heavily indebted to Beijing and "
        "is China's main supplier of gas." in cells
    )
    assert all("Turkmenistan" in cell or "Kyrgyzstan" in cell or "Tajik" in cell for cell in cells)
    assert (SCREENSHOTS / "search-turkmenistan.png").stat().st_size > 10_000
