"""fetch(): one outcome word per way a fetch can go, against a real local server."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import multiprocessing
import socket
import threading
import time
import zlib
from datetime import UTC, datetime

import pytest
from webserver import CYRILLIC, ETAG, LAST_MODIFIED, OK_HTML, Handler, WebServer, resolver_for

from archiver.net.fetch import (
    FetchConfig,
    fetch,
    make_session,
    outcome_for_status,
    parse_retry_after,
    user_agent,
)
from archiver.net.politeness import HostThrottle
from archiver.net.result import FetchResult
from archiver.net.robots import RobotsCache
from archiver.version import __version__


def config(**overrides: object) -> FetchConfig:
    """Fast settings for tests: loopback allowed, no delay, no retries, short timeouts."""
    settings: dict[str, object] = {
        "allow_private_addresses": True,
        "delay": 0.0,
        "max_retries": 0,
        "retry_after_cap": 0.05,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "timeout": 5.0,
    }
    settings.update(overrides)
    return FetchConfig(**settings)  # type: ignore[arg-type]


def get(url: str, cfg: FetchConfig | None = None, **kwargs: object) -> FetchResult:
    cfg = cfg or config()
    return fetch(url, session=make_session(cfg), config=cfg, throttle=HostThrottle(), **kwargs)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- success -----------------------------------------------------------------------------


def test_ok_page_fills_every_field(web_server: WebServer) -> None:
    result = get(web_server.url("/ok"))
    assert result.outcome == "ok"
    assert result.status_code == 200
    assert result.final_url == web_server.url("/ok")
    assert (result.content_type, result.charset) == ("text/html", "utf-8")
    assert (result.etag, result.last_modified) == (ETAG, LAST_MODIFIED)
    assert result.body is not None and result.body.read() == OK_HTML
    assert result.content_length == len(OK_HTML)
    assert result.payload_sha256 == hashlib.sha256(OK_HTML).hexdigest()
    assert result.error is None and result.redirects == []
    assert result.elapsed_ms is not None and result.captured_at.endswith("Z")


def test_exchange_records_the_hop_as_sent(web_server: WebServer) -> None:
    result = get(web_server.url("/ok"))
    [exchange] = result.exchanges
    sent = dict(exchange.request_headers)
    assert sent["Host"] == f"127.0.0.1:{web_server.port}"
    assert sent["User-Agent"] == f"citation-archiver/{__version__}"
    assert sent["Accept-Encoding"] == "gzip, deflate"
    assert (exchange.method, exchange.status_code, exchange.reason) == ("GET", 200, "OK")
    assert exchange.http_version == "HTTP/1.1"
    assert ("ETag", ETAG) in exchange.response_headers
    assert exchange.ip_address == "127.0.0.1"
    assert exchange.raw_body is not None and exchange.raw_body.read() == OK_HTML


def test_empty_200_is_ok_with_length_zero(web_server: WebServer) -> None:
    result = get(web_server.url("/empty"))
    assert (result.outcome, result.status_code, result.content_length) == ("ok", 200, 0)
    assert result.payload_sha256 == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize(
    ("path", "decompress"),
    [
        ("/gzip", gzip.decompress),
        ("/deflate", zlib.decompress),
        ("/deflate?raw=1", lambda data: zlib.decompress(data, -zlib.MAX_WBITS)),
    ],
)
def test_encoded_body_is_decoded_and_raw_kept(
    web_server: WebServer, path: str, decompress: object
) -> None:
    result = get(web_server.url(path))
    assert result.outcome == "ok"
    assert result.body is not None and result.body.read() == OK_HTML
    assert result.content_length == len(OK_HTML)
    raw = result.exchanges[0].raw_body
    assert raw is not None
    assert decompress(raw.read()) == OK_HTML  # type: ignore[operator]


def test_pdf_arrives_intact(web_server: WebServer) -> None:
    pypdf = pytest.importorskip("pypdf")
    result = get(web_server.url("/pdf"))
    assert (result.outcome, result.content_type) == ("ok", "application/pdf")
    assert result.body is not None
    reader = pypdf.PdfReader(io.BytesIO(result.body.read()))
    assert "Citation archive test PDF" in reader.pages[0].extract_text()


def test_png_arrives_intact(web_server: WebServer) -> None:
    result = get(web_server.url("/png"))
    assert (result.outcome, result.content_type) == ("ok", "image/png")
    assert result.body is not None and result.body.read().startswith(b"\x89PNG\r\n\x1a\n")


def test_charset_only_in_meta_is_left_to_the_extractor(web_server: WebServer) -> None:
    result = get(web_server.url("/cp1251"))
    assert (result.content_type, result.charset) == ("text/html", None)
    assert result.body is not None and CYRILLIC in result.body.read().decode("cp1251")


# --- conditional requests ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "header"),
    [({"etag": ETAG}, "If-None-Match"), ({"last_modified": LAST_MODIFIED}, "If-Modified-Since")],
)
def test_conditional_request_answered_304_is_ok_without_body(
    web_server: WebServer, kwargs: dict[str, str], header: str
) -> None:
    result = get(web_server.url("/ok"), **kwargs)  # type: ignore[arg-type]
    assert (result.outcome, result.status_code) == ("ok", 304)
    assert result.body is None and result.content_length is None
    assert result.etag == ETAG
    assert header in web_server.requests[0].headers


def test_304_at_the_end_of_a_redirect_chain_is_redirected(web_server: WebServer) -> None:
    """The outcome is the whole chain's: a moved page that did not change has still moved."""
    result = get(web_server.url("/redirect/301/1"), etag=ETAG)
    assert (result.outcome, result.status_code) == ("redirected", 304)
    assert result.final_url == web_server.url("/ok")


