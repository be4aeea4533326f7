"""archiver report: link health from a real check history, drawn as inline SVG, seen in Chromium."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SCREENSHOTS
from test_check import PARAGRAPHS, archive, check_at, load, page
from webserver import WebServer, text

from archiver.cli import cli
from archiver.publish.report import render_html, report_data
from archiver.store import open_db

DAY0 = datetime(2024, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def checked_db(tmp_path: Path, web_server: WebServer) -> Path:
    """An archive of four links checked on four days: alive, drifted, blocked and dead."""
    db_path = tmp_path / "db" / "citations.db"
    web_server.routes["/story"] = page(PARAGRAPHS)
    web_server.routes["/drifts"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story", "/drifts", "/status/403", "/status/404"])
    web_server.routes["/drifts"] = page(PARAGRAPHS[:1])
    for days in range(4):
        check_at(db_path, DAY0 + timedelta(days=days))
    return db_path


def test_report_counts_links_per_status(checked_db: Path) -> None:
    data = report_data(open_db(checked_db))
    assert data.totals == {"alive": 1, "blocked": 1, "dead": 1, "drifted": 1}
    assert [(article_id, counts) for article_id, _, counts in data.articles] == [
        (1, {"alive": 1, "blocked": 1, "dead": 1, "drifted": 1})
    ]


def test_timeline_counts_checks_per_day_by_outcome(checked_db: Path) -> None:
    timeline = report_data(open_db(checked_db)).timeline
    assert [day for day, _ in timeline] == ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"]
    assert timeline[0][1] == {"alive": 1, "drifted": 1, "blocked": 1, "failing": 1}


def test_dead_links_are_listed_with_their_claim(checked_db: Path) -> None:
    rotten = report_data(open_db(checked_db)).rotten
    assert [(r["link_status"], r["claim"], r["latest_outcome"]) for r in rotten] == [
        ("dead", "Claim 3 is backed here.", "not_found")
    ]


def test_html_draws_one_bar_segment_per_status(checked_db: Path) -> None:
    html = render_html(report_data(open_db(checked_db)))
    assert sorted(re.findall(r'data-status="(\w+)" data-count="1"', html)) == [
        "alive",
        "blocked",
        "dead",
        "drifted",
    ]
    assert html.count('class="bar group-') == 4 * 4  # alive, drifted, blocked, failing a day


def test_long_lists_stop_with_how_many_more_and_where(
    tmp_path: Path, web_server: WebServer
) -> None:
    """Two articles citing three dead links: cut at one article and two rows, the worst article
    is the one shown, the first rows in article order, and each cut says how many there are."""
    db_path = tmp_path / "db" / "citations.db"
    gone, missing = web_server.url("/status/410"), web_server.url("/status/404")
    load(tmp_path, db_path, "one.md", [missing])
    load(tmp_path, db_path, "two.md", [missing, gone])
    for days in (0, 2, 4):
        check_at(db_path, DAY0 + timedelta(days=days))
    data = report_data(open_db(db_path), max_articles=1, max_rows=2)
    assert [(article_id, counts) for article_id, _, counts in data.articles] == [(2, {"dead": 2})]
    assert [(r["article"], r["url"]) for r in data.rotten] == [
        ("one.md", missing),
        ("two.md", missing),
    ]
    assert (data.articles_total, data.rotten_total) == (2, 3)
    html = render_html(data)
    assert "The 1 articles with the most dead or suspect links, of 2 that cite links." in html
    assert "The first 2 of 3 citations of dead or suspect links." in html
    assert "drifted sources. All of them" not in html  # none: nothing cut


def test_report_escapes_what_it_shows(tmp_path: Path, web_server: WebServer) -> None:
    db_path = tmp_path / "db" / "citations.db"
    web_server.routes["/x"] = text("gone", status=404)
    archive(tmp_path, db_path, web_server, ["/x"])
    open_db(db_path)["articles"].update(1, {"title": "<script>alert(1)</script>"})
    html = render_html(report_data(open_db(db_path)))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_empty_archive_says_there_is_nothing_yet(tmp_path: Path) -> None:
    html = render_html(report_data(open_db(tmp_path / "empty.db")))
    assert "No cited links yet." in html and "No checks yet" in html


def test_report_command_writes_the_file(checked_db: Path, tmp_path: Path) -> None:
    output = tmp_path / "health.html"
    args = ["report", "--db", str(checked_db), "--output", str(output)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 and result.stderr == f"Wrote {output}\n"
    assert output.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.browser
def test_report_renders_in_headless_chromium(
    checked_db: Path, tmp_path: Path, browser: Any
) -> None:
    output = tmp_path / "report.html"
    CliRunner().invoke(cli, ["report", "--db", str(checked_db), "--output", str(output)])
    shot = SCREENSHOTS / "link-health-report.png"
    view = browser.new_page(viewport={"width": 1200, "height": 900})
    view.goto(output.as_uri(), timeout=30_000)
    dead = view.locator("#status-chart rect.status-dead").bounding_box()
    alive = view.locator("#status-chart rect.status-alive").bounding_box()
    days = view.locator("#timeline-chart rect.bar").count()
    totals = view.locator("ul.totals").inner_text()
    view.screenshot(path=str(shot), full_page=True)
    assert dead is not None and alive is not None
    assert dead["width"] > 50 and abs(dead["width"] - alive["width"]) < 1  # one link each
    assert days == 16
    assert "1\ndead" in totals and "0\nsuspect" in totals
    assert shot.stat().st_size > 10_000
