"""Politeness, measured by the server: one request at a time per host, and the pause kept."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from webserver import Handler, RequestRecord, WebServer, resolver_for, text

from archiver.net.fetch import FetchConfig, fetch, make_session
from archiver.net.politeness import HostThrottle
from archiver.net.robots import RobotsCache

DELAY = 0.2


def config(**overrides: object) -> FetchConfig:
    settings: dict[str, object] = {
        "allow_private_addresses": True,
        "delay": DELAY,
        "max_retries": 0,
        "timeout": 5.0,
    }
    settings.update(overrides)
    return FetchConfig(**settings)  # type: ignore[arg-type]


def gaps(records: list[RequestRecord]) -> list[float]:
    """Time from the start of each request to the start of the next, in server time.

    At least the pause on any machine: the server stamps a start before it answers, so before
    the fetcher's request ends, and the pause runs from that end. End to start is not bounded:
    the server stamps an end after its last byte left, which a busy machine may delay past the
    fetcher's own end (a gap once measured 0.19 for a 0.2 pause).
    """
    ordered = sorted(records, key=lambda r: r.started)
    return [b.started - a.started for a, b in zip(ordered, ordered[1:], strict=False)]


def test_slot_serialises_one_host() -> None:
    throttle = HostThrottle()
    inside = 0
    most = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        with throttle.slot("example.org", 0.0):
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.02)
            with lock:
                inside -= 1

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: work(), range(8)))
    assert most == 1
    assert throttle.request_count("EXAMPLE.org.") == 8  # one host however it is spelled


def test_slot_keeps_the_delay_between_requests() -> None:
    throttle = HostThrottle()
    starts: list[float] = []
    for _ in range(3):
        with throttle.slot("example.org", DELAY):
            starts.append(time.monotonic())
    assert all(b - a >= DELAY for a, b in zip(starts, starts[1:], strict=False))


def test_hosts_do_not_wait_for_each_other() -> None:
    throttle = HostThrottle()
    with throttle.slot("a.example", 5.0):
        pass
    started = time.monotonic()
    with throttle.slot("b.example", 5.0):
        pass
    assert time.monotonic() - started < 4  # waiting for a.example would take 5 s
    assert throttle.wait_time("a.example") > 4


def test_defer_pushes_the_next_request_back() -> None:
    throttle = HostThrottle()
    started = time.monotonic()  # before the defer, which counts from its own now
    throttle.defer("example.org", 0.3)
    with throttle.slot("example.org", 0.0):
        assert time.monotonic() - started >= 0.3


def test_two_workers_on_one_host_never_overlap_and_keep_the_delay(web_server: WebServer) -> None:
    cfg = config()
    throttle = HostThrottle()

    def worker(paths: list[str]) -> list[str]:
        session = make_session(cfg)  # one session per worker, shared throttle
        return [
            fetch(web_server.url(p), session=session, config=cfg, throttle=throttle).outcome
            for p in paths
        ]

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(worker, [["/ok", "/empty", "/png"], ["/pdf", "/gzip", "/"]]))
    assert outcomes == [["ok"] * 3] * 2
    assert web_server.max_concurrent("127.0.0.1") == 1
    assert min(gaps(web_server.requests)) >= DELAY


def test_different_hosts_are_fetched_in_parallel(web_server: WebServer) -> None:
    """Each request is answered only once the other has arrived: in series, they never meet."""
    cfg = config(resolver=resolver_for({"a.example": "127.0.0.1", "b.example": "127.0.0.1"}))
    throttle = HostThrottle()
    both = threading.Barrier(2, timeout=cfg.timeout - 1)  # broken before a fetch times out
    met: list[bool] = []

    def meet(h: Handler) -> None:
        try:
            both.wait()
            met.append(True)
        except threading.BrokenBarrierError:
            met.append(False)
        h.respond(200, b"<html><body>met</body></html>")

    web_server.routes["/meet"] = meet

    def worker(host: str) -> str:
        url = web_server.url("/meet", host=host)
        return fetch(url, session=make_session(cfg), config=cfg, throttle=throttle).outcome

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(worker, ["a.example", "b.example"])) == ["ok", "ok"]
    assert met == [True, True]
    assert web_server.max_concurrent("a.example") == web_server.max_concurrent("b.example") == 1


def test_robots_txt_request_is_throttled_too(web_server: WebServer) -> None:
    cfg = config()
    robots = RobotsCache(cfg, throttle=HostThrottle())
    result = fetch(web_server.url("/ok"), session=make_session(cfg), config=cfg, robots=robots)
    assert result.outcome == "ok"
    assert web_server.paths() == ["/robots.txt", "/ok"]
    assert gaps(web_server.requests)[0] >= DELAY


def test_crawl_delay_raises_the_delay(web_server: WebServer) -> None:
    web_server.routes["/robots.txt"] = text("User-agent: *\nCrawl-delay: 0.3\n")
    cfg = config(delay=0.0)
    robots = RobotsCache(cfg, throttle=HostThrottle())
    session = make_session(cfg)
    for path in ["/ok", "/empty"]:
        assert (
            fetch(web_server.url(path), session=session, config=cfg, robots=robots).outcome == "ok"
        )
    ok, empty = [r for r in web_server.requests if r.path != "/robots.txt"]
    assert empty.started - ok.started >= 0.3


def test_retry_after_is_slept_before_retrying(web_server: WebServer) -> None:
    cfg = config(delay=0.0, max_retries=1, retry_after_cap=0.3)
    result = fetch(
        web_server.url("/status/429?retry_after=60"),
        session=make_session(cfg),
        config=cfg,
        throttle=HostThrottle(),
    )
    assert result.outcome == "rate_limited"
    [gap] = gaps(web_server.requests)
    assert 0.3 <= gap < 60  # Retry-After: 60, capped at 0.3


def test_retry_after_also_holds_back_the_next_url(web_server: WebServer) -> None:
    cfg = config(delay=0.0, retry_after_cap=0.3)
    throttle = HostThrottle()
    session = make_session(cfg)
    fetch(web_server.url("/rate-limited"), session=session, config=cfg, throttle=throttle)
    fetch(web_server.url("/ok"), session=session, config=cfg, throttle=throttle)
    [gap] = gaps(web_server.requests)
    assert gap >= 0.3
