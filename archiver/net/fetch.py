"""Fetch one URL politely and safely, and say in one outcome word how it went.

``fetch()`` never raises for network or HTTP trouble: every failure becomes a ``FetchResult``
with an outcome from ``archiver.errors.OUTCOMES`` and an ``error`` message, because one bad
source must not stop the archiving of an article's other 24 citations.

What it guards against, and where:

* private addresses: ``netguard.check_host`` before every hop, and the ``GuardedAdapter`` of
  ``make_session`` again at connect time (no DNS-rebinding gap);
* robots.txt and per-host politeness: ``robots.RobotsCache`` and ``politeness.HostThrottle``;
* redirects: followed by hand, one hop at a time, so each hop gets both checks above;
* endless or huge bodies: a wall-clock ``deadlines.Deadline`` per response and a cap on decoded
  bytes that also stops gzip bombs early (decompression is asked for at most ``max_bytes + 1``).

Bodies: each ``Exchange.raw_body`` holds the entity as it came off the wire (content-encoding
intact) for the WARC response record; ``FetchResult.body`` holds the decoded payload that the
extractors read and ``payload_sha256`` / ``content_length`` describe.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import ssl
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from tempfile import SpooledTemporaryFile
from typing import IO, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from archiver.errors import (
    BlockedByRobots,
    FetchError,
    FetchTimeout,
    InvalidURL,
    RedirectLoop,
    TLSError,
    TooLarge,
)
from archiver.net.deadlines import Deadline
from archiver.net.guard import AddressGuard, GuardedAdapter, Resolver, check_host, watching_sockets
from archiver.net.politeness import DEFAULT_THROTTLE, HostThrottle
from archiver.net.result import CAPTURED, Exchange, FetchResult
from archiver.net.robots_rules import RobotsRules
from archiver.version import __version__


class RobotsSource(Protocol):
    """What the fetcher asks of a robots.txt cache (``net.robots.RobotsCache``): the rules of a
    URL's site, and the throttle those fetches share. A protocol, so that the cache, which
    fetches robots.txt with this module, and this module do not import each other."""

    throttle: HostThrottle

    def rules(self, url: str, *, session: requests.Session | None = None) -> RobotsRules: ...


LOGGER = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: robots.txt failures that say the host itself cannot be reached.
UNREACHABLE_OUTCOMES = frozenset({"unreachable", "timeout", "tls_error"})
CHUNK_SIZE = 64 * 1024
SPOOL_SIZE = 1 << 20  # bodies up to 1 MiB stay in memory, larger ones go to a temp file
_HTTP_VERSIONS = {9: "HTTP/0.9", 10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2", 30: "HTTP/3"}
_BAD_HOST_CHARS = frozenset(' <>"{}|\\^`%')


@dataclass(frozen=True)
class FetchConfig:
    """Fetch options, built once from the CLI flags shared by archive, check and resolve."""

    allow_private_addresses: bool = False
    delay: float = 1.0  # seconds between the end of one request and the next, per host
    concurrency: int = 8
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # per socket read
    timeout: float = 60.0  # wall clock for one whole response, body included
    max_bytes: int = 50_000_000  # decoded body cap
    ignore_robots: bool = False
    user_agent: str | None = None
    contact: str | None = None  # URL or mailto: for site owners, put in the User-Agent
    max_redirects: int = 10
    max_retries: int = 2
    retry_after_cap: float = 30.0  # longest wait for Retry-After or backoff
    resolver: Resolver | None = None  # tests inject one; getaddrinfo otherwise
    allowed_networks: tuple[str, ...] = ()  # CIDRs the private-address guard lets through


def user_agent(config: FetchConfig) -> str:
    """``citation-archiver/<version> (+contact)``, or the configured one (contact appended)."""
    agent = config.user_agent or f"citation-archiver/{__version__}"
    if config.contact and config.contact not in agent:
        agent = f"{agent} (+{config.contact})"
    return agent


def make_session(config: FetchConfig) -> requests.Session:
    """A session for one worker: guarded connections, our User-Agent, no proxies from env.

    ``trust_env`` is off because an HTTP(S)_PROXY would pick the address to connect to behind
    the guard's back (and .netrc credentials have no business in an archiver).
    """
    session = requests.Session()
    session.trust_env = False
    session.max_redirects = config.max_redirects
    session.headers.update({"User-Agent": user_agent(config), "Accept-Encoding": "gzip, deflate"})
    guard = AddressGuard(
        resolver=config.resolver,
        allow_private=config.allow_private_addresses,
        allowed_networks=config.allowed_networks,
    )
    adapter = GuardedAdapter(
        guard, pool_connections=config.concurrency, pool_maxsize=config.concurrency
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def outcome_for_status(status: int) -> str:
    """Map a final HTTP status to an outcome word (DESIGN.md)."""
    if 200 <= status < 300 or status == 304:
        return "ok"
    if status == 404:
        return "not_found"
    if status == 410:
        return "gone"
    if status in (401, 403, 451):
        return "blocked"
    if status == 429:
        return "rate_limited"
    if 400 <= status < 500:
        return "client_error"
    return "server_error"  # 5xx, and the odd 1xx/3xx that is not a usable answer


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _split(url: str) -> tuple[str, int]:
    """Check that ``url`` is a fetchable http(s) URL and return its (host, port)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise InvalidURL(f"control character in URL: {url!r}", url=url)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:  # "http://[::1/", "http://host:99999/"
        raise InvalidURL(f"malformed URL: {url!r} ({exc})", url=url) from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURL(f"not an http(s) URL: {url!r}", url=url)
    host = parts.hostname
    labels = host.rstrip(".").split(".") if host and host.isascii() else []
    if (
        not host
        or _BAD_HOST_CHARS.intersection(host)
        or any(len(label) > 63 for label in labels)
        or len(host) > 253
    ):
        raise InvalidURL(f"no valid host in URL: {url!r}", url=url)
    return host, port or (443 if parts.scheme.lower() == "https" else 80)


