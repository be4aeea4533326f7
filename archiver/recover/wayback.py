"""Find a cited page in a web archive as it was when the article cited it (issue 13).

A rotted link is best recovered from the snapshot nearest the article's date, not the newest:
pages drift. Three ways to ask, each behind an endpoint the caller can point at a stand-in:

* the Wayback CDX server: ``/cdx/search/cdx?url=…&output=json&fl=…`` gives a JSON array, a
  header row naming the fields, then one row per capture (wayback-cdx-server/README.md);
* the availability API: ``/wayback/available?url=…&timestamp=…`` gives
  ``{"archived_snapshots": {"closest": {"available", "url", "timestamp", "status"}}}`` (or
  ``{}`` in place of ``closest``); asked when the CDX server cannot answer;
* any Memento TimeGate (RFC 7089): ``GET <timegate><url>`` with ``Accept-Datetime`` answers 302
  to the memento, dated by ``Memento-Datetime``, a ``Link`` rel="memento" entry, a Wayback
  timestamp in its URL or, failing those, by the memento's own headers (RFC 7089 4.1.1).

Every request goes through ``archiver.net.fetch.fetch`` (private-address guard, timeouts, byte cap,
robots, per-host throttle, Retry-After with one retry at most). No lookup raises for network or
archive trouble: it returns ``status="not_looked_up"`` so the caller can try again next run.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from requests.utils import parse_header_links

from archiver.errors import FetchError
from archiver.net.fetch import REDIRECT_STATUSES, FetchConfig, fetch, make_session
from archiver.net.result import CAPTURED

if TYPE_CHECKING:
    from archiver.net.politeness import HostThrottle
    from archiver.net.result import FetchResult
    from archiver.net.robots import RobotsCache

LOGGER = logging.getLogger(__name__)

CDX_FIELDS = ("timestamp", "original", "statuscode", "mimetype", "digest")
JSON_MAX_BYTES = 10_000_000  # a CDX answer of 1,000 rows is about 150 KB
HEADERS_ONLY_BYTES = 64 * 1024  # of a memento, whose headers alone matter here
_WAYBACK_TIMESTAMP = re.compile(r"/(\d{14})(?:[a-z]{2}_)?/")
Status = Literal["found", "none", "not_looked_up"]


@dataclass(frozen=True)
class Endpoints:
    """Where the archive answers; the defaults are the public Wayback Machine."""

    cdx: str = "https://web.archive.org/cdx/search/cdx"
    available: str = "https://archive.org/wayback/available"
    replay: str = "https://web.archive.org/web/"  # memento URL = replay + timestamp/ + original
    timegate: str = "https://web.archive.org/web/"  # TimeGate URL = timegate + original

    @classmethod
    def at(cls, base: str) -> Endpoints:
        """All endpoints under one base URL, laid out like web.archive.org (for stand-ins)."""
        base = base.rstrip("/")
        return cls(
            f"{base}/cdx/search/cdx", f"{base}/wayback/available", f"{base}/web/", f"{base}/web/"
        )


WAYBACK_MACHINE = Endpoints()


@dataclass(frozen=True)
class Memento:
    """One archived snapshot of a cited URL, shaped like a ``mementos`` row."""

    url: str  # the cited URL, as the caller gave it
    memento_url: str
    memento_datetime: str  # ISO 8601 UTC, "2018-03-28T10:00:00Z"
    distance_days: float  # memento minus the article's date; negative = before
    source: str  # "wayback-cdx" | "wayback-available" | "timegate:<host>"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LookupResult:
    """How a lookup went: ``found`` (with a memento), ``none`` archived, or ``not_looked_up``."""

    url: str
    when: str  # the date (or datetime) looked up, ISO 8601
    status: Status
    memento: Memento | None = None
    outcome: str | None = None  # the fetch outcome word that stopped a not_looked_up lookup
    error: str | None = None  # one line


@dataclass(frozen=True)
class Capture:
    """One CDX row: a capture of ``original`` at ``timestamp`` (14 digits, UTC)."""

    original: str
    timestamp: str
    captured_at: str  # the timestamp in ISO 8601
    memento_url: str
    statuscode: str | None = None
    mimetype: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class CaptureList:
    """The answer of ``find_captures``; ``status`` is ``found``, ``none`` or ``not_looked_up``."""

    url_prefix: str
    status: Status
    captures: list[Capture] = field(default_factory=list)
    outcome: str | None = None
    error: str | None = None


#: Lookup answers of this run by (kind, endpoints, url, date, window): one question, one lookup.
#: A plain dict: its get and set are atomic, so worker threads can share it.
LookupCache = dict[tuple[object, ...], LookupResult]
DEFAULT_CACHE: LookupCache = {}


@dataclass
class _Client:
    """What every request of one lookup shares."""

    endpoints: Endpoints
    session: requests.Session
    config: FetchConfig
    robots: RobotsCache | None
    throttle: HostThrottle | None

    def get(self, url: str, *, follow: bool = True, headers_only: bool = False) -> FetchResult:
        """``fetch`` with one retry at most, a small byte cap, and optionally no redirects
        (``follow=False``: the redirect is the answer, so stop after the first hop)."""
        base = self.config
        cap = HEADERS_ONLY_BYTES if headers_only else JSON_MAX_BYTES
        config = replace(
            base,
            max_retries=min(base.max_retries, 1),
            max_bytes=min(base.max_bytes, cap),
            max_redirects=base.max_redirects if follow else 0,
        )
        return fetch(
            url,
            session=self.session,
            config=config,
            robots=self.robots,
            throttle=self.throttle,
            keep_prefix=headers_only,
        )

    def json(self, url: str) -> Any:
        """The JSON document at ``url``; None for an empty body (CDX with nothing to list)."""
        result = self.get(url)
        try:
            if result.outcome not in CAPTURED:
                raise FetchError(result.error or result.outcome, url=url, outcome=result.outcome)
            raw = result.body.read() if result.body is not None else b""
        finally:
            result.close()
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
            raise FetchError(f"bad JSON: {exc}", url=url, outcome="server_error") from exc


@contextmanager
def _client(
    config: FetchConfig,
    endpoints: Endpoints,
    session: requests.Session | None,
    robots: RobotsCache | None,
    throttle: HostThrottle | None,
) -> Iterator[_Client]:
    """A client on the caller's session, or on a fresh guarded one closed afterwards."""
    active = session if session is not None else make_session(config)
    try:
        yield _Client(endpoints, active, config, robots, throttle)
    finally:
        if session is None:
            active.close()


