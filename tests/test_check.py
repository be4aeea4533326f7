"""archiver check end to end: real loopback servers, a real SQLite archive, an injected clock."""

from __future__ import annotations

import gc
import json
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from datasette.app import Datasette
from webserver import Handler, WebServer, resolver_for, text

from archiver.capture.warc import read_records
from archiver.cli import cli
from archiver.net.fetch import FetchConfig
from archiver.run.check import (
    RevisitConfig,
    RunStats,
    UrlJob,
    UrlResult,
    check_frontier,
    check_urls,
)
from archiver.run.engine import HOSTS_PER_WORKER
from archiver.store import frontier_hosts, frontier_urls, open_db, open_frontier

REPO = Path(__file__).resolve().parents[1]
PARAGRAPHS = [
    "Container traffic through the port rose by 12 per cent in 2020, the authority reported "
    "in its annual review of the harbour and its new deep-water berths.",
    "The new terminal cost US$1.2 billion and was built in three years by a state contractor "
    "that had won the tender without competition, according to the audit office.",
    "Critics said the loans that paid for it would weigh on the national budget for two "
    "decades, and that the volumes forecast by the consultants were never realistic.",
]
FETCH = ["--allow-private-addresses", "--delay", "0", "--timeout", "5"]
#: Bounds a wait for an event, so a hang fails the test; no assertion depends on it.
FAILSAFE = 60.0
DAY0 = datetime(2024, 3, 1, 9, tzinfo=UTC)


def article_html(paragraphs: list[str], title: str = "Ports of the steppe") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{body}"
        "</article></body></html>"
    ).encode()


def page(paragraphs: list[str], **kwargs: Any) -> Callable[[Handler], None]:
    body = article_html(paragraphs, **kwargs)
    return lambda h: h.respond(200, body)


def redirect(location: str, code: int = 301) -> Callable[[Handler], None]:
    return lambda h: h.respond(code, b"", headers={"Location": location})


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "db" / "citations.db"


def archive(tmp_path: Path, db_path: Path, server: WebServer, paths: list[str]) -> None:
    links = " ".join(f"Claim {i} is backed [here]({server.url(p)})." for i, p in enumerate(paths))
    article = tmp_path / "article.md"
    article.write_text(f"# Checked article\n\n{links}\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["archive", str(article), "--db", str(db_path), "--warc-dir", str(tmp_path / "warc")]
        + FETCH
        + ["--silent"],
    )
    assert result.exit_code == 0, result.output


def run_check(db_path: Path, *extra: str) -> Result:
    warc = str(db_path.parent.parent / "warc")
    args = ["check", "--db", str(db_path), "--warc-dir", warc, *FETCH, "--silent", *extra]
    return CliRunner().invoke(cli, args)


