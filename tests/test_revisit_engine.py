"""One revisit engine: ``check`` and ``archive --refresh`` judge the same answer alike (issue 12).

Each case is a server behaviour met after the page was archived; two archives of the same page
are revisited, one by ``check`` and one by ``archive --refresh``, and the check rows they write
must say the same: outcome, status, drift and reason. Real servers on 127.0.0.1, real SQLite.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_check import (
    CHALLENGE,
    FETCH,
    HOME,
    PARAGRAPHS,
    article_html,
    page,
    portal,
    redirect,
    with_validator,
)
from webserver import Handler, WebServer, text

from archiver.cli import cli
from archiver.store import open_db

Routes = dict[str, Callable[[Handler], None]]
STORY = page(PARAGRAPHS)

#: (path cited, routes when archived, routes when revisited, (outcome, drift, status code)).
CASES = [
    pytest.param(
        "/story",
        {"/story": with_validator(article_html(PARAGRAPHS), '"v2"')},
        {},
        ("ok", "unchanged", 304),
        id="unchanged-304",
    ),
    pytest.param("/story", {"/story": STORY}, {}, ("ok", "unchanged", 200), id="same-payload"),
    pytest.param(
        "/story",
        {"/story": STORY},
        {"/story": page([*PARAGRAPHS[:2], "The report was withdrawn in May."])},
        ("ok", "changed", 200),
        id="changed-text",
    ),
    pytest.param(
        "/story",
        {"/story": STORY, "/": lambda h: h.respond(200, HOME)},
        {"/story": redirect("/")},
        ("soft_404", None, 200),
        id="redirect-to-home",
    ),
    pytest.param(
        "/story",
        {"/story": STORY, "/moved/story": STORY},
        {"/story": redirect("/moved/story")},
        ("redirected", "unchanged", 200),
        id="moved",
    ),
    pytest.param(
        "/story", {"/story": STORY}, {"/story": text("no", status=404)}, ("not_found", None, 404)
    ),
    pytest.param(
        "/story", {"/story": STORY}, {"/story": text("gone", status=410)}, ("gone", None, 410)
    ),
    pytest.param(
        "/story",
        {"/story": STORY},
        {"/story": lambda h: h.respond(403, CHALLENGE)},
        ("blocked", None, 403),
        id="403-challenge",
    ),
    pytest.param(
        "/story",
        {"/story": STORY},
        {"/story": page(["Try the search box."], title="Page Not Found")},
        ("soft_404", None, 200),
        id="error-title-200",
    ),
    pytest.param(
        "/docs/ports-2020",
        {"/docs/": portal, "/docs/ports-2020": STORY},
        {"/docs/ports-2020": portal},
        ("soft_404", None, 200),
        id="soft-404-by-probe",
    ),
]


def invoke(*args: str) -> None:
    result = CliRunner().invoke(cli, [*args, *FETCH, "--silent"])
    assert result.exit_code == 0, result.output


def archive(folder: Path, server: WebServer, path: str, *extra: str) -> None:
    article = folder / "article.md"
    article.write_text(f"# Cited\n\nA claim [here]({server.url(path)}).\n", encoding="utf-8")
    invoke("archive", str(article), "--db", str(folder / "a.db"), "--warc-dir", str(folder), *extra)


def last_check(folder: Path) -> dict[str, Any]:
    row = open_db(folder / "a.db").execute(
        "select outcome, drift, status_code, error from checks order by id desc limit 1"
    )
    return dict(zip(("outcome", "drift", "status_code", "error"), row.fetchone(), strict=True))


@pytest.mark.parametrize(("path", "archived", "revisited", "expected"), CASES)
def test_check_and_refresh_give_the_same_verdict(
    tmp_path: Path,
    web_server: WebServer,
    path: str,
    archived: Routes,
    revisited: Routes,
    expected: tuple[str, str | None, int],
) -> None:
    checked, refreshed = tmp_path / "checked", tmp_path / "refreshed"
    web_server.routes.update(archived)
    for folder in (checked, refreshed):
        folder.mkdir()
        archive(folder, web_server, path)
    web_server.routes.update(revisited)
    invoke("check", "--db", str(checked / "a.db"), "--warc-dir", str(checked))
    archive(refreshed, web_server, path, "--refresh")
    by_check, by_refresh = last_check(checked), last_check(refreshed)
    assert (by_check["outcome"], by_check["drift"], by_check["status_code"]) == expected
    assert by_refresh == by_check