def nearest_memento(
    url: str,
    when: date,
    *,
    config: FetchConfig,
    endpoints: Endpoints = WAYBACK_MACHINE,
    kind: Literal["wayback", "timegate"] = "wayback",
    window_days: int = 365,
    session: requests.Session | None = None,
    robots: RobotsCache | None = None,
    throttle: HostThrottle | None = None,
    cache: LookupCache | None = DEFAULT_CACHE,
) -> LookupResult:
    """The snapshot of ``url`` nearest the citing article's date; never raises for I/O.

    Args:
        url: the cited URL.
        when: the article's publication date (a capture that day counts as "at" it), or a
            datetime (naive means UTC).
        config: the run's fetch options; ``max_retries`` is capped at one for lookups.
        endpoints: the archive, ``Endpoints.at(base)`` for a stand-in.
        kind: "wayback": the latest capture at or before ``when`` if one is within
            ``window_days``, else the earliest after it (CDX, falling back to the availability
            API, which gives the closest either side); "timegate": whatever the TimeGate at
            ``endpoints.timegate`` negotiates for ``when`` (usually the closest either side).
        session, robots, throttle: passed to ``fetch``; a fresh session when None.
        cache: answers of this run, failures too (the next run asks again); None: always ask.

    Returns:
        A ``LookupResult``; ``not_looked_up`` ones carry the outcome word and a one-line error.
    """
    reference, cutoff = _reference(when)
    key = (kind, endpoints, url, reference.isoformat(), window_days)
    if cache is not None and (hit := cache.get(key)) is not None:
        return hit
    earliest = reference - timedelta(days=window_days)
    with _client(config, endpoints, session, robots, throttle) as client:
        steps: list[tuple[str, Callable[[], Memento | None]]] = [
            ("CDX", lambda: _cdx_nearest(client, url, reference, earliest, cutoff)),
            ("availability", lambda: _available(client, url, reference)),
        ]
        if kind == "timegate":
            steps = [("TimeGate", lambda: _timegate(client, url, reference))]
        result = _first_answer(url, when.isoformat(), steps)
    if cache is not None:
        cache[key] = result
    return result