def _without_fragment(url: str) -> str:
    try:
        return urlunsplit(urlsplit(url)._replace(fragment=""))
    except ValueError:
        return url  # _split() reports it as invalid_url


def _content_type(value: str | None) -> tuple[str | None, str | None]:
    """``text/html; charset="UTF-8"`` -> ("text/html", "utf-8")."""
    if not value:
        return None, None
    media, *params = value.split(";")
    charset = None
    for param in params:
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'").lower() or None
    return media.strip().lower() or None, charset


def _spool() -> IO[bytes]:
    return SpooledTemporaryFile(max_size=SPOOL_SIZE)  # noqa: SIM115 - caller owns and closes it


class _Decoder:
    """Incremental gzip/deflate decoding that never produces more than it is asked for."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._probe = encoding == "deflate"  # zlib-wrapped per RFC, raw deflate in practice too
        self._z: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()

    def decode(self, data: bytes, room: int) -> bytes:
        """Decode ``data``, returning at most ``room`` bytes (``room`` = what is left + 1)."""
        if self._z is None:
            return data
        if self._probe:
            self._probe = False
            try:
                return self._decode(data, room)
            except zlib.error:
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._decode(data, room)

    def _decode(self, data: bytes, room: int) -> bytes:
        assert self._z is not None
        out = self._z.decompress(data, room)
        # A gzip body may be several members back to back; anything else after the end is junk.
        while self._z.eof and self._z.unused_data[:2] == b"\x1f\x8b" and len(out) < room:
            rest = self._z.unused_data
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += self._z.decompress(rest, room - len(out))
        return out

    def finish(self, room: int) -> bytes:
        """Output still held by zlib once the input has ended (bounded like ``decode``)."""
        if self._z is None or self._z.eof:
            return b""
        return self._z.decompress(b"", room)


@dataclass
class _Body:
    """A decoded payload and its digest."""

    file: IO[bytes]
    length: int
    sha256: str
    complete: bool  # False when keep_prefix stopped reading early


def _read_body(
    resp: requests.Response,
    exchange: Exchange,
    config: FetchConfig,
    watch: Deadline,
    keep_prefix: bool,
) -> _Body:
    """Stream the body into ``exchange.raw_body`` (as sent) and a decoded ``_Body``."""
    limit = config.max_bytes
    declared = resp.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > limit and not keep_prefix:
        raise TooLarge(f"Content-Length {declared} is over the {limit}-byte limit", url=resp.url)
    encoding = resp.headers.get("Content-Encoding", "").strip().lower()
    decoder = _Decoder(encoding)
    raw, body, digest = _spool(), _spool(), hashlib.sha256()
    raw_length = length = 0
    complete = True
    try:
        for chunk in resp.raw.stream(CHUNK_SIZE, decode_content=False):
            if watch.expired():
                raise watch.timeout_error(resp.url)
            if raw_length + len(chunk) > limit:  # also stops encoded streams that decode to little
                if not keep_prefix:
                    raise TooLarge(f"body is over the {limit}-byte limit", url=resp.url)
                chunk = chunk[: limit - raw_length]
                complete = False
            raw_length += len(chunk)
            raw.write(chunk)
            out = decoder.decode(chunk, limit - length + 1)
            if length + len(out) > limit:
                if not keep_prefix:
                    raise TooLarge(f"decoded body is over the {limit}-byte limit", url=resp.url)
                out = out[: limit - length]
                complete = False
            body.write(out)
            digest.update(out)
            length += len(out)
            if not complete:
                break
        else:
            out = decoder.finish(limit - length + 1)
            if length + len(out) > limit and not keep_prefix:
                raise TooLarge(f"decoded body is over the {limit}-byte limit", url=resp.url)
            out = out[: limit - length]
            body.write(out)
            digest.update(out)
            length += len(out)
        if watch.fired:  # the socket was shut under us: what we read is a truncated body
            raise watch.timeout_error(resp.url)
    except zlib.error as exc:
        raw.close()
        body.close()
        raise FetchError(
            f"cannot decode {encoding} body: {exc}", url=resp.url, outcome="server_error"
        ) from exc
    except BaseException:
        raw.close()
        body.close()
        raise
    raw.seek(0)
    body.seek(0)
    exchange.raw_body = raw
    return _Body(body, length, digest.hexdigest(), complete)


def _reuse_if_small(resp: requests.Response) -> None:
    """Drain a short redirect/304 body so the connection can go back to the pool."""
    declared = resp.headers.get("Content-Length", "").strip()
    if resp.status_code in (204, 304) or (declared.isdigit() and int(declared) <= CHUNK_SIZE):
        try:
            resp.raw.drain_conn()
        except _NETWORK_ERRORS:
            return  # resp.close() will drop the connection
        resp.raw.release_conn()


def _error_for(exc: BaseException, url: str, watch: Deadline) -> FetchError:
    """Turn a requests/urllib3/socket exception into a FetchError with the right outcome."""
    if watch.fired:
        return watch.timeout_error(url)
    if isinstance(exc, FetchError):
        return exc
    reason: BaseException = exc
    while isinstance(reason.args[0] if reason.args else None, BaseException):
        reason = reason.args[0]  # requests wraps urllib3's MaxRetryError wrapping the cause
    if isinstance(reason, urllib3.exceptions.MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    message = f"{type(reason).__name__}: {reason}"
    if isinstance(exc, requests.exceptions.SSLError | urllib3.exceptions.SSLError | ssl.SSLError):
        return TLSError(message, url=url)
    if isinstance(
        exc, requests.exceptions.Timeout | urllib3.exceptions.TimeoutError | TimeoutError
    ):
        return FetchTimeout(message, url=url)
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema
        | urllib3.exceptions.LocationValueError
        | UnicodeError,
    ):
        return InvalidURL(message, url=url)
    return FetchError(message, url=url, outcome="unreachable")


_NETWORK_ERRORS = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
    UnicodeError,
)


def _exchange(resp: requests.Response, watch: Deadline, started_at: str) -> Exchange:
    """Record the hop as sent and received (Host is added by http.client, so add it here)."""
    request = resp.request
    url = request.url or resp.url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    if (parts.scheme, parts.port) in (("http", 80), ("https", 443)):
        host = host.rsplit(":", 1)[0]
    sent = [
        (k, v if isinstance(v, str) else v.decode("latin-1")) for k, v in request.headers.items()
    ]
    if not any(k.lower() == "host" for k, _ in sent):
        sent.insert(0, ("Host", host))
    raw = resp.raw
    return Exchange(
        url=url,
        method=request.method or "GET",
        request_headers=sent,
        status_code=resp.status_code,
        reason=resp.reason or "",
        http_version=_HTTP_VERSIONS.get(getattr(raw, "version", 11), "HTTP/1.1"),
        response_headers=[(str(k), str(v)) for k, v in raw.headers.items()],
        ip_address=watch.peer,
        started_at=started_at,
    )


def _get(
    session: requests.Session, url: str, headers: dict[str, str], timeout: tuple[float, float]
) -> requests.Response:
    """``session.get(url, headers=headers, stream=True, allow_redirects=False)``, for less CPU.

    ``Session.request`` runs every session setting (headers, params, auth, hooks, proxies,
    verify, cert, a copy of the cookie jar) through generic merge helpers on each call: about
    60 of the 330 microseconds requests spends on a small GET. Here the request is prepared
    from the session's own headers, params, auth, cookies and hooks (the same request, byte for
    byte) and given to ``Session.send``, the prepared-request flow of the requests docs, which
    still picks the mounted adapter, stores the cookies the response sets (a redirect's
    ``Set-Cookie`` reaches the next hop) and runs response hooks. The environment is not read:
    ``make_session`` turns ``trust_env`` off, and the guarded adapter refuses proxies.
    """
    merged = CaseInsensitiveDict((k, v) for k, v in session.headers.items() if v is not None)
    merged.update(headers)
    request = requests.PreparedRequest()
    request.prepare(
        method="GET",
        url=url,
        headers=merged,
        params=session.params or None,
        auth=session.auth,
        cookies=session.cookies,
        hooks=session.hooks,
    )
    return session.send(
        request, timeout=timeout, stream=True, allow_redirects=False, proxies=dict(session.proxies)
    )


def _backoff(config: FetchConfig, attempt: int, retry_after: float | None) -> float:
    """Retry-After if the server gave one, else exponential backoff; capped either way."""
    wait = retry_after if retry_after is not None else max(config.delay, 0.5) * 2**attempt
    return min(wait, config.retry_after_cap)


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying after ``retry_after`` (or backoff)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass
class _Fetch:
    """One ``fetch()`` call: what its hops and attempts share, and the result they fill."""

    result: FetchResult
    session: requests.Session
    config: FetchConfig
    robots: RobotsSource | None
    throttle: HostThrottle
    headers: dict[str, str]  # conditional request headers
    keep_prefix: bool

    def follow(self) -> None:
        """Follow the redirect chain hop by hop, filling ``result`` as it goes."""
        result, config = self.result, self.config
        current = result.url
        seen = {_without_fragment(current)}
        while True:
            result.final_url = current
            body = self.hop(current)
            exchange = result.exchanges[-1]
            status = exchange.status_code
            response = {k.lower(): v for k, v in exchange.response_headers}
            location = response.get("location")
            if status in REDIRECT_STATUSES and location is not None:
                try:  # requests' trick: servers send UTF-8 that http.client decoded as latin-1
                    location = location.encode("latin-1").decode("utf-8")
                except UnicodeError:
                    pass
                try:
                    target = _without_fragment(urljoin(current, location.strip()))
                except ValueError as exc:
                    raise InvalidURL(f"bad redirect Location {location!r}", url=current) from exc
                result.redirects.append({"url": current, "status_code": status, "location": target})
                if len(result.redirects) > config.max_redirects:
                    raise RedirectLoop(
                        f"more than {config.max_redirects} redirects", url=result.url
                    )
                if target in seen:
                    raise RedirectLoop(f"redirect loop: {target} comes back", url=result.url)
                seen.add(target)
                current = target
                continue
            self.finish(exchange, response, body)
            return

    def finish(self, exchange: Exchange, response: dict[str, str], body: _Body | None) -> None:
        """Describe the final response: outcome, media type, validators, body."""
        result, status = self.result, exchange.status_code
        result.content_type, result.charset = _content_type(response.get("content-type"))
        result.etag = response.get("etag")
        result.last_modified = response.get("last-modified")
        if status == 304:  # "unchanged": keep the validators the caller already has
            result.etag = result.etag or self.headers.get("If-None-Match")
            result.last_modified = result.last_modified or self.headers.get("If-Modified-Since")
        result.outcome = outcome_for_status(status)
        if result.outcome == "ok" and result.redirects:  # the chain's outcome, even after a 304
            result.outcome = "redirected"
        if result.outcome not in CAPTURED:
            result.error = f"HTTP {status} {exchange.reason}".strip()
        if body is not None:
            result.body = body.file
            result.content_length = body.length
            result.payload_sha256 = body.sha256

    def hop(self, url: str) -> _Body | None:
        """One URL of a redirect chain: guard, robots, then the request with bounded retries."""
        config = self.config
        host, port = _split(url)
        if not config.allow_private_addresses:
            check_host(
                host, port, resolver=config.resolver, allowed_networks=config.allowed_networks
            )
        delay = config.delay
        if self.robots is not None and not config.ignore_robots:
            agent = user_agent(config)
            rules = self.robots.rules(url, session=self.session)
            if not rules.allowed(url, agent):
                if rules.parser is None and rules.outcome in UNREACHABLE_OUTCOMES:
                    # The host did not answer for robots.txt: say so, not "blocked by robots".
                    message = f"robots.txt unreachable: {rules.error}"
                    raise FetchError(message, url=url, outcome=rules.outcome)
                raise BlockedByRobots(f"robots.txt disallows {url}", url=url)
            delay = max(delay, rules.crawl_delay(agent) or 0.0)
        attempt = 0
        while True:
            try:
                with self.throttle.slot(host, delay):
                    return self.attempt(url, host, last=attempt >= config.max_retries)
            except _Retry as retry:
                wait = _backoff(config, attempt, retry.retry_after)
                LOGGER.info("%s: %s, retrying in %.2fs", url, retry, wait)
                self.throttle.defer(host, wait)
                attempt += 1

    def attempt(self, url: str, host: str, *, last: bool) -> _Body | None:
        """Send one request and read what needs reading, all inside the wall-clock watchdog.

        The hop's ``Exchange`` is appended to ``result`` as soon as its headers are in, so a
        body that then times out or is too large still leaves the status and headers on record.
        """
        config = self.config
        started_at = _now_iso()
        with Deadline(config.timeout) as watch, watching_sockets(watch.watch):
            try:
                timeout = (config.connect_timeout, config.read_timeout)
                resp = _get(self.session, url, self.headers, timeout)
            except ValueError as exc:  # requests parses a Location even when not following it
                if isinstance(exc, requests.exceptions.RequestException):
                    raise _error_for(exc, url, watch) from exc
                raise InvalidURL(f"malformed URL or redirect Location: {exc}", url=url) from exc
            except _NETWORK_ERRORS as exc:
                error = _error_for(exc, url, watch)
                # Refused or reset connections are worth another try; DNS failures (raised by
                # the guard as FetchError), timeouts and TLS errors are not.
                if error.outcome == "unreachable" and not last:
                    raise _Retry(str(error)) from exc
                raise error from exc
            try:
                status = resp.status_code
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                if retry_after is not None:
                    self.throttle.defer(host, min(retry_after, config.retry_after_cap))
                if (status == 429 or status >= 500) and not last:
                    raise _Retry(f"HTTP {status}", retry_after)
                exchange = _exchange(resp, watch, started_at)
                self.result.exchanges.append(exchange)
                self.result.status_code = status
                if status in (204, 304) or (
                    status in REDIRECT_STATUSES and "Location" in resp.headers
                ):
                    _reuse_if_small(resp)
                    return None  # no body worth keeping
                try:
                    body = _read_body(resp, exchange, config, watch, self.keep_prefix)
                except _NETWORK_ERRORS as exc:
                    raise _error_for(exc, url, watch) from exc
                if body.complete and not watch.fired:
                    resp.raw.release_conn()  # drained: keep-alive spares the next handshake
                return body
            finally:
                resp.close()  # closes the connection unless it was released above


def fetch(
    url: str,
    *,
    session: requests.Session,
    config: FetchConfig,
    robots: RobotsSource | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    throttle: HostThrottle | None = None,
    keep_prefix: bool = False,
) -> FetchResult:
    """Fetch ``url`` (following redirects) and record what happened; never raises for I/O.

    Args:
        url: an absolute http(s) URL.
        session: from ``make_session(config)``, one per worker thread.
        config: the fetch options.
        robots: robots.txt rules to obey (skipped when None or ``config.ignore_robots``).
        etag, last_modified: from the previous capture, sent as If-None-Match /
            If-Modified-Since; a 304 answer gives status 304, no body, and outcome ``ok``
            (``redirected`` at the end of a redirect chain).
        throttle: per-host politeness; the robots cache's, else the process-wide one.
        keep_prefix: keep the first ``max_bytes`` of a longer body instead of ``too_large``
            (robots.txt, RFC 9309 section 2.5).

    Returns:
        A ``FetchResult``; call ``close()`` on it when done with the bodies.
    """
    started = time.monotonic()
    result = FetchResult(url=url, outcome="ok", captured_at=_now_iso())
    if throttle is None:
        throttle = robots.throttle if robots is not None else DEFAULT_THROTTLE
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        _Fetch(result, session, config, robots, throttle, headers, keep_prefix).follow()
    except FetchError as exc:
        result.outcome = exc.outcome
        result.error = exc.message
        LOGGER.info("%s: %s (%s)", url, exc.outcome, exc.message)
    result.elapsed_ms = int((time.monotonic() - started) * 1000)
    return result