# --- status codes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (404, "not_found"),
        (410, "gone"),
        (401, "blocked"),
        (403, "blocked"),
        (451, "blocked"),
        (400, "client_error"),
        (418, "client_error"),
        (500, "server_error"),
        (502, "server_error"),
        (429, "rate_limited"),
    ],
)
def test_status_maps_to_outcome(web_server: WebServer, code: int, outcome: str) -> None:
    result = get(web_server.url(f"/status/{code}"))
    assert (result.outcome, result.status_code) == (outcome, code)
    assert result.error is not None and result.error.startswith(f"HTTP {code}")
    assert result.body is not None  # error pages are kept: soft-404 and block detection read them


def test_outcome_for_status_covers_redirect_without_location() -> None:
    assert outcome_for_status(300) == "server_error"


def test_503_then_200_is_retried_to_ok(web_server: WebServer) -> None:
    result = get(web_server.url("/flaky"), config(max_retries=2))
    assert (result.outcome, result.status_code) == ("ok", 200)
    assert web_server.paths() == ["/flaky", "/flaky"]
    assert len(result.exchanges) == 1  # retried attempts are not hops


def test_retries_are_bounded(web_server: WebServer) -> None:
    result = get(web_server.url("/status/500"), config(max_retries=2))
    assert result.outcome == "server_error"
    assert len(web_server.requests) == 3


def test_429_waits_at_most_the_cap_then_reports_rate_limited(web_server: WebServer) -> None:
    started = time.monotonic()
    result = get(web_server.url("/rate-limited"), config(max_retries=1, retry_after_cap=0.2))
    assert result.outcome == "rate_limited"
    assert len(web_server.requests) == 2
    assert 0.2 <= time.monotonic() - started < 0.9  # Retry-After: 1, capped at 0.2


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3", 3.0), ("Wed, 28 Mar 2018 10:00:30 GMT", 30.0), ("soon", None), (None, None)],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    now = datetime(2018, 3, 28, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == seconds


# --- redirects ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect_chain_is_followed_and_recorded(web_server: WebServer, code: int) -> None:
    result = get(web_server.url(f"/redirect/{code}/3"))
    assert (result.outcome, result.status_code) == ("redirected", 200)
    assert result.final_url == web_server.url("/ok")
    assert [r["status_code"] for r in result.redirects] == [code] * 3
    assert result.redirects[0] == {
        "url": web_server.url(f"/redirect/{code}/3"),
        "status_code": code,
        "location": web_server.url(f"/redirect/{code}/2"),
    }
    assert [e.status_code for e in result.exchanges] == [code, code, code, 200]
    assert json.loads(result.as_row()["redirects"]) == result.redirects


def test_redirect_loop(web_server: WebServer) -> None:
    result = get(web_server.url("/loop/a"))
    assert result.outcome == "redirect_loop"
    assert len(result.redirects) == 2


def test_too_many_redirects_is_a_loop(web_server: WebServer) -> None:
    result = get(web_server.url("/redirect/302/4"), config(max_redirects=3))
    assert result.outcome == "redirect_loop"
    assert len(web_server.requests) == 4


def test_exactly_max_redirects_is_fine(web_server: WebServer) -> None:
    assert get(web_server.url("/redirect/302/3"), config(max_redirects=3)).outcome == "redirected"


