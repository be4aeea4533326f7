"""archiver mementos end to end: an archived article, a fake web archive on 127.0.0.1, the rows,
what an offline run keeps, and the snapshot shown beside a dead link (report, Datasette, Chromium).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import SCREENSHOTS
from serving import serving
from test_check import DAY0, PARAGRAPHS, REPO, canned, check_at, page
from test_wayback import FakeArchive
from webserver import WebServer, text

from archiver.cli import cli
from archiver.publish.report import render_html, report_data
from archiver.store import open_db

FETCH = ["--allow-private-addresses", "--delay", "0", "--timeout", "5"]
#: The article is dated 29 March 2018: distances count from 00:00 UTC that day.
ARTICLE = """# Ports of the steppe

*By A. Writer, Some Institute
Originally published by the Steppe Review, 29th March 2018*

{links}
"""
PATHS = ["/before", "/later", "/never"]
SNAPSHOTS = {  # path -> timestamps the fake archive holds
    "/before": ["20160101000000", "20180301120000", "20180415000000"],
    "/later": ["20180410060000"],
}


def archive_article(tmp_path: Path, server: WebServer, paths: list[str]) -> Path:
    """``archiver archive`` of a dated Markdown article citing ``paths`` on ``server``."""
    db_path = tmp_path / "db" / "citations.db"
    links = " ".join(f"Claim {i} is backed [here]({server.url(p)})." for i, p in enumerate(paths))
    article = tmp_path / "article.md"
    article.write_text(ARTICLE.format(links=links), encoding="utf-8")
    args = ["archive", str(article), "--db", str(db_path), "--warc-dir", str(tmp_path / "warc")]
    result = CliRunner().invoke(cli, [*args, *FETCH, "--silent"])
    assert result.exit_code == 0, result.output
    return db_path


def mementos(db_path: Path, endpoint: str, *extra: str) -> Result:
    args = ["mementos", "--db", str(db_path), "--cdx-endpoint", endpoint, *FETCH, *extra]
    return CliRunner().invoke(cli, args)


def as_json(db_path: Path, endpoint: str, *extra: str) -> dict[str, Any]:
    result = mementos(db_path, endpoint, "--json", "--silent", *extra)
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def rows(db_path: Path) -> dict[str, dict[str, Any]]:
    """The mementos rows by the cited URL's path."""
    found = open_db(db_path)["mementos"].rows
    return {"/" + row["url"].split("/", 3)[3]: row for row in found}


@pytest.fixture
def cited(tmp_path: Path, web_server: WebServer) -> Path:
    for path in PATHS:
        web_server.routes[path] = page(PARAGRAPHS)
    return archive_article(tmp_path, web_server, PATHS)


@pytest.fixture
def fake(web_server: WebServer) -> Iterator[FakeArchive]:
    archive = FakeArchive({web_server.url(p): stamps for p, stamps in SNAPSHOTS.items()})
    with archive.server:
        yield archive


def cdx(archive: FakeArchive) -> str:
    return archive.endpoints.cdx


