"""The served archive as a person sees it: real `archiver serve`, real headless Chromium."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SCREENSHOTS
from serving import serving

from archiver.ingest.article import load_article
from archiver.store import open_db, save_article

pytestmark = pytest.mark.browser


@pytest.fixture
def archive_db(tmp_path: Path, example_article: Path) -> Path:
    db_path = tmp_path / "citations.db"
    save_article(open_db(db_path), load_article(str(example_article)))
    return db_path


@pytest.fixture
def served(archive_db: Path) -> Iterator[str]:
    with serving(archive_db) as (base, _):
        yield base


def test_stopping_serve_stops_the_server(archive_db: Path) -> None:
    """serve becomes Datasette: a kill of the process it started leaves no server behind."""
    with serving(archive_db) as (base, server):
        server.terminate()
        server.wait(timeout=10)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}/-/versions.json", timeout=2).close()


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