# --- invalid URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/x",
        "mailto:a@example.org",
        "javascript:alert(1)",
        "not a url",
        "",
        "http://",
        "http://example.org:99999/",
        "http://exa mple.org/",
        "http://example.org/\n",
        "http://[::1/",
        "http://[nope]/",
        f"http://{'a' * 64}.example/",
    ],
)
def test_invalid_url(url: str) -> None:
    result = get(url, config(resolver=resolver_for({})))
    assert result.outcome == "invalid_url"
    assert result.exchanges == []


def test_redirect_to_non_http_is_invalid_url(web_server: WebServer) -> None:
    result = get(web_server.url("/redirect-to?url=ftp://example.org/file"))
    assert result.outcome == "invalid_url"
    assert result.redirects[0]["location"] == "ftp://example.org/file"


def test_malformed_redirect_location_is_invalid_url(web_server: WebServer) -> None:
    result = get(web_server.url("/redirect-to?url=http://[oops/"))
    assert result.outcome == "invalid_url"


# --- network failures --------------------------------------------------------------------


def test_slow_headers_hit_the_read_timeout(web_server: WebServer) -> None:
    result = get(web_server.url("/slow-headers?delay=3"), config(read_timeout=0.3))
    assert result.outcome == "timeout"
    assert result.elapsed_ms is not None and result.elapsed_ms < 2000


@pytest.mark.parametrize("path", ["/drip?interval=0.05", "/drip-headers?interval=0.05"])
def test_drip_ends_at_the_wall_clock_limit(web_server: WebServer, path: str) -> None:
    started = time.monotonic()
    result = get(web_server.url(path), config(timeout=1.0, read_timeout=0.5))
    assert result.outcome == "timeout"
    assert result.body is None
    assert 0.9 <= time.monotonic() - started < 2.5


def test_connection_reset_is_unreachable(web_server: WebServer) -> None:
    result = get(web_server.url("/reset"), config(max_retries=1))
    assert result.outcome == "unreachable"
    assert "reset" in (result.error or "").lower()
    assert web_server.paths() == ["/reset", "/reset"]  # retried once


def test_connection_refused_is_unreachable() -> None:
    result = get(f"http://127.0.0.1:{free_port()}/")
    assert result.outcome == "unreachable"


def test_unknown_host_is_unreachable() -> None:
    result = get("http://nowhere.example/", config(resolver=resolver_for({})))
    assert result.outcome == "unreachable"
    assert "nowhere.example" in (result.error or "")


def test_tls_error(web_server: WebServer) -> None:
    result = get(web_server.url("/ok").replace("http://", "https://"))
    assert result.outcome == "tls_error"


# --- size limits -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/big", "/big-unsized", "/big-chunked"])
def test_200_mb_body_is_too_large(web_server: WebServer, path: str) -> None:
    started = time.monotonic()
    result = get(web_server.url(path), config(max_bytes=1_000_000))
    assert (result.outcome, result.status_code) == ("too_large", 200)
    assert result.body is None and result.exchanges[0].raw_body is None
    assert time.monotonic() - started < 3


def test_content_length_over_the_cap_is_refused_before_reading(web_server: WebServer) -> None:
    result = get(web_server.url("/big"), config(max_bytes=1_000_000))
    assert "Content-Length 200000000" in (result.error or "")


def test_body_of_exactly_max_bytes_is_ok(web_server: WebServer) -> None:
    result = get(web_server.url("/big-unsized?size=100000"), config(max_bytes=100_000))
    assert (result.outcome, result.content_length) == ("ok", 100_000)


def test_gzip_bomb_is_stopped_early(web_server: WebServer) -> None:
    started = time.monotonic()
    result = get(web_server.url("/gzip-bomb"), config(max_bytes=10_000_000))
    assert result.outcome == "too_large"
    assert result.body is None
    assert time.monotonic() - started < 3


def test_keep_prefix_keeps_the_first_max_bytes(web_server: WebServer) -> None:
    result = get(web_server.url("/gzip-bomb?mib=4"), config(max_bytes=1000), keep_prefix=True)
    assert (result.outcome, result.content_length) == ("ok", 1000)
    assert result.body is not None and result.body.read() == bytes(1000)


# --- robots and identity -----------------------------------------------------------------


def test_robots_disallow_gives_blocked_by_robots(web_server: WebServer) -> None:
    cfg = config()
    throttle = HostThrottle()
    robots = RobotsCache(cfg, throttle=throttle)
    result = fetch(
        web_server.url("/private/page"), session=make_session(cfg), config=cfg, robots=robots
    )
    assert result.outcome == "blocked_by_robots"
    assert web_server.paths() == ["/robots.txt"]