@pytest.fixture
def closed_port() -> str:
    """A CDX endpoint where nothing listens (the port is closed again at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/cdx/search/cdx"


# -- lookups -------------------------------------------------------------------------------------


def test_each_cited_url_gets_the_snapshot_nearest_the_article_date(
    cited: Path, fake: FakeArchive
) -> None:
    summary = as_json(cited, cdx(fake))
    assert summary["statuses"] == {"found": 2, "none": 1}
    found = rows(cited)
    before, later = found["/before"], found["/later"]
    assert before["article_date"] == "2018-03-29" and before["status"] == "found"
    assert before["memento_datetime"] == "2018-03-01T12:00:00Z"  # not the closer one after
    assert before["distance_days"] == -27.5
    assert before["memento_url"] == fake.server.url(f"/web/20180301120000/{before['url']}")
    assert before["source"] == "wayback-cdx" and before["error"] is None
    assert (later["memento_datetime"], later["distance_days"]) == ("2018-04-10T06:00:00Z", 12.25)
    assert found["/never"]["status"] == "none" and found["/never"]["memento_url"] is None


def test_window_days_decides_how_far_back_a_snapshot_counts(
    cited: Path, fake: FakeArchive, web_server: WebServer
) -> None:
    fake.captures[web_server.url("/before")] = ["20160101000000", "20180415000000"]
    as_json(cited, cdx(fake), "--window-days", "30")
    assert rows(cited)["/before"]["memento_datetime"] == "2018-04-15T00:00:00Z"
    as_json(cited, cdx(fake), "--window-days", "1000", "--refresh")
    assert rows(cited)["/before"]["memento_datetime"] == "2016-01-01T00:00:00Z"


def test_rerun_looks_up_only_what_is_not_found(cited: Path, fake: FakeArchive) -> None:
    as_json(cited, cdx(fake))
    asked = fake.requests_to("/cdx/")
    again = as_json(cited, cdx(fake))
    assert again["already_found"] == 2 and again["looked_up"] == 1
    assert [row["url"].rsplit("/", 1)[1] for row in again["mementos"]] == ["never"]
    assert fake.requests_to("/cdx/") == asked + 2  # /never: before the date, then after it
    assert open_db(cited)["mementos"].count == 3  # replaced, not added


def test_refresh_looks_everything_up_again(cited: Path, fake: FakeArchive) -> None:
    as_json(cited, cdx(fake))
    assert as_json(cited, cdx(fake), "--refresh")["looked_up"] == 3


def test_article_option_limits_the_lookups(
    tmp_path: Path, cited: Path, fake: FakeArchive, web_server: WebServer
) -> None:
    undated = tmp_path / "undated.md"
    undated.write_text(f"# Undated\n\nIt is [here]({web_server.url('/later')}).\n", "utf-8")
    args = ["archive", str(undated), "--db", str(cited), "--warc-dir", str(tmp_path / "warc")]
    assert CliRunner().invoke(cli, [*args, *FETCH, "--silent"]).exit_code == 0
    assert as_json(cited, cdx(fake), "--article", "1")["looked_up"] == 3
    asked = as_json(cited, cdx(fake))["mementos"]  # /never again, and the undated article's
    [other] = [row for row in asked if row["article_date"] != "2018-03-29"]  # its ingest day
    ingested = open_db(cited)["articles"].get(2)["ingested_at"]
    assert (other["url"], other["article_date"]) == (web_server.url("/later"), ingested[:10])
    result = mementos(cited, cdx(fake), "--article", "7")
    assert result.exit_code == 2 and "no article 7" in result.output


# -- offline -------------------------------------------------------------------------------------


def test_unreachable_archive_gives_one_line_and_not_looked_up_rows(
    cited: Path, closed_port: str
) -> None:
    result = mementos(cited, closed_port)
    assert result.exit_code == 0  # nothing is wrong with the archive: rerun later
    lines = [line for line in result.stderr.splitlines() if "web archive" in line]
    assert lines == [
        "3 lookups could not reach the web archive; rows marked not_looked_up; rerun later"
    ]
    assert "Traceback" not in result.output
    found = rows(cited)
    assert {row["status"] for row in found.values()} == {"not_looked_up"}
    assert "unreachable" in found["/before"]["error"]
    assert found["/later"]["error"].startswith("not asked:")  # the archive was away: no more


def test_rerun_after_an_offline_run_looks_everything_up(
    cited: Path, closed_port: str, fake: FakeArchive
) -> None:
    mementos(cited, closed_port)
    summary = as_json(cited, cdx(fake))
    assert summary["looked_up"] == 3 and summary["statuses"] == {"found": 2, "none": 1}
    assert rows(cited)["/before"]["error"] is None


def test_refresh_while_offline_keeps_the_snapshots_found(
    cited: Path, closed_port: str, fake: FakeArchive
) -> None:
    as_json(cited, cdx(fake))
    summary = as_json(cited, closed_port, "--refresh")
    assert summary["not_looked_up"] == 3
    found = rows(cited)
    assert found["/before"]["status"] == "found"
    assert found["/before"]["memento_datetime"] == "2018-03-01T12:00:00Z"
    assert found["/never"]["status"] == "not_looked_up"


def test_private_archive_is_refused_without_the_option(cited: Path, fake: FakeArchive) -> None:
    args = ["mementos", "--db", str(cited), "--cdx-endpoint", cdx(fake), "--json", "--silent"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["not_looked_up"] == 3
    assert fake.requests_to("/") == 0


def test_timegate_is_asked_when_given(cited: Path, fake: FakeArchive) -> None:
    summary = as_json(cited, cdx(fake), "--timegate", fake.endpoints.timegate)
    assert summary["statuses"] == {"found": 2, "none": 1}
    before = rows(cited)["/before"]
    assert before["memento_datetime"] == "2018-04-15T00:00:00Z"  # the closest either side
    assert before["source"] == "timegate:127.0.0.1"


# -- a dead link and its snapshot: report, Datasette, Chromium -----------------------------------


@pytest.fixture
def dead(tmp_path: Path, web_server: WebServer, fake: FakeArchive) -> Path:
    """/before dead (404 on three checks over four days), /later drifted, snapshots looked up."""
    for path in PATHS:
        web_server.routes[path] = page(PARAGRAPHS)
    db_path = archive_article(tmp_path, web_server, PATHS)
    web_server.routes["/before"] = text("gone", status=404)
    web_server.routes["/later"] = page([*PARAGRAPHS[:1], "The report was withdrawn in May."])
    for days in (0, 2, 4):
        check_at(db_path, DAY0 + timedelta(days=days))
    as_json(db_path, cdx(fake))
    return db_path


def test_report_shows_the_capture_and_the_snapshot_of_a_dead_link(
    dead: Path, fake: FakeArchive, web_server: WebServer
) -> None:
    data = report_data(open_db(dead))
    assert [(row["link_status"], row["memento_datetime"]) for row in data.rotten] == [
        ("dead", "2018-03-01T12:00:00Z")
    ]
    html = render_html(data)
    snapshot = fake.server.url(f"/web/20180301120000/{web_server.url('/before')}")
    assert f'<a class="memento" href="{snapshot}">2018-03-01</a>' in html
    capture = data.rotten[0]
    assert f"capture {capture['capture_id']}, {capture['captured_at'][:10]}" in html


def test_report_shows_the_snapshot_of_a_drifted_link(
    dead: Path, fake: FakeArchive, web_server: WebServer
) -> None:
    data = report_data(open_db(dead))
    assert [(row["url"], row["memento_datetime"]) for row in data.drifted] == [
        (web_server.url("/later"), "2018-04-10T06:00:00Z")
    ]
    snapshot = fake.server.url(f"/web/20180410060000/{web_server.url('/later')}")
    assert f'<a class="memento" href="{snapshot}">2018-04-10</a>' in render_html(data)


async def test_dead_links_query_shows_the_capture_and_the_snapshot(
    dead: Path, fake: FakeArchive, web_server: WebServer
) -> None:
    [row] = await canned(dead, "dead_links")
    assert row["url"] == web_server.url("/before") and row["claim"] == "Claim 0 is backed here."
    assert row["memento_url"] == fake.server.url(f"/web/20180301120000/{row['url']}")
    assert (row["memento_datetime"], row["memento_distance_days"]) == (
        "2018-03-01T12:00:00Z",
        -27.5,
    )
    capture = open_db(dead)["captures"].get(row["capture_id"])
    assert (capture["url"], capture["captured_at"]) == (row["url"], row["captured_at"])
    assert row["warc_path"].endswith(".warc.gz") and "audit office" in row["archived_text"]


async def test_drifted_sources_query_shows_the_snapshot(dead: Path, fake: FakeArchive) -> None:
    [row] = await canned(dead, "drifted_sources")
    assert row["memento_datetime"] == "2018-04-10T06:00:00Z" and row["capture_id"] is not None
    # the capture nearest the article's date is the archived one, not the check's new capture
    assert "withdrawn" in row["current_text"] and "audit office" in row["archived_text"]


async def test_mementos_table_is_published(dead: Path) -> None:
    found = await canned(dead, "mementos")  # a table is served like a query
    assert sorted(row["status"] for row in found) == ["found", "found", "none"]
    metadata = json.loads((REPO / "metadata.json").read_text(encoding="utf-8"))
    assert "hidden" not in metadata["databases"]["citations"]["tables"]["mementos"]


@pytest.mark.browser
def test_dead_links_page_links_the_snapshot(dead: Path, fake: FakeArchive, browser: Any) -> None:
    snapshot = fake.server.url("/web/20180301120000/")
    with serving(dead) as (base, _):
        view = browser.new_page(viewport={"width": 1400, "height": 1000})
        view.goto(f"{base}/citations/dead_links", timeout=30_000)
        links = view.locator(f'td.col-memento_url a[href^="{snapshot}"]')
        shown = links.count()
        dates = view.locator("td.col-memento_datetime").all_inner_texts()
        view.screenshot(path=str(SCREENSHOTS / "dead-links-memento.png"), full_page=True)
    assert shown == 1 and dates == ["2018-03-01T12:00:00Z"]