def check_json(db_path: Path, *extra: str) -> dict[str, Any]:
    result = run_check(db_path, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def check_at(
    db_path: Path, when: datetime, *, allow_private_addresses: bool = True, **options: Any
) -> RunStats:
    """A check run whose clock says ``when`` (the 3-days rule without waiting 3 days)."""
    db = open_db(db_path)
    fetch = FetchConfig(allow_private_addresses=allow_private_addresses, delay=0, timeout=5)
    config = RevisitConfig(fetch)
    return check_urls(
        db,
        check_frontier(db, now=when),
        config=config,
        warc_dir=db_path.parent.parent / "warc",
        clock=lambda: when,
        **options,
    )


def latest_check(db_path: Path, url: str) -> dict[str, Any]:
    db = open_db(db_path)
    return dict(
        next(db.query("select * from checks where url = ? order by id desc limit 1", [url]))
    )


def source(db_path: Path, url: str) -> dict[str, Any]:
    return dict(open_db(db_path)["sources"].get(url))


# -- drift ---------------------------------------------------------------------------------------


def test_changed_page_records_drift_and_keeps_both_versions(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story"])
    new_paragraph = "The port authority has since withdrawn the report pending a review."
    web_server.routes["/story"] = page([*PARAGRAPHS[:2], new_paragraph])
    summary = check_json(db_path)
    url = web_server.url("/story")
    check = latest_check(db_path, url)
    assert (check["outcome"], check["drift"]) == ("ok", "changed")
    assert 0.3 <= check["similarity"] < 0.95
    assert summary["captured"] == 1 and summary["link_status"] == {"drifted": 1}
    db = open_db(db_path)
    texts = [row["text"] for row in db.query("select text from capture_texts order by capture_id")]
    assert len(texts) == 2 and "audit office" in texts[0] and "withdrawn" in texts[1]
    assert "audit office" in source(db_path, url)["text"]  # what the claim was archived from
    assert db["captures"].count == 2 and check["capture_id"] == 2


def test_new_capture_is_a_readable_warc_response(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story"])
    web_server.routes["/story"] = page(PARAGRAPHS[:1])
    check_json(db_path)
    capture = open_db(db_path)["captures"].get(2)
    scan = read_records(Path(capture["warc_path"]))
    record = next(r for r in scan.records if r.offset == capture["warc_offset"])
    assert record.record_type == "response" and record.target_uri == web_server.url("/story")


def test_second_check_of_a_changed_page_needs_no_extraction_or_capture(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story"])
    web_server.routes["/story"] = page(PARAGRAPHS[:1])
    check_json(db_path)
    second = check_json(db_path)
    assert (second["captured"], second["extracted"], second["drift"]) == (0, 0, {"changed": 1})
    assert open_db(db_path)["captures"].count == 2


def test_unchanged_payload_is_not_extracted_or_captured(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story"])
    summary = check_json(db_path)
    assert (summary["extracted"], summary["captured"]) == (0, 0)
    assert summary["drift"] == {"unchanged": 1} and summary["link_status"] == {"alive": 1}


def test_conditional_get_304_is_unchanged(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    archive(tmp_path, db_path, web_server, ["/ok"])
    check_json(db_path)
    check = latest_check(db_path, web_server.url("/ok"))
    assert web_server.requests[-1].headers.get("If-None-Match") == '"v1"'
    assert (check["status_code"], check["drift"], check["similarity"]) == (304, "unchanged", 1.0)


def test_page_text_that_did_not_change_keeps_one_capture(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story"])
    body = article_html(PARAGRAPHS).replace(b"</body>", b"<script>var t=1</script></body>")
    web_server.routes["/story"] = lambda h: h.respond(200, body)
    summary = check_json(db_path)
    assert (summary["captured"], summary["extracted"], summary["drift"]) == (0, 1, {"unchanged": 1})


# -- soft 404s -----------------------------------------------------------------------------------


def portal(h: Handler) -> None:
    """A site that answers every path under /docs/ with one template (echoing the path)."""
    path = h.path.split("?")[0]
    h.respond(
        200,
        (
            "<html><head><title>Docs portal</title></head><body><main><h2>Docs portal</h2>"
            f"<p>You asked for {path}, which has moved somewhere on this site. Browse the "
            "sections below or use the search box to find what you were looking for today.</p>"
            "<ul><li>Reports</li><li>Statistics</li><li>Press releases</li></ul></main></body>"
            "</html>"
        ).encode(),
    )


def test_site_answering_any_path_with_one_template_is_soft_404(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/docs/"] = portal
    web_server.routes["/docs/ports-2020"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/docs/ports-2020"])
    del web_server.routes["/docs/ports-2020"]  # the report is gone; the portal answers
    check_json(db_path)
    check = latest_check(db_path, web_server.url("/docs/ports-2020"))
    assert check["outcome"] == "soft_404"
    assert (
        check["error"] == "soft 404: a made-up path on the site answers a page with the same text"
    )
    probes = [p for p in web_server.paths() if p.startswith("/docs/") and p != "/docs/ports-2020"]
    assert len(probes) == 1 and len(probes[0]) == len("/docs/") + 16


def test_page_that_was_already_the_template_when_archived_is_soft_404(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/docs/"] = portal
    archive(tmp_path, db_path, web_server, ["/docs/ports-2020"])  # captured as "ok"
    first, second = check_json(db_path), check_json(db_path)
    assert first["outcomes"] == second["outcomes"] == {"soft_404": 1}
    assert first["extracted"] == 0  # the body was the capture's: its text was known


def app_shell(noscript: str = "You need to enable JavaScript to run this app.") -> bytes:
    """The one HTML page a single-page app serves for every path (JavaScript fills it in)."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Port Observatory</title>"
        "<script type='module' crossorigin src='/assets/index-4b1c9e.js'></script>"
        "<link rel='stylesheet' href='/assets/index-77d2.css'></head>"
        f"<body><noscript>{noscript}</noscript><div id='root'></div></body></html>"
    ).encode()


def serve_once_per_request(h: Handler) -> None:
    """An app shell with a fresh CSP nonce each time: new bytes, the same (near-empty) text."""
    nonce = f"{h.count('nonce'):08d}"
    body = app_shell().replace(b"<script type", f"<script nonce='{nonce}' type".encode())
    h.respond(200, body)


@pytest.mark.parametrize(
    "behaviour",
    [
        lambda h: h.respond(200, app_shell()),
        lambda h: h.respond(200, app_shell(noscript="")),
        serve_once_per_request,
    ],
    ids=["same-bytes", "no-text-at-all", "new-bytes-each-time"],
)
def test_single_page_app_archived_as_its_shell_is_not_a_soft_404(
    tmp_path: Path, web_server: WebServer, db_path: Path, behaviour: Callable[[Handler], None]
) -> None:
    """The site answers every path with one app shell, and so it did when the page was archived:
    a check cannot tell a live page from a missing one, so it must not count towards dead."""
    web_server.routes["/app/"] = behaviour
    archive(tmp_path, db_path, web_server, ["/app/reports/ports-2020"])
    url = web_server.url("/app/reports/ports-2020")
    for days in range(4):  # enough failing checks over enough days would make it dead
        check_at(db_path, DAY0 + timedelta(days=days))
        check = latest_check(db_path, url)
        assert check["outcome"] == "ok", check["error"]
        assert check["error"].startswith("cannot tell: ")
        assert source(db_path, url)["link_status"] == "alive"
    probes = [
        p
        for p in web_server.paths()
        if p.startswith("/app/reports/") and p != "/app/reports/ports-2020"
    ]
    assert len(probes) == 4  # one per run: the shell is looked at again, not taken as checked
    assert open_db(db_path)["captures"].count == 1  # the shell's text never changed


def test_page_with_text_now_answered_by_an_app_shell_is_soft_404(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    """The cited page had text of its own; now the site serves one app shell for any path."""
    web_server.routes["/app/reports/ports-2020"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/app/reports/ports-2020"])
    del web_server.routes["/app/reports/ports-2020"]
    web_server.routes["/app/"] = lambda h: h.respond(200, app_shell())
    check_json(db_path)
    check = latest_check(db_path, web_server.url("/app/reports/ports-2020"))
    assert check["outcome"] == "soft_404"
    assert check["error"] == "soft 404: a made-up path on the site answers the same page"


def test_probe_is_fetched_once_per_site_directory(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    paths = [f"/docs/report-{i}" for i in range(3)]
    for i, path in enumerate(paths):
        web_server.routes[path] = page(PARAGRAPHS[i:])
    web_server.routes["/docs/"] = portal
    archive(tmp_path, db_path, web_server, paths)
    summary = check_json(db_path)
    assert summary["outcomes"] == {"ok": 3}
    assert len([p for p in web_server.paths() if p.startswith("/docs/") and p not in paths]) == 1


def test_redirect_to_the_home_page_is_soft_404(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story"])
    web_server.routes["/story"] = redirect("/")
    check_json(db_path)
    check = latest_check(db_path, web_server.url("/story"))
    assert check["outcome"] == "soft_404" and check["final_url"] == web_server.url("/")
    assert check["error"] == f"soft 404: redirected to the home page {web_server.url('/')}"


def test_error_page_served_with_200_is_soft_404(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story"])
    web_server.routes["/story"] = page(["Try the search box."], title="Page Not Found")
    assert check_json(db_path)["outcomes"] == {"soft_404": 1}


def refresh(tmp_path: Path, db_path: Path) -> None:
    """``archive --refresh`` of the article ``archive`` wrote."""
    args = ["archive", str(tmp_path / "article.md"), "--refresh", "--db", str(db_path)]
    result = CliRunner().invoke(
        cli, [*args, "--warc-dir", str(tmp_path / "warc"), *FETCH, "--silent"]
    )
    assert result.exit_code == 0, result.output


def with_validator(body: bytes, etag: str | None) -> Callable[[Handler], None]:
    """``body``, with an ETag that a conditional GET gets a 304 for (no validator if None)."""

    def behaviour(h: Handler) -> None:
        if etag is not None and h.headers.get("If-None-Match") == etag:
            h.respond(304, b"", content_type=None, headers={"ETag": etag})
        else:
            h.respond(200, body, headers={"ETag": etag} if etag else None)

    return behaviour


@pytest.mark.parametrize("etag", [None, '"v2"'], ids=["same-payload", "not-modified"])
def test_refresh_that_learns_nothing_keeps_the_drift_a_check_found(
    tmp_path: Path, web_server: WebServer, db_path: Path, etag: str | None
) -> None:
    """The newest capture was made by a check that found the text changed; a refresh that gets
    the same page again (a 304, or the same payload) still differs from what was cited."""
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story"])
    url = web_server.url("/story")
    web_server.routes["/story"] = with_validator(article_html(PARAGRAPHS[:2]), etag)
    check_at(db_path, DAY0)
    drifted = latest_check(db_path, url)
    assert drifted["drift"] == "changed" and drifted["capture_id"] == 2
    refresh(tmp_path, db_path)
    refreshed = latest_check(db_path, url)
    assert refreshed["status_code"] == (304 if etag else 200) and refreshed["capture_id"] is None
    assert (refreshed["similarity"], refreshed["drift"]) == (drifted["similarity"], "changed")
    assert source(db_path, url)["link_status"] == "drifted"  # the refresh row is history too
    check_at(db_path, DAY0 + timedelta(days=1))
    assert latest_check(db_path, url)["drift"] == "changed"
    assert source(db_path, url)["link_status"] == "drifted"
    assert open_db(db_path)["captures"].count == 2


def test_refresh_that_finds_a_dead_link_back_makes_it_alive(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    """The refresh's check row is history like any other: the link status follows it at once."""
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story"])
    url = web_server.url("/story")
    web_server.routes["/story"] = text("gone", status=404)
    for day in range(4):
        check_at(db_path, DAY0 + timedelta(days=day))
    assert source(db_path, url)["link_status"] == "dead"
    web_server.routes["/story"] = page(PARAGRAPHS)
    refresh(tmp_path, db_path)
    assert (latest_check(db_path, url)["outcome"], source(db_path, url)["link_status"]) == (
        "ok",
        "alive",
    )


def test_refresh_of_a_soft_404_keeps_the_verdict(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    """A check found the archived body to be the site's any-path template; a refresh that gets
    that body again learnt nothing new, so the next check must not take it for the page."""
    web_server.routes["/docs/"] = portal
    archive(tmp_path, db_path, web_server, ["/docs/ports-2020"])
    url = web_server.url("/docs/ports-2020")
    check_at(db_path, DAY0)
    refresh(tmp_path, db_path)
    refreshed = latest_check(db_path, url)
    assert (refreshed["outcome"], refreshed["capture_id"]) == ("soft_404", None)
    assert (source(db_path, url)["latest_outcome"], source(db_path, url)["link_status"]) == (
        "soft_404",
        "suspect",
    )
    check_at(db_path, DAY0 + timedelta(days=1))
    assert latest_check(db_path, url)["outcome"] == "soft_404"
    assert source(db_path, url)["link_status"] == "suspect"


HOME = b"<html><head><title>Home</title></head><body><p>Welcome.</p></body></html>"
MOVED = article_html(PARAGRAPHS)
#: A redirect chain whose last hop is unchanged: (target, its body, the chain's outcome), issue 10.
CHAINS = [
    pytest.param("/", HOME, "soft_404", id="to-home-page"),
    pytest.param("/moved/story", MOVED, "redirected", id="moved"),
]


def redirect_then_validator(
    server: WebServer, target: str, body: bytes, etag: str | None = '"t1"'
) -> None:
    """``/story`` redirects to ``target``, which answers a conditional GET for ``etag`` with a
    304 (and has no validator if None)."""
    server.routes["/story"] = redirect(target)
    server.routes[target] = with_validator(body, etag)


@pytest.mark.parametrize(("target", "body", "outcome"), CHAINS)
def test_check_answered_304_after_a_redirect_keeps_the_chains_outcome(
    tmp_path: Path, web_server: WebServer, db_path: Path, target: str, body: bytes, outcome: str
) -> None:
    redirect_then_validator(web_server, target, body)
    archive(tmp_path, db_path, web_server, ["/story"])
    check_json(db_path)
    check = latest_check(db_path, web_server.url("/story"))
    assert (check["status_code"], check["outcome"]) == (304, outcome)


@pytest.mark.parametrize(("target", "body", "outcome"), CHAINS)
def test_refresh_answered_304_after_a_redirect_keeps_the_chains_outcome(
    tmp_path: Path, web_server: WebServer, db_path: Path, target: str, body: bytes, outcome: str
) -> None:
    redirect_then_validator(web_server, target, body)
    archive(tmp_path, db_path, web_server, ["/story"])
    refresh(tmp_path, db_path)
    check = latest_check(db_path, web_server.url("/story"))
    assert (check["status_code"], check["outcome"]) == (304, outcome)


def test_refresh_finding_the_same_home_page_after_a_redirect_is_soft_404(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    """Like a 304, the payload seen before says nothing of where the redirects led."""
    redirect_then_validator(web_server, "/", HOME, etag=None)
    archive(tmp_path, db_path, web_server, ["/story"])
    refresh(tmp_path, db_path)
    check = latest_check(db_path, web_server.url("/story"))
    assert (check["status_code"], check["outcome"]) == (200, "soft_404")


@pytest.mark.parametrize(
    ("etag", "status"), [('"t1"', 304), (None, 200)], ids=["not-modified", "same-payload"]
)
def test_refresh_of_a_page_that_moved_since_its_last_check_is_redirected(
    tmp_path: Path, web_server: WebServer, db_path: Path, etag: str | None, status: int
) -> None:
    """The last check's ``ok`` was about the payload's chain then, not the chain now."""
    web_server.routes["/story"] = with_validator(MOVED, etag)
    archive(tmp_path, db_path, web_server, ["/story"])
    check_at(db_path, DAY0)
    redirect_then_validator(web_server, "/moved/story", MOVED, etag)
    refresh(tmp_path, db_path)
    check = latest_check(db_path, web_server.url("/story"))
    assert (check["status_code"], check["outcome"]) == (status, "redirected")


# -- blocked -------------------------------------------------------------------------------------

CHALLENGE = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    b"<noscript>Enable JavaScript and cookies to continue</noscript>"
    b"<script src='/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1'></script></body></html>"
)


@pytest.mark.parametrize(
    "behaviour",
    [
        text("Forbidden", status=403),
        lambda h: h.respond(503, CHALLENGE, headers={"Retry-After": "0"}),
        lambda h: h.respond(200, CHALLENGE),
    ],
    ids=["403", "challenge-503", "challenge-200"],
)
def test_kept_out_is_blocked_not_dead(
    tmp_path: Path, web_server: WebServer, db_path: Path, behaviour: Callable[[Handler], None]
) -> None:
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story"])
    web_server.routes["/story"] = behaviour
    summary = check_json(db_path)
    assert summary["outcomes"] == {"blocked": 1} and summary["link_status"] == {"blocked": 1}


# -- link status over time -----------------------------------------------------------------------


def test_404_that_recovers_stays_suspect_then_is_alive(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story"])
    url = web_server.url("/story")
    web_server.routes["/story"] = text("gone for now", status=404)
    check_at(db_path, DAY0)
    assert source(db_path, url)["link_status"] == "suspect"
    web_server.routes["/story"] = page(PARAGRAPHS)
    check_at(db_path, DAY0 + timedelta(days=1))
    assert source(db_path, url)["link_status"] == "alive"
    assert source(db_path, url)["latest_outcome"] == "ok"


def test_of_two_checks_stamped_in_one_second_the_later_one_counts(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    """Issue 10: kept out of a private address, then let through, both at 13:37:22."""
    archive(tmp_path, db_path, web_server, ["/ok"])
    second = datetime(2026, 12, 1, 13, 37, 22, tzinfo=UTC)
    check_at(db_path, second, allow_private_addresses=False)
    check_at(db_path, second)
    checks = open_db(db_path).query("select checked_at, outcome from checks order by id")
    assert [(row["checked_at"], row["outcome"]) for row in checks] == [
        ("2026-12-01T13:37:22Z", "blocked_private_address"),
        ("2026-12-01T13:37:22Z", "ok"),
    ]
    assert source(db_path, web_server.url("/ok"))["link_status"] == "alive"


def test_dead_needs_three_failing_checks_over_three_days(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    archive(tmp_path, db_path, web_server, ["/status/404"])
    url = web_server.url("/status/404")
    statuses = []
    for days in (0, 1, 2, 3):
        check_at(db_path, DAY0 + timedelta(days=days))
        statuses.append(source(db_path, url)["link_status"])
    assert statuses == ["suspect", "suspect", "suspect", "dead"]


def test_many_failures_in_one_day_are_not_dead(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    archive(tmp_path, db_path, web_server, ["/status/410"])
    for hours in (0, 6, 12, 18, 23):
        check_at(db_path, DAY0 + timedelta(hours=hours))
    assert source(db_path, web_server.url("/status/410"))["link_status"] == "suspect"


# -- the command ---------------------------------------------------------------------------------


def test_fail_on_rot_exits_1_when_a_link_is_dead(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    archive(tmp_path, db_path, web_server, ["/ok", "/status/404"])
    result = run_check(db_path, "--fail-on-rot", "--dead-after", "1", "--dead-days", "0")
    assert result.exit_code == 1
    assert result.stderr == f"Error: 1 dead link(s): {web_server.url('/status/404')}\n"


def test_fail_on_rot_exits_0_while_failures_are_only_suspect(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    archive(tmp_path, db_path, web_server, ["/ok", "/status/404"])
    result = run_check(db_path, "--fail-on-rot")
    assert result.exit_code == 0, result.output


def test_json_summary_by_outcome_and_link_status(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    archive(tmp_path, db_path, web_server, ["/ok", "/status/404", "/status/403"])
    summary = check_json(db_path)
    assert summary["outcomes"] == {"blocked": 1, "not_found": 1, "ok": 1}
    assert summary["link_status"] == {"alive": 1, "blocked": 1, "suspect": 1}
    assert (summary["urls"], summary["done"], summary["dead"]) == (3, 3, [])


def test_summary_tables_go_to_stderr(tmp_path: Path, web_server: WebServer, db_path: Path) -> None:
    archive(tmp_path, db_path, web_server, ["/ok"])
    warc = str(tmp_path / "warc")
    result = CliRunner().invoke(cli, ["check", "--db", str(db_path), "--warc-dir", warc, *FETCH])
    assert result.exit_code == 0 and result.stdout == ""
    assert "Checked links by outcome" in result.stderr and "Link status" in result.stderr


def test_older_than_skips_links_checked_recently(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    archive(tmp_path, db_path, web_server, ["/ok"])
    check_json(db_path)
    assert check_json(db_path, "--older-than", "1h")["urls"] == 0
    assert check_json(db_path, "--older-than", "0s")["urls"] == 1


# -- the frontier: streamed from the archive (issue 14) ------------------------------------------


def load(tmp_path: Path, db_path: Path, name: str, urls: list[str]) -> None:
    """An article citing ``urls``, loaded with ``archive --no-fetch``: nothing fetched yet."""
    links = " ".join(f"Claim {i} is backed [here]({url})." for i, url in enumerate(urls))
    article = tmp_path / name
    article.write_text(f"# {name}\n\n{links}\n", encoding="utf-8")
    args = ["archive", str(article), "--db", str(db_path), "--no-fetch", "--silent"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


def test_frontier_goes_host_by_host_in_citation_order(tmp_path: Path, db_path: Path) -> None:
    cited = ["http://a.test/1", "http://b.test/1", "http://a.test/2", "http://c.test/1"]
    load(tmp_path, db_path, "article.md", [*cited, "http://b.test/2", "http://a.test/1"])
    frontier = check_frontier(open_db(db_path))
    assert len(frontier) == 5
    assert [job.url for job in frontier] == [
        "http://a.test/1",
        "http://a.test/2",
        "http://b.test/1",
        "http://b.test/2",
        "http://c.test/1",
    ]


def test_frontier_pages_go_on_where_the_last_one_stopped(tmp_path: Path, db_path: Path) -> None:
    load(tmp_path, db_path, "article.md", [f"http://h{i % 3}.test/{i}" for i in range(9)])
    db = open_db(db_path)
    assert open_frontier(db) == 9
    assert list(frontier_hosts(db, page=2)) == ["h0.test", "h1.test", "h2.test"]
    assert list(frontier_urls(db, "h1.test", page=2)) == [f"http://h1.test/{i}" for i in (1, 4, 7)]


def test_older_than_keeps_the_links_not_checked_since(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    first, second = web_server.url("/status/404"), web_server.url("/status/410")
    load(tmp_path, db_path, "one.md", [first])
    load(tmp_path, db_path, "two.md", [second])
    db = open_db(db_path)
    config = RevisitConfig(FetchConfig(allow_private_addresses=True, delay=0, timeout=5))

    def check_article(article_id: int, day: datetime) -> None:
        frontier = check_frontier(db, article_ids=[article_id])
        check_urls(db, frontier, config=config, warc_dir=tmp_path / "warc", clock=lambda: day)

    check_article(1, DAY0)
    check_article(2, DAY0 + timedelta(days=2))
    later = DAY0 + timedelta(days=2, hours=1)
    frontier = check_frontier(db, older_than=timedelta(days=1), now=later)
    assert len(frontier) == 1 and [job.url for job in frontier] == [first]
    assert len(check_frontier(db, older_than=timedelta(minutes=30), now=later)) == 2
    assert len(check_frontier(db, older_than=timedelta(days=3), now=later)) == 0


def test_a_check_holds_the_jobs_of_the_hosts_in_flight_only(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    """Forty hosts of two links, one worker: four hosts in flight. A job (what the archive knows
    of a URL) is made when its host starts, so at each saved result at most the jobs of five
    hosts (four in flight, one being saved), each perhaps twice (as read, then with its texts),
    are alive: 20, where a frontier made up front holds all 80."""
    hosts = [f"h{k}.test" for k in range(40)]
    urls = [web_server.url(f"/missing/{i}", host) for host in hosts for i in range(2)]
    load(tmp_path, db_path, "article.md", urls)
    db = open_db(db_path)
    resolver = resolver_for(dict.fromkeys(hosts, "127.0.0.1"))
    fetch = FetchConfig(
        allow_private_addresses=True, delay=0, timeout=5, concurrency=1, resolver=resolver
    )
    alive: list[int] = []

    def on_result(result: UrlResult, stats: RunStats) -> None:
        alive.append(sum(isinstance(thing, UrlJob) for thing in gc.get_objects()))

    frontier = check_frontier(db)
    gc.collect()  # no job of an earlier test is counted
    stats = check_urls(
        db, frontier, config=RevisitConfig(fetch), warc_dir=tmp_path / "warc", on_result=on_result
    )
    assert len(frontier) == 80 and dict(stats.outcomes) == {"not_found": 80}
    assert HOSTS_PER_WORKER == 4 and len(alive) == 80
    assert max(alive) <= 20


def test_article_option_limits_the_links(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    archive(tmp_path, db_path, web_server, ["/ok"])
    other = tmp_path / "other.md"
    other.write_text(f"# Other\n\nSee [this]({web_server.url('/status/404')}).\n")
    CliRunner().invoke(cli, ["archive", str(other), "--db", str(db_path), *FETCH, "--silent"])
    summary = check_json(db_path, "--article", "2")
    assert summary["outcomes"] == {"not_found": 1} and summary["link_status"] == {"suspect": 1}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "soon"], "not a duration: 'soon'"),
        (["--article", "9"], "no article 9"),
    ],
)
def test_bad_options_are_usage_errors(
    tmp_path: Path, web_server: WebServer, db_path: Path, args: list[str], message: str
) -> None:
    archive(tmp_path, db_path, web_server, ["/ok"])
    result = run_check(db_path, *args)
    assert result.exit_code == 2 and message in result.stderr


def test_check_without_an_archive_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["check", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "no archive yet" in result.stderr


def test_never_archived_link_that_answers_now_is_captured(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/story"] = text("not yet", status=404)
    archive(tmp_path, db_path, web_server, ["/story"])
    web_server.routes["/story"] = page(PARAGRAPHS)
    summary = check_json(db_path)
    row = source(db_path, web_server.url("/story"))
    assert summary["captured"] == 1 and "audit office" in row["text"]
    assert row["title"] == "Ports of the steppe" and row["link_status"] == "alive"


def test_status_updates_keep_source_search_consistent(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story", "/status/404"])
    check_json(db_path)
    db = open_db(db_path)
    db.execute("insert into sources_fts(sources_fts) values('integrity-check')")
    assert [row["url"] for row in db["sources"].search("audit")] == [web_server.url("/story")]


def test_check_is_polite_one_request_per_host(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    archive(tmp_path, db_path, web_server, [f"/ok?n={i}" for i in range(6)])
    run_check(db_path, "--concurrency", "8")
    assert web_server.max_concurrent() == 1


def test_private_addresses_refused_by_default(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    archive(tmp_path, db_path, web_server, ["/ok"])
    before = len(web_server.requests)
    args = ["check", "--db", str(db_path), "--json", "--silent"]
    summary = json.loads(CliRunner().invoke(cli, args).stdout)
    assert summary["outcomes"] == {"blocked_private_address": 1}
    assert len(web_server.requests) == before


def test_any_executor_can_run_the_hosts(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    """Processes instead of threads (as a Dask cluster would be): jobs and results pickle, the
    worker writes and closes its own WARC file, the coordinator alone writes SQLite."""
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story", "/status/404"])
    web_server.routes["/story"] = page(PARAGRAPHS[:1])
    db = open_db(db_path)
    config = RevisitConfig(FetchConfig(allow_private_addresses=True, delay=0, timeout=5))
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as executor:
        stats = check_urls(
            db, check_frontier(db), config=config, warc_dir=tmp_path / "warc", executor=executor
        )
    assert dict(stats.outcomes) == {"ok": 1, "not_found": 1} and stats.captured == 1
    assert not list((tmp_path / "warc").glob("*.open"))
    assert Path(db["captures"].get(2)["warc_path"]).exists()


def test_progress_is_reported_per_link_before_its_chunk_is_saved(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    """Three links of one host are one chunk, saved together; the bar moves as each is fetched:
    the server holds the second page until the first was reported."""
    body = article_html(PARAGRAPHS)
    reported = threading.Event()
    fetched: list[str] = []
    saved: list[int] = []  # how many had been reported at each save
    when_held: list[tuple[bool, int, int]] = []

    def second_held(h: Handler) -> None:
        if h.path == "/page/1":
            when_held.append((reported.wait(FAILSAFE), len(fetched), len(saved)))
        if h.path.rsplit("/", 1)[1].isdigit():
            h.respond(200, body)
        else:  # the made-up path that probes for soft 404s
            h.respond(404, b"<html><body>no such page</body></html>")

    web_server.routes["/page/"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, [f"/page/{i}" for i in range(3)])
    web_server.routes["/page/"] = second_held
    db = open_db(db_path)
    jobs = check_frontier(db)

    def on_fetched(url: str) -> None:
        fetched.append(url)
        reported.set()

    def on_result(result: UrlResult, stats: RunStats) -> None:
        saved.append(len(fetched))

    config = RevisitConfig(FetchConfig(allow_private_addresses=True, delay=0, timeout=5))
    check_urls(
        db,
        jobs,
        config=config,
        warc_dir=tmp_path / "warc",
        on_fetched=on_fetched,
        on_result=on_result,
    )
    assert when_held == [(True, 1, 0)]
    assert fetched == [job.url for job in jobs]
    assert saved == [3, 3, 3]


# -- Datasette -----------------------------------------------------------------------------------


async def canned(db_path: Path, query: str, **params: str) -> list[dict[str, Any]]:
    metadata = json.loads((REPO / "metadata.json").read_text(encoding="utf-8"))
    ds = Datasette([str(db_path)], metadata=metadata)
    await ds.invoke_startup()
    name = db_path.stem
    response = await ds.client.get(f"/{name}/{query}.json", params={"_shape": "array", **params})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


async def test_dead_links_query_shows_the_claim_and_what_to_use_instead(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story"])
    web_server.routes["/story"] = text("gone", status=410)
    for days in (0, 2, 4):
        check_at(db_path, DAY0 + timedelta(days=days))
    rows = await canned(db_path, "dead_links")
    assert len(rows) == 1 and rows[0]["claim"] == "Claim 0 is backed here."
    assert rows[0]["latest_outcome"] == "gone" and "audit office" in rows[0]["archived_text"]
    assert rows[0]["warc_path"].endswith(".warc.gz")


async def test_drifted_sources_query_shows_old_and_new_text(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story"])
    web_server.routes["/story"] = page([*PARAGRAPHS[:2], "The report was withdrawn in May."])
    check_json(db_path)
    rows = await canned(db_path, "drifted_sources")
    assert len(rows) == 1 and rows[0]["drift"] == "changed"
    assert "audit office" in rows[0]["archived_text"] and "withdrawn" in rows[0]["current_text"]


async def test_blocked_and_never_archived_queries(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    archive(tmp_path, db_path, web_server, ["/ok", "/status/403", "/status/404"])
    check_json(db_path)
    blocked = await canned(db_path, "blocked_links")
    never = await canned(db_path, "never_archived")
    assert [row["url"] for row in blocked] == [web_server.url("/status/403")]
    assert sorted(row["url"] for row in never) == sorted(
        web_server.url(p) for p in ("/status/403", "/status/404")
    )


async def test_check_history_query_lists_a_sources_checks(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    archive(tmp_path, db_path, web_server, ["/status/404"])
    for days in (0, 1):
        check_at(db_path, DAY0 + timedelta(days=days))
    rows = await canned(db_path, "check_history", url=web_server.url("/status/404"))
    assert [row["checked_at"] for row in rows] == ["2024-03-02T09:00:00Z", "2024-03-01T09:00:00Z"]


def test_new_version_gets_its_own_evidence(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    web_server.routes["/story"] = page(PARAGRAPHS)
    archive(tmp_path, db_path, web_server, ["/story"])
    web_server.routes["/story"] = page(["Nothing here says anything about the matter at all."])
    check_json(db_path)
    rows = list(
        open_db(db_path).query("select capture_id, label from evidence order by capture_id")
    )
    assert [row["capture_id"] for row in rows] == [1, 2]


def test_a_page_whose_new_text_could_not_be_extracted_is_looked_at_again(tmp_path: Path) -> None:
    """Extraction failed (its worker process died twice): the check cannot tell whether the
    page changed, so it says so, makes no capture, and is not a known-good body next time."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from archiver.net.result import FetchResult
    from archiver.rows import CheckRow, LastCapture
    from archiver.run.revisit import UrlJob, _finish, _Pending, _Worker
    from archiver.run.workers import INLINE

    failed: Future[Any] = Future()
    failed.set_exception(BrokenProcessPool("A process in the process pool was terminated"))
    url = "http://127.0.0.1:9/page"
    result = FetchResult(url=url, outcome="ok", captured_at="2026-11-28T00:00:00Z", status_code=200)
    last = LastCapture(id=1, cited=True)
    job = UrlJob(url=url, revisit=True, last=last, cited_text="The archived text.")
    config = RevisitConfig(FetchConfig(allow_private_addresses=True, delay=0, timeout=5))
    worker = _Worker(config, str(tmp_path / "warc"), INLINE)
    row = CheckRow(**result.as_check_row())
    checked = _finish(_Pending(job, result, row, failed), worker)
    assert (checked.outcome, checked.capture, checked.extracted_now) == ("ok", None, False)
    assert checked.check is not None
    assert checked.check.error == "text not extracted: A process in the process pool was terminated"
    assert (checked.check.similarity, checked.check.drift) == (None, None)
