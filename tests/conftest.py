"""Fixtures that build real things: SQLite files, the bundled article, the developer corpus."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_ARTICLE = REPO / "examples" / "china-russia-central-asia.md"
CORPUS = REPO.parent / "shared" / "corpus"
IN_CI = os.environ.get("CI") == "true"

pytest_plugins = ["webserver"]  # the loopback test web server's fixtures, for every test


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "citations.db"


@pytest.fixture
def example_article() -> Path:
    return EXAMPLE_ARTICLE


@pytest.fixture(scope="session")
def corpus_pages() -> list[dict[str, Any]]:
    """The developer corpus of real article pages; absent from a user's clone."""
    manifest = CORPUS / "manifest.json"
    if not manifest.exists():
        pytest.skip(
            f"developer corpus not found at {CORPUS} (it lives beside the repo, in shared/)"
        )
    pages: list[dict[str, Any]] = json.loads(manifest.read_text(encoding="utf-8"))
    for page in pages:
        page["html"] = (CORPUS / page["html_file"]).read_text(encoding="utf-8")
    return pages


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: As the machine notes advise for a closed network: no background traffic, fresh profile.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright; CI must have it, a laptop may not."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            raise RuntimeError(f"CI must install Chromium (Debian package 'chromium'): {CHROMIUM}")
        pytest.skip(f"headless Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
