"""Fixtures that build real things: SQLite files, the bundled article, the developer corpus."""

from __future__ import annotations

import json
import os
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