def find_captures(
    url_prefix: str,
    *,
    from_date: date,
    to_date: date,
    config: FetchConfig,
    endpoints: Endpoints = WAYBACK_MACHINE,
    limit: int = 1000,
    distinct: bool = True,
    session: requests.Session | None = None,
    robots: RobotsCache | None = None,
    throttle: HostThrottle | None = None,
) -> CaptureList:
    """Captures of every URL under ``url_prefix`` between two dates (for ``resolve --find``).

    Args:
        url_prefix: e.g. ``publisher.example/2018/03/`` (CDX ``matchType=prefix``).
        from_date, to_date: inclusive, whole days, UTC.
        limit, distinct: most rows to ask for; one row per URL (CDX ``collapse=urlkey``).
    """
    start, _ = _reference(from_date)
    _, end = _reference(to_date)
    with _client(config, endpoints, session, robots, throttle) as client:
        try:
            captures = _cdx_query(client, url_prefix, start, end, limit, True, distinct)
        except FetchError as exc:
            outcome, error = exc.outcome, _one_line(f"CDX: {exc.outcome} ({exc.message})")
            return CaptureList(url_prefix, "not_looked_up", outcome=outcome, error=error)
    return CaptureList(url_prefix, "found" if captures else "none", captures)


# --- the three ways to ask -----------------------------------------------------------------


def _first_answer(
    url: str, when: str, steps: list[tuple[str, Callable[[], Memento | None]]]
) -> LookupResult:
    """The first step that answers decides; a failed step hands over to the next."""
    failures: list[str] = []
    outcome = None
    for name, step in steps:
        try:
            memento = step()
        except FetchError as exc:
            LOGGER.info("%s: %s lookup failed: %s (%s)", url, name, exc.outcome, exc.message)
            outcome = exc.outcome
            failures.append(f"{name}: {exc.outcome} ({exc.message})")
            continue
        if memento is None:
            return LookupResult(url, when, "none")
        return LookupResult(url, when, "found", memento)
    error = _one_line("; ".join(failures))
    return LookupResult(url, when, "not_looked_up", outcome=outcome, error=error)


def _cdx_nearest(
    client: _Client, url: str, reference: datetime, earliest: datetime, cutoff: datetime
) -> Memento | None:
    """Latest capture in [earliest, cutoff], else the first one after ``cutoff``."""
    before = _cdx_query(client, url, earliest, cutoff, -1)
    # Filter again: a CDX server that ignores from/to or a negative limit must not fool us.
    before = [c for c in before if _ts(earliest) <= c.timestamp <= _ts(cutoff)]
    if before:
        chosen = max(before, key=lambda c: c.timestamp)
    else:
        after = _cdx_query(client, url, cutoff + timedelta(seconds=1), None, 1)
        after = [c for c in after if c.timestamp > _ts(cutoff)]
        if not after:
            return None
        chosen = min(after, key=lambda c: c.timestamp)
    captured = datetime.fromisoformat(chosen.captured_at)
    return _memento(url, chosen.memento_url, captured, reference, "wayback-cdx")


def _cdx_query(
    client: _Client,
    url: str,
    start: datetime,
    end: datetime | None,
    limit: int,
    prefix: bool = False,
    distinct: bool = False,
) -> list[Capture]:
    """One CDX query (status 200 captures only), its JSON rows turned into ``Capture``s."""
    params = [("url", url), ("output", "json"), ("fl", ",".join(CDX_FIELDS))]
    params += [("filter", "statuscode:200"), ("from", _ts(start))]
    if end is not None:
        params.append(("to", _ts(end)))
    if prefix:
        params.append(("matchType", "prefix"))
    if distinct:
        params.append(("collapse", "urlkey"))
    params.append(("limit", str(limit)))
    query = f"{client.endpoints.cdx}?{urlencode(params)}"
    data = client.json(query)
    if data is None or data == []:
        return []
    if not isinstance(data, list) or not all(isinstance(row, list) for row in data):
        raise FetchError("CDX answer is not a list of rows", url=query, outcome="server_error")
    header, *rows = data
    index = {name: i for i, name in enumerate(header) if isinstance(name, str)}
    if "timestamp" not in index or "original" not in index:
        raise FetchError(f"CDX header row {header!r}", url=query, outcome="server_error")
    captures = []
    for row in rows:
        if len(row) != len(header):
            continue  # the empty row before a resume key
        values = {name: str(row[i]) for name, i in index.items()}
        timestamp, original = values["timestamp"], values["original"]
        captured = _parse_ts(timestamp)
        if captured is None:
            continue
        memento_url = f"{client.endpoints.replay}{timestamp}/{original}"
        extra = (values.get(name) for name in ("statuscode", "mimetype", "digest"))
        captures.append(Capture(original, timestamp, _iso(captured), memento_url, *extra))
    return captures


