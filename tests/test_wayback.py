"""wayback.py against a fake web archive on 127.0.0.1: CDX, availability API, TimeGate."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import pytest
from webserver import Handler, WebServer

from archiver.net.fetch import FetchConfig, make_session
from archiver.net.politeness import HostThrottle
from archiver.recover.wayback import (
    Endpoints,
    LookupResult,
    find_captures,
    nearest_memento,
)

CITED = "http://publisher.example/2018/03/belt-and-road"
PUBLISHED = date(2018, 3, 29)  # the article's date; distances count from 00:00 UTC that day


def _moment(timestamp: str) -> datetime:
    return datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


class FakeArchive:
    """A Wayback-like archive: ``captures`` maps an original URL to its 14-digit timestamps.

    ``/cdx/search/cdx`` honours url, matchType=prefix, from, to, limit (negative: the last N)
    and collapse=urlkey; ``/wayback/available`` gives the closest capture either side;
    ``/web/<url>`` is a TimeGate answering in ``timegate_style``; ``/web/<ts>/<url>`` is a
    memento.
    """

    def __init__(self, captures: dict[str, list[str]]) -> None:
        self.captures = captures
        self.timegate_style = "memento-datetime"
        self.server = WebServer(
            routes={
                "/cdx/search/cdx": self.cdx,
                "/wayback/available": self.available,
                "/web/": self.web,
            }
        )

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints.at(self.server.url(""))

    def requests_to(self, path: str) -> int:
        return sum(1 for p in self.server.paths() if p.startswith(path))

    def cdx(self, h: Handler) -> None:
        query = h.query
        prefix = query.get("matchType") == "prefix"
        rows = [
            [ts, original, "200", "text/html", f"DIGEST{ts}"]
            for original, stamps in sorted(self.captures.items())
            if (original.startswith(query["url"]) if prefix else original == query["url"])
            for ts in sorted(stamps)
            if query.get("from", "0") <= ts <= query.get("to", "9" * 14)
        ]
        if query.get("collapse") == "urlkey":
            rows = [row for i, row in enumerate(rows) if i == 0 or rows[i - 1][1] != row[1]]
        limit = int(query.get("limit", "0"))
        rows = rows[:limit] if limit > 0 else rows[limit:] if limit < 0 else rows
        header = query["fl"].split(",")
        body = json.dumps([header, *rows] if rows else [])
        h.respond(200, body.encode(), content_type="application/json")

    def _closest(self, url: str, moment: datetime) -> str | None:
        stamps = self.captures.get(url, [])
        return min(stamps, key=lambda ts: abs(_moment(ts) - moment), default=None)

    def available(self, h: Handler) -> None:
        url = h.query["url"]
        ts = self._closest(url, _moment(h.query["timestamp"]))
        snapshots: dict[str, Any] = {}
        if ts is not None:
            memento = self.server.url(f"/web/{ts}/{url}")
            closest = {"available": True, "url": memento, "timestamp": ts, "status": "200"}
            snapshots["closest"] = closest
        body = json.dumps({"url": url, "archived_snapshots": snapshots})
        h.respond(200, body.encode(), content_type="application/json")

    def web(self, h: Handler) -> None:
        rest = h.path[len("/web/") :]
        replay = re.match(r"(\d{14})/(.*)", rest)
        if replay:  # a memento says when it was captured
            stamp = format_datetime(_moment(replay.group(1)), usegmt=True)
            link = f'<{replay.group(2)}>; rel="original"'
            h.respond(200, b"<p>archived</p>", headers={"Memento-Datetime": stamp, "Link": link})
            return
        ts = self._closest(rest, parsedate_to_datetime(h.headers["Accept-Datetime"]))
        if ts is None:
            h.respond(404, b"no mementos")
            return
        location = self.server.url(f"/web/{ts}/{rest}")
        stamp = format_datetime(_moment(ts), usegmt=True)
        headers = {"Location": location, "Vary": "accept-datetime"}
        links = [
            f'<{rest}>; rel="original"',
            f'<{self.server.url("/timemap/" + rest)}>; rel="timemap"',
        ]
        if self.timegate_style == "memento-datetime":
            headers["Memento-Datetime"] = stamp
        elif self.timegate_style == "link":
            links.append(f'<{location}>; rel="first memento"; datetime="{stamp}"')
        elif self.timegate_style == "bare":  # RFC 7089 4.1.1: datetime only on the memento
            headers["Location"] = f"/memento/{rest}"
        headers["Link"] = ", ".join(links)
        h.respond(302, b"", headers=headers)


@pytest.fixture
def archive() -> Iterator[FakeArchive]:
    fake = FakeArchive(
        {
            CITED: ["20160101000000", "20180301120000", "20180415000000"],
            "http://publisher.example/2018/03/only-later": ["20180410060000"],
            "http://publisher.example/2018/03/same-day": ["20180320000000", "20180329150000"],
            "http://publisher.example/2019/01/other": ["20190105000000"],
        }
    )
    with fake.server:
        yield fake


def config(**overrides: Any) -> FetchConfig:
    settings: dict[str, Any] = {
        "allow_private_addresses": True,
        "ignore_robots": True,
        "delay": 0.0,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "timeout": 5.0,
    }
    settings.update(overrides)
    return FetchConfig(**settings)


def lookup(archive: FakeArchive, url: str = CITED, **kwargs: Any) -> LookupResult:
    kwargs.setdefault("config", config())
    kwargs.setdefault("cache", {})
    kwargs.setdefault("throttle", HostThrottle())
    return nearest_memento(
        url, kwargs.pop("when", PUBLISHED), endpoints=archive.endpoints, **kwargs
    )


# --- choosing the memento ------------------------------------------------------------------


def test_latest_capture_before_the_date_within_the_window(archive: FakeArchive) -> None:
    result = lookup(archive)
    assert result.status == "found" and result.memento is not None
    assert result.memento.as_dict() == {
        "url": CITED,
        "memento_url": archive.server.url(f"/web/20180301120000/{CITED}"),
        "memento_datetime": "2018-03-01T12:00:00Z",
        "distance_days": -27.5,
        "source": "wayback-cdx",
    }
    assert archive.requests_to("/cdx/") == 1  # found before: no second query


def test_nearest_after_when_none_before(archive: FakeArchive) -> None:
    result = lookup(archive, "http://publisher.example/2018/03/only-later")
    assert result.memento is not None
    assert result.memento.memento_datetime == "2018-04-10T06:00:00Z"
    assert result.memento.distance_days == 12.25  # positive: after the article
    assert archive.requests_to("/cdx/") == 2


def test_a_capture_outside_the_window_gives_way_to_one_after(archive: FakeArchive) -> None:
    """On 2018-02-01 the 2016-01-01 capture is 762 days back: outside 30 days, inside 3 years."""
    narrow = lookup(archive, window_days=30, when=date(2018, 2, 1))
    wide = lookup(archive, window_days=3 * 365, when=date(2018, 2, 1))
    assert narrow.memento is not None and wide.memento is not None
    assert narrow.memento.memento_datetime == "2018-03-01T12:00:00Z"
    assert narrow.memento.distance_days == 28.5
    assert wide.memento.memento_datetime == "2016-01-01T00:00:00Z"
    assert wide.memento.distance_days == -762.0


@pytest.mark.parametrize(
    ("url", "sign"),
    [(CITED, -1), ("http://publisher.example/2018/03/only-later", 1)],
)
def test_distance_sign_says_before_or_after(archive: FakeArchive, url: str, sign: int) -> None:
    result = lookup(archive, url)
    assert result.memento is not None and result.memento.distance_days * sign > 0


def test_a_capture_on_the_day_itself_is_preferred(archive: FakeArchive) -> None:
    result = lookup(archive, "http://publisher.example/2018/03/same-day")
    assert result.memento is not None
    assert result.memento.memento_datetime == "2018-03-29T15:00:00Z"
    assert result.memento.distance_days == 0.625


def test_never_archived_is_none_not_an_error(archive: FakeArchive) -> None:
    result = lookup(archive, "http://publisher.example/never-archived")
    assert result == LookupResult("http://publisher.example/never-archived", "2018-03-29", "none")


# --- the availability API and the TimeGate ---------------------------------------------------


def test_availability_api_when_the_cdx_server_fails(archive: FakeArchive) -> None:
    archive.server.routes["/cdx/search/cdx"] = lambda h: h.respond(
        503, b"busy", headers={"Retry-After": "0"}
    )
    result = lookup(archive)
    assert result.status == "found" and result.memento is not None
    assert result.memento.source == "wayback-available"
    assert result.memento.memento_datetime == "2018-04-15T00:00:00Z"  # the closest either side
    assert result.memento.distance_days == 17.0
    assert archive.requests_to("/cdx/") == 2  # one retry at most
    assert archive.requests_to("/wayback/available?url=http%3A%2F%2Fpublisher.example") == 1
    assert "timestamp=20180329000000" in archive.server.paths()[-1]


@pytest.mark.parametrize("style", ["memento-datetime", "link", "bare"])
def test_timegate_location_and_datetime(archive: FakeArchive, style: str) -> None:
    """The datetime from Memento-Datetime, from the Link memento entry, or from the memento."""
    archive.timegate_style = style
    if style == "bare":  # a memento URL with no Wayback timestamp in it
        archive.server.routes["/memento/"] = lambda h: h.respond(
            200, b"old", headers={"Memento-Datetime": "Sun, 01 Apr 2018 10:00:00 GMT"}
        )
    archive.captures[CITED] = ["20180401100000"]
    result = lookup(archive, kind="timegate")
    assert result.status == "found" and result.memento is not None
    expected = "/memento/" if style == "bare" else "/web/20180401100000/"
    assert result.memento.memento_url == archive.server.url(expected + CITED)
    assert result.memento.memento_datetime == "2018-04-01T10:00:00Z"
    assert result.memento.distance_days == pytest.approx(3.417)
    assert result.memento.source == "timegate:127.0.0.1"
    gate = next(r for r in archive.server.requests if r.path == f"/web/{CITED}")
    assert gate.headers["Accept-Datetime"] == "Thu, 29 Mar 2018 00:00:00 GMT"
    assert archive.requests_to("/web/2018") == 0  # the memento itself is not downloaded


def test_timegate_404_means_no_memento(archive: FakeArchive) -> None:
    result = lookup(archive, "http://publisher.example/never-archived", kind="timegate")
    assert result.status == "none" and result.error is None


# --- politeness and failures ----------------------------------------------------------------


def test_retry_after_on_429_then_success(archive: FakeArchive) -> None:
    serve_cdx = archive.cdx

    def rate_limited_once(h: Handler) -> None:
        if h.count("cdx") == 0:
            h.respond(429, b"slow down", headers={"Retry-After": "1"})
        else:
            serve_cdx(h)

    archive.server.routes["/cdx/search/cdx"] = rate_limited_once
    result = lookup(archive)
    assert result.status == "found" and result.memento is not None
    assert result.memento.source == "wayback-cdx"
    assert archive.requests_to("/cdx/") == 2


def test_429_twice_falls_back_and_never_retries_more_than_once(archive: FakeArchive) -> None:
    archive.server.routes["/cdx/search/cdx"] = lambda h: h.respond(
        429, b"slow down", headers={"Retry-After": "0"}
    )
    archive.server.routes["/wayback/available"] = archive.server.routes["/cdx/search/cdx"]
    result = lookup(archive)
    assert result.status == "not_looked_up" and result.outcome == "rate_limited"
    assert archive.requests_to("/cdx/") == 2 and archive.requests_to("/wayback/") == 2


def test_refused_connection_is_not_looked_up(archive: FakeArchive) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    result = nearest_memento(
        CITED,
        PUBLISHED,
        config=config(),
        endpoints=Endpoints.at(f"http://127.0.0.1:{port}"),
        cache={},
        throttle=HostThrottle(),
    )
    assert result.status == "not_looked_up" and result.memento is None
    assert result.outcome == "unreachable"
    assert result.error is not None and "\n" not in result.error
    assert (
        result.error.startswith("CDX: unreachable") and "availability: unreachable" in result.error
    )


@pytest.mark.parametrize("body", [b'[["timestamp", ', b"<html>busy</html>", b'{"rows": 3}'])
def test_malformed_json_is_not_looked_up(archive: FakeArchive, body: bytes) -> None:
    def garbage(h: Handler) -> None:
        h.respond(200, body, content_type="application/json")

    archive.server.routes["/cdx/search/cdx"] = garbage
    archive.server.routes["/wayback/available"] = garbage
    result = lookup(archive)
    assert result.status == "not_looked_up" and result.outcome == "server_error"
    assert result.error is not None and "\n" not in result.error


def test_a_second_lookup_comes_from_the_cache(archive: FakeArchive) -> None:
    cache: dict[tuple[object, ...], LookupResult] = {}
    first = lookup(archive, cache=cache)
    sent = len(archive.server.requests)
    assert lookup(archive, cache=cache) == first
    assert len(archive.server.requests) == sent  # nothing sent the second time
    lookup(archive, cache=cache, when=date(2018, 4, 20))  # another date is another question
    assert len(archive.server.requests) == sent + 1


def test_private_address_guard_refuses_a_loopback_archive(archive: FakeArchive) -> None:
    result = lookup(archive, config=config(allow_private_addresses=False))
    assert result.status == "not_looked_up" and result.outcome == "blocked_private_address"
    assert archive.server.requests == []


def test_timegate_lookup_leaves_the_callers_session_as_it_was(archive: FakeArchive) -> None:
    session = make_session(config())
    before = dict(session.headers)
    assert lookup(archive, kind="timegate", session=session).status == "found"
    assert dict(session.headers) == before


# --- listing captures --------------------------------------------------------------


def test_find_captures_lists_each_url_under_a_prefix_once(archive: FakeArchive) -> None:
    listing = find_captures(
        "http://publisher.example/2018/03/",
        from_date=date(2018, 3, 1),
        to_date=date(2018, 4, 30),
        config=config(),
        endpoints=archive.endpoints,
        throttle=HostThrottle(),
    )
    assert listing.status == "found"
    assert [(c.original, c.timestamp) for c in listing.captures] == [
        (CITED, "20180301120000"),
        ("http://publisher.example/2018/03/only-later", "20180410060000"),
        ("http://publisher.example/2018/03/same-day", "20180320000000"),
    ]
    first = listing.captures[0]
    assert first.captured_at == "2018-03-01T12:00:00Z" and first.mimetype == "text/html"
    assert first.memento_url == archive.server.url(f"/web/20180301120000/{CITED}")
    query = archive.server.paths()[-1]
    assert "matchType=prefix" in query and "collapse=urlkey" in query
    assert "from=20180301000000" in query and "to=20180430235959" in query


def test_find_captures_unreachable_is_not_looked_up(archive: FakeArchive) -> None:
    listing = find_captures(
        "http://publisher.example/",
        from_date=date(2018, 1, 1),
        to_date=date(2018, 12, 31),
        config=config(allow_private_addresses=False),
        endpoints=archive.endpoints,
    )
    assert listing.status == "not_looked_up" and listing.outcome == "blocked_private_address"
