"""The archive as Datasette publishes it, through Datasette's own test client."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from datasette.app import Datasette
from sqlite_utils import Database

from archiver.ingest.article import load_article
from archiver.publish.serve import build_datasette
from archiver.store import migrations, open_db, save_article

REPO = Path(__file__).resolve().parents[1]
METADATA: dict[str, Any] = json.loads((REPO / "metadata.json").read_text(encoding="utf-8"))

#: What people type into *Search claims* that FTS5 syntax refused (HTTP 400 before issue 11).
AWKWARD_SEARCHES = [
    "",
    " ",
    '"',
    "US$30",
    "BRI)",
    "COVID-19",
    "U.S.",
    "it's",
    "AND",
    'said "the',
    "NEAR(",
]

#: An article whose claims hold the awkward words, each behind a real link.
PANDEMIC_ARTICLE = """# Pandemic notes

The [WHO report](https://example.org/who) says COVID-19 cases fell by half in 2023.

Hospital [figures](https://example.org/figures) from the U.S. tell another story.

Nobody knows why, and it's [still debated](https://example.org/debate) among doctors.
"""


@pytest.fixture
async def datasette(db_path: Path, example_article: Path) -> AsyncIterator[Datasette]:
    save_article(open_db(db_path), load_article(str(example_article)))
    ds = build_datasette(db_path, metadata=METADATA)
    await ds.invoke_startup()
    yield ds


@pytest.fixture
async def other_name(tmp_path: Path, example_article: Path) -> AsyncIterator[Datasette]:
    """The example archive in a file not called citations.db."""
    db_path = tmp_path / "china-2018.db"
    save_article(open_db(db_path), load_article(str(example_article)))
    ds = build_datasette(db_path, metadata=METADATA)
    await ds.invoke_startup()
    yield ds


@pytest.fixture
async def pandemic(tmp_path: Path) -> AsyncIterator[Datasette]:
    article = tmp_path / "pandemic.md"
    article.write_text(PANDEMIC_ARTICLE, encoding="utf-8")
    db_path = tmp_path / "citations.db"
    save_article(open_db(db_path), load_article(str(article)))
    ds = build_datasette(db_path, metadata=METADATA)
    await ds.invoke_startup()
    yield ds


async def search_claims(ds: Datasette, q: str) -> list[dict[str, Any]]:
    response = await ds.client.get(
        "/citations/search_claims.json", params={"q": q, "_shape": "array"}
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


async def test_table_search_finds_both_turkmenistan_citations(datasette: Datasette) -> None:
    response = await datasette.client.get(
        "/citations/citations.json?_search=Turkmenistan&_shape=array&_col=anchor_text"
    )
    assert response.status_code == 200
    anchors = [(row["id"], row["anchor_text"]) for row in response.json()]
    assert [id_ for id_, anchor in anchors if anchor == "Turkmenistan"] == [24, 25]


async def test_canned_search_ranks_the_cited_anchor_first(datasette: Datasette) -> None:
    rows = await search_claims(datasette, "Turkmenistan")
    assert sorted(row["position"] for row in rows[:2]) == [24, 25]
    assert "<mark>Turkmenistan</mark>" in rows[0]["claim_html"]


@pytest.mark.parametrize("q", AWKWARD_SEARCHES)
async def test_canned_search_takes_any_input(datasette: Datasette, q: str) -> None:
    response = await datasette.client.get("/citations/search_claims", params={"q": q})
    assert response.status_code == 200
    assert "syntax error" not in response.text


@pytest.mark.parametrize("q", ["", "  ", '"'])
async def test_canned_search_without_words_lists_nothing(datasette: Datasette, q: str) -> None:
    assert await search_claims(datasette, q) == []


async def test_canned_search_finds_an_amount_with_a_dollar_sign(datasette: Datasette) -> None:
    rows = await search_claims(datasette, "US$30")
    assert rows[0]["position"] == 5
    assert "exceeding <mark>US$30</mark> billion in 2016" in rows[0]["claim_html"]


async def test_canned_search_finds_a_hyphenated_name(datasette: Datasette) -> None:
    rows = await search_claims(datasette, "Tajik-Afghan")
    assert rows[0]["anchor_text"] == "Tajik-Afghan border"


@pytest.mark.parametrize(
    ("q", "anchor"),
    [("COVID-19", "WHO report"), ("U.S.", "figures"), ("it's", "still debated")],
)
async def test_canned_search_finds_words_with_punctuation(
    pandemic: Datasette, q: str, anchor: str
) -> None:
    rows = await search_claims(pandemic, q)
    assert [row["anchor_text"] for row in rows] == [anchor]


async def test_canned_search_shows_highlights_as_html(datasette: Datasette) -> None:
    response = await datasette.client.get("/citations/search_claims?q=US$30")
    cell = re.search(r'<td class="col-claim_html[^"]*">(.*?)</td>', response.text, re.S)
    assert cell is not None
    assert "exceeding <mark>US$30</mark> billion" in cell.group(1)


async def test_canned_search_escapes_the_claim_around_highlights(tmp_path: Path) -> None:
    """Claims are plain text from the web: shown as HTML, they must not become markup."""
    article = tmp_path / "markup.md"
    article.write_text(
        "# Markup\n\nThe [study](https://example.org/s) found `<script>alert(1)</script>` in "
        "pages & feeds.\n",
        encoding="utf-8",
    )
    db_path = tmp_path / "citations.db"
    save_article(open_db(db_path), load_article(str(article)))
    ds = build_datasette(db_path, metadata=METADATA)
    await ds.invoke_startup()
    rows = await search_claims(ds, "study")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; in pages &amp; feeds" in rows[0]["claim_html"]


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
    for name in (
        "articles",
        "citations",
        "sources",
        "captures",
        "checks",
        "evidence",
        "resolutions",
        "mementos",
        "nearest_captures",
        "judged_evidence",
    ):
        assert tables[name]["description"]
        assert set(tables[name]["columns"]) == set(db[name].columns_dict), name


async def test_facets_and_descriptions_shown(datasette: Datasette) -> None:
    response = await datasette.client.get("/citations/citations")
    assert response.status_code == 200
    assert "One row per link the article cites" in response.text
    assert "href_status" in response.text and "placeholder" in response.text


async def test_any_file_name_keeps_the_canned_queries(other_name: Datasette) -> None:
    response = await other_name.client.get("/china-2018/unresolved_citations.json?_shape=array")
    assert response.status_code == 200
    assert len(response.json()) == 25


async def test_any_file_name_keeps_the_descriptions(other_name: Datasette) -> None:
    response = await other_name.client.get("/china-2018/citations")
    assert "One row per link the article cites" in response.text


async def test_any_file_name_keeps_html_rendering(other_name: Datasette) -> None:
    response = await other_name.client.get("/china-2018/search_claims?q=Turkmenistan")
    assert "while <mark>Turkmenistan</mark> is heavily indebted" in response.text


async def test_mementos_table_is_shown(datasette: Datasette) -> None:
    """'archiver mementos' fills it (issue 13; hidden while nothing did): the database page
    offers it."""
    response = await datasette.client.get("/citations.json")
    tables = {table["name"]: table for table in response.json()["tables"]}
    assert tables["mementos"]["hidden"] is False


def test_no_description_promises_what_no_command_does() -> None:
    """Descriptions name only commands that exist (issue 11)."""
    from archiver.cli import cli

    named = re.findall(r"'archiver ([a-z][a-z-]*)'", json.dumps(METADATA))
    assert set(named) - set(cli.commands) == set()
    assert "mementos" in named  # the command that fills the snapshots the queries show


async def test_an_older_archive_is_brought_up_to_date_to_be_served(
    db_path: Path, example_article: Path
) -> None:
    """An archive from before issue 14's tables: serving it upgrades it, and the canned queries
    that read those tables answer."""
    old = Database(db_path)
    migrations.apply(old, stop_before="m011_stored_nearest_captures")
    save_article(old, load_article(str(example_article)))
    old.close()
    ds = build_datasette(db_path, metadata=METADATA)
    await ds.invoke_startup()
    for query in ("unsupported_citations", "never_archived", "unresolved_citations"):
        response = await ds.client.get(f"/citations/{query}.json?_shape=array")
        assert response.status_code == 200, response.text
    assert "judged_evidence" in Database(db_path).table_names()