def _available(client: _Client, url: str, reference: datetime) -> Memento | None:
    """The availability API's closest snapshot (either side of ``reference``)."""
    query = f"{client.endpoints.available}?{urlencode({'url': url, 'timestamp': _ts(reference)})}"
    data = client.json(query)
    snapshots = data.get("archived_snapshots") if isinstance(data, dict) else None
    if not isinstance(snapshots, dict):
        raise FetchError("no archived_snapshots in the answer", url=query, outcome="server_error")
    closest = snapshots.get("closest")
    if not isinstance(closest, dict) or closest.get("available") is False:
        return None
    memento_url, captured = closest.get("url"), _parse_ts(str(closest.get("timestamp")))
    if not isinstance(memento_url, str) or captured is None:
        raise FetchError(f"closest snapshot {closest!r}", url=query, outcome="server_error")
    return _memento(url, memento_url, captured, reference, "wayback-available")


def _timegate(client: _Client, url: str, reference: datetime) -> Memento | None:
    """RFC 7089 datetime negotiation: 302 (or 200 with Content-Location) names the memento."""
    gate = client.endpoints.timegate + url
    accept = format_datetime(reference, usegmt=True)  # RFC 1123: "Thu, 29 Mar 2018 00:00:00 GMT"
    with _session_header(client.session, "Accept-Datetime", accept):
        result = client.get(gate, follow=False, headers_only=True)
    try:
        last = result.exchanges[-1] if result.exchanges else None
        if last is not None and result.redirects and last.status_code in REDIRECT_STATUSES:
            memento_url = str(result.redirects[0]["location"])
        elif last is not None and result.outcome == "ok":
            memento_url = urljoin(gate, _header(last.response_headers, "Content-Location") or gate)
        elif result.status_code == 404:  # the TimeGate knows no memento of this URL
            return None
        else:
            raise FetchError(result.error or result.outcome, url=gate, outcome=result.outcome)
        moment = _memento_datetime(last.response_headers, memento_url)
    finally:
        result.close()
    if moment is None:
        memento_url, moment = _ask_memento(client, memento_url)
    source = f"timegate:{urlsplit(gate).hostname}"
    return _memento(url, memento_url, moment, reference, source)


def _ask_memento(client: _Client, memento_url: str) -> tuple[str, datetime]:
    """Fetch the memento's headers for its ``Memento-Datetime`` (and final URL)."""
    result = client.get(memento_url, headers_only=True)
    try:
        if result.outcome not in CAPTURED or not result.exchanges:
            raise FetchError(result.error or "", url=memento_url, outcome=result.outcome)
        final = result.final_url or memento_url
        moment = _memento_datetime(result.exchanges[-1].response_headers, final)
    finally:
        result.close()
    if moment is None:
        raise FetchError("memento without Memento-Datetime", url=final, outcome="server_error")
    return final, moment


# --- small helpers -------------------------------------------------------------------------


def _memento_datetime(headers: list[tuple[str, str]], memento_url: str) -> datetime | None:
    """Memento-Datetime, else the Link memento entry for ``memento_url``, else its timestamp."""
    moment = _http_date(_header(headers, "Memento-Datetime"))
    if moment is not None:
        return moment
    for link in parse_header_links(_header(headers, "Link") or ""):
        target = urljoin(memento_url, link.get("url", ""))
        if "memento" in link.get("rel", "").split() and target == memento_url:
            moment = _http_date(link.get("datetime"))
            if moment is not None:
                return moment
    match = _WAYBACK_TIMESTAMP.search(urlsplit(memento_url).path)
    return _parse_ts(match.group(1)) if match else None


def _memento(url: str, at: str, captured: datetime, reference: datetime, source: str) -> Memento:
    days = round((captured - reference).total_seconds() / 86400, 3)
    return Memento(url, at, _iso(captured), days, source)


def _reference(when: date) -> tuple[datetime, datetime]:
    """(the instant distances are measured from, the last instant that counts as "at")."""
    if isinstance(when, datetime):
        instant = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        return instant, instant
    start = datetime(when.year, when.month, when.day, tzinfo=UTC)
    return start, start + timedelta(days=1, seconds=-1)


@contextmanager
def _session_header(session: requests.Session, name: str, value: str) -> Iterator[None]:
    """Send a header in this block: ``fetch`` takes no extra headers, and a session belongs
    to one worker thread, so nothing else sends through it meanwhile."""
    previous = session.headers.get(name)
    session.headers[name] = value
    try:
        yield
    finally:
        if previous is None:
            del session.headers[name]
        else:
            session.headers[name] = previous


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers if k.lower() == lowered), None)


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _ts(moment: datetime) -> str:
    """14-digit Wayback timestamp."""
    return moment.strftime("%Y%m%d%H%M%S")


def _parse_ts(timestamp: str) -> datetime | None:
    """A 14-digit Wayback timestamp as a UTC datetime; None when it is not one."""
    if len(timestamp) != 14 or not timestamp.isdigit():
        return None
    try:
        return datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:  # month 13 and the like
        return None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(text: str) -> str:
    return " ".join(text.split())
