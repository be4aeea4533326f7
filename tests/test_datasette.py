"""The archive as Datasette publishes it, through Datasette's own test client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from datasette.app import Datasette

from archiver.article import load_article
from archiver.db import open_db, save_article

REPO = Path(__file__).resolve().parents[1]
METADATA: dict[str, Any] = json.loads((REPO / "metadata.json").read_text(encoding="utf-8"))


@pytest.fixture
async def datasette(db_path: Path, example_article: Path) -> AsyncIterator[Datasette]:
    save_article(open_db(db_path), load_article(str(example_article)))
    ds = Datasette([str(db_path)], metadata=METADATA)
    await ds.invoke_startup()
    yield ds


async def test_table_search_finds_both_turkmenistan_citations(datasette: Datasette) -> None:
    response = await datasette.client.get(
        "/citations/citations.json?_search=Turkmenistan&_shape=array&_col=anchor_text"
    )
    assert response.status_code == 200
    anchors = [(row["id"], row["anchor_text"]) for row in response.json()]
    assert [id_ for id_, anchor in anchors if anchor == "Turkmenistan"] == [24, 25]


async def test_canned_search_ranks_the_cited_anchor_first(datasette: Datasette) -> None:
    response = await datasette.client.get(
        "/citations/search_claims.json?q=Turkmenistan&_shape=array"
    )
    rows = response.json()
    assert sorted(row["position"] for row in rows[:2]) == [24, 25]
    assert "<mark>Turkmenistan</mark>" in rows[0]["claim"]


async def test_unresolved_citations_query_lists_all_placeholders(datasette: Datasette) -> None:
    response = await datasette.client.get("/citations/unresolved_citations.json?_shape=array")
    assert len(response.json()) == 25


async def test_article_citations_query_is_in_order(datasette: Datasette) -> None:
    response = await datasette.client.get(
        "/citations/article_citations.json?article_id=1&_shape=array"
    )
    assert [row["position"] for row in response.json()] == list(range(1, 26))


async def test_view_is_searchable_and_joins_the_article(datasette: Datasette) -> None:
    response = await datasette.client.get(
        "/citations/citations_view.json?_search=Kyrgyzstan&_shape=array"
    )
    rows = response.json()
    assert {row["position"] for row in rows} == {21, 22, 23, 24, 25}  # one paragraph
    assert {row["article"] for row in rows} == {
        "China and Russia's uneasy partnership in Central Asia"
    }


async def test_metadata_describes_every_table_and_column(
    datasette: Datasette, db_path: Path
) -> None:
    tables = METADATA["databases"]["citations"]["tables"]
    db = open_db(db_path)
    for name in ("articles", "citations", "sources", "captures", "checks", "evidence", "mementos"):
        assert tables[name]["description"]
        assert set(tables[name]["columns"]) == set(db[name].columns_dict), name


async def test_facets_and_descriptions_shown(datasette: Datasette) -> None:
    response = await datasette.client.get("/citations/citations")
    assert response.status_code == 200
    assert "One row per link the article cites" in response.text
    assert "href_status" in response.text and "placeholder" in response.text