def test_ignore_robots(web_server: WebServer) -> None:
    cfg = config(ignore_robots=True)
    result = fetch(
        web_server.url("/private/page"),
        session=make_session(cfg),
        config=cfg,
        robots=RobotsCache(cfg, throttle=HostThrottle()),
    )
    assert result.outcome == "ok"
    assert web_server.paths() == ["/private/page"]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, f"citation-archiver/{__version__}"),
        (
            {"contact": "mailto:ed@example.org"},
            f"citation-archiver/{__version__} (+mailto:ed@example.org)",
        ),
        ({"user_agent": "MyBot/2"}, "MyBot/2"),
    ],
)
def test_user_agent(kwargs: dict[str, str], expected: str) -> None:
    assert user_agent(FetchConfig(**kwargs)) == expected  # type: ignore[arg-type]


def test_session_sends_user_agent_and_no_env_proxy(
    web_server: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # would break the fetch if honoured
    result = get(web_server.url("/ok"), config(contact="https://example.org/about"))
    assert result.outcome == "ok"
    agent = web_server.requests[0].headers["User-Agent"]
    assert agent.endswith("(+https://example.org/about)")


def test_connections_are_kept_alive_between_fetches(web_server: WebServer) -> None:
    cfg = config()
    session, throttle = make_session(cfg), HostThrottle()
    for path in ["/ok", "/redirect/302/1", "/status/404", "/empty"]:
        fetch(web_server.url(path), session=session, config=cfg, throttle=throttle)
    assert web_server.connections == 1


# --- the shared wall-clock watchdog --------------------------------------------------------


def test_parallel_drips_each_end_at_their_own_limit(web_server: WebServer) -> None:
    """One watcher thread serves every fetch: the later-started, shorter limit must wake it."""
    ended: dict[str, tuple[str, float]] = {}

    def drip(name: str, timeout: float) -> None:
        started = time.monotonic()
        result = get(web_server.url(f"/drip?interval=0.05&{name}"), config(timeout=timeout))
        ended[name] = (result.outcome, time.monotonic() - started)

    long = threading.Thread(target=drip, args=("long", 2.0))
    long.start()
    deadline = time.monotonic() + 5
    while not web_server.requests and time.monotonic() < deadline:  # long's limit is queued
        time.sleep(0.01)
    short = threading.Thread(target=drip, args=("short", 0.5))
    short.start()
    for thread in (short, long):
        thread.join(timeout=10)
    assert ended["short"][0] == ended["long"][0] == "timeout"
    assert 0.5 <= ended["short"][1] < 1.5
    assert 2.0 <= ended["long"][1] < 3.5


def test_a_finished_fetch_leaves_no_deadline_behind(web_server: WebServer) -> None:
    """A fast fetch's limit must not later shut the kept-alive socket the next fetch reads."""
    cfg = config(max_retries=0)
    session, throttle = make_session(cfg), HostThrottle()
    quick = fetch(
        web_server.url("/ok"), session=session, config=config(timeout=0.3), throttle=throttle
    )
    assert quick.outcome == "ok"
    slow = fetch(  # the server waits 1 s: the quick fetch's 0.3 s passes meanwhile
        web_server.url("/slow-headers?delay=1"), session=session, config=cfg, throttle=throttle
    )
    assert (slow.outcome, slow.status_code) == ("ok", 200)
    assert web_server.connections == 1  # the same socket both times


def test_the_watchdog_works_in_a_forked_child(web_server: WebServer) -> None:
    """A process pool or Dask worker forked after fetching needs a watcher thread of its own."""
    assert get(web_server.url("/ok")).outcome == "ok"  # the parent's watcher is running
    context = multiprocessing.get_context("fork")
    outcomes = context.Queue()

    def child() -> None:
        started = time.monotonic()
        result = get(web_server.url("/drip?interval=0.05"), config(timeout=0.5))
        outcomes.put((result.outcome, time.monotonic() - started))

    process = context.Process(target=child, daemon=True)
    process.start()
    try:
        outcome, elapsed = outcomes.get(timeout=10)
    finally:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
    assert outcome == "timeout"
    assert 0.5 <= elapsed < 1.5


def test_cookies_set_on_a_redirect_are_sent_to_its_target(web_server: WebServer) -> None:
    def set_cookie(h: Handler) -> None:
        h.respond(302, headers={"Location": "/cookie/check", "Set-Cookie": "token=abc; Path=/"})

    def check(h: Handler) -> None:
        h.respond(200 if "token=abc" in h.headers.get("Cookie", "") else 403, OK_HTML)

    web_server.routes.update({"/cookie/set": set_cookie, "/cookie/check": check})
    result = get(web_server.url("/cookie/set"))
    assert (result.outcome, result.status_code) == ("redirected", 200)
    assert dict(result.exchanges[1].request_headers)["Cookie"] == "token=abc"
