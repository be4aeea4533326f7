"""robots.txt: parsed with protego, cached per site, RFC 9309 answers for failures."""

from __future__ import annotations

import socket

import pytest
from webserver import WebServer, text

from archiver.net.fetch import FetchConfig
from archiver.net.politeness import HostThrottle
from archiver.net.robots import ROBOTS_MAX_BYTES, RobotsCache, robots_url


def cache(**overrides: object) -> RobotsCache:
    settings: dict[str, object] = {"allow_private_addresses": True, "delay": 0.0, "timeout": 3.0}
    settings.update(overrides)
    return RobotsCache(FetchConfig(**settings), throttle=HostThrottle())  # type: ignore[arg-type]


def test_disallowed_path_is_refused_and_others_allowed(web_server: WebServer) -> None:
    robots = cache()
    assert robots.allowed(web_server.url("/private/page")) is False
    assert robots.allowed(web_server.url("/ok")) is True


def test_robots_txt_is_fetched_once_per_site(web_server: WebServer) -> None:
    robots = cache()
    for path in ["/a", "/b", "/private/c"]:
        robots.allowed(web_server.url(path))
    assert web_server.paths() == ["/robots.txt"]


def test_sites_are_keyed_by_scheme_host_and_port(
    web_server: WebServer, second_web_server: WebServer
) -> None:
    robots = cache()
    robots.allowed(web_server.url("/ok"))
    robots.allowed(second_web_server.url("/ok"))
    assert web_server.paths() == second_web_server.paths() == ["/robots.txt"]


def test_group_for_our_product_token_applies(web_server: WebServer) -> None:
    web_server.routes["/robots.txt"] = text(
        "User-agent: citation-archiver\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    )
    robots = cache(contact="mailto:ed@example.org")
    assert robots.allowed(web_server.url("/ok")) is False
    assert robots.allowed(web_server.url("/ok"), "OtherBot/1.0") is True


@pytest.mark.parametrize(
    ("status", "allowed"),
    [(404, True), (410, True), (401, True), (403, True), (500, False), (503, False), (429, False)],
)
def test_failed_robots_txt_follows_rfc_9309(
    web_server: WebServer, status: int, allowed: bool
) -> None:
    web_server.routes["/robots.txt"] = text("User-agent: *\nDisallow: /ok\n", status=status)
    assert cache().allowed(web_server.url("/ok")) is allowed


def test_unreachable_site_is_disallowed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert cache().allowed(f"http://127.0.0.1:{port}/ok") is False


def test_timeout_is_disallowed(web_server: WebServer) -> None:
    web_server.routes["/robots.txt"] = web_server.routes["/drip"]
    assert cache(timeout=0.5).allowed(web_server.url("/ok")) is False


def test_redirected_robots_txt_is_followed(web_server: WebServer) -> None:
    web_server.routes["/robots.txt"] = lambda h: h.respond(301, headers={"Location": "/real"})
    web_server.routes["/real"] = text("User-agent: *\nDisallow: /ok\n")
    assert cache().allowed(web_server.url("/ok")) is False


def test_more_than_five_redirects_means_no_robots_txt(web_server: WebServer) -> None:
    web_server.routes["/robots.txt"] = lambda h: h.respond(
        302, headers={"Location": "/redirect/302/6"}
    )
    assert cache().allowed(web_server.url("/ok")) is True
    assert len(web_server.requests) == 6


def test_oversized_robots_txt_is_read_up_to_the_cap(web_server: WebServer) -> None:
    padding = "# padding line to push the file past the cap\n" * (ROBOTS_MAX_BYTES // 40)
    web_server.routes["/robots.txt"] = text("User-agent: *\nDisallow: /ok\n" + padding)
    assert cache().allowed(web_server.url("/ok")) is False


def test_crawl_delay_is_exposed(web_server: WebServer) -> None:
    web_server.routes["/robots.txt"] = text("User-agent: *\nCrawl-delay: 2.5\n")
    robots = cache()
    assert robots.crawl_delay(web_server.url("/ok")) == 2.5
    assert robots.allowed(web_server.url("/ok")) is True


def test_no_crawl_delay_is_none(web_server: WebServer) -> None:
    assert cache().crawl_delay(web_server.url("/ok")) is None


def test_robots_txt_itself_is_always_allowed(web_server: WebServer) -> None:
    web_server.routes["/robots.txt"] = text("User-agent: *\nDisallow: /\n")
    assert cache().allowed(web_server.url("/robots.txt")) is True


def test_robots_fetch_is_guarded(web_server: WebServer) -> None:
    robots = RobotsCache(FetchConfig(delay=0), throttle=HostThrottle())
    assert robots.rules(web_server.url("/ok")).outcome == "blocked_private_address"
    assert web_server.connections == 0


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a/b?c", "https://example.org/robots.txt"),
        ("http://Example.org:8080/x", "http://example.org:8080/robots.txt"),
        ("https://example.org:443/", "https://example.org/robots.txt"),
        ("http://[::1]:81/", "http://[::1]:81/robots.txt"),
    ],
)
def test_robots_url(url: str, expected: str) -> None:
    assert robots_url(url) == expected
