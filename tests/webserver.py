"""A threaded test web server on 127.0.0.x that misbehaves on request.

Reusable by any test that needs real HTTP: fetcher, pipeline, crash and benchmark tests. Each
path has a behaviour (a function of the request handler); ``DEFAULT_ROUTES`` covers what a
fetcher meets in the wild, and ``server.routes[path] = ...`` adds or replaces one. The server
records every request (host, path, headers, start and end times) and the most requests it was
serving at once per Host, so politeness can be measured from the server's side.

Usage::

    from webserver import WebServer, web_server  # web_server is a pytest fixture

    def test_something(web_server: WebServer) -> None:
        url = web_server.url("/status/404")

Nothing is held in memory whole: the 200 MB bodies and the gzip bomb are generated as they are
sent. Loopback only; use an injected resolver to give the server a hostname.
"""

from __future__ import annotations

import gzip
import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import SO_LINGER, SOL_SOCKET
from urllib.parse import parse_qs, urlsplit

import pytest

Behaviour = Callable[["Handler"], None]

ETAG = '"v1"'
LAST_MODIFIED = "Wed, 28 Mar 2018 10:00:00 GMT"
OK_HTML = b"<html><head><title>OK page</title></head><body><p>Hello, archive.</p></body></html>"
CYRILLIC = "Привет, мир: 30 миллиардов долларов"


@dataclass
class RequestRecord:
    """One request as the server saw it."""

    method: str
    path: str  # with the query string
    host: str  # Host header without the port
    headers: dict[str, str]
    started: float  # time.monotonic() when the request line was parsed
    ended: float = 0.0  # when the handler finished writing (0 while running)


@dataclass
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[RequestRecord] = field(default_factory=list)
    active: dict[str, int] = field(default_factory=dict)
    max_active: dict[str, int] = field(default_factory=dict)
    connections: int = 0
    open_connections: int = 0
    max_open_connections: int = 0
    counters: dict[str, int] = field(default_factory=dict)


class Handler(BaseHTTPRequestHandler):
    """Request handler: parses the query, records the request, runs the path's behaviour."""

    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections end after this
    server: _Server

    query: dict[str, str]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass  # keep test output clean

    def setup(self) -> None:
        super().setup()
        stats = self.server.web.stats
        with stats.lock:
            stats.connections += 1
            stats.open_connections += 1
            stats.max_open_connections = max(stats.max_open_connections, stats.open_connections)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        stats = self.server.web.stats
        with stats.lock:
            stats.open_connections -= 1

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._dispatch()

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
        self._dispatch()

    def _dispatch(self) -> None:
        web = self.server.web
        parts = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        host = _host_of(self.headers.get("Host") or "")
        record = RequestRecord(self.command, self.path, host, dict(self.headers), time.monotonic())
        stats = web.stats
        with stats.lock:
            stats.requests.append(record)
            stats.active[host] = stats.active.get(host, 0) + 1
            stats.max_active[host] = max(stats.max_active.get(host, 0), stats.active[host])
        try:
            web.behaviour_for(parts.path)(self)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True  # the client went away, as fetchers with caps do
        finally:
            with stats.lock:
                stats.active[host] -= 1
                record.ended = time.monotonic()

    # --- helpers for behaviours ------------------------------------------------------------

    def respond(
        self,
        status: int = 200,
        body: bytes = b"",
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        """A complete response with Content-Length."""
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def start_stream(
        self, content_type: str = "application/octet-stream", headers: dict[str, str] | None = None
    ) -> None:
        """Headers for a body that ends when the connection closes (no Content-Length)."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()

    @property
    def stopping(self) -> bool:
        return self.server.web.stopping.is_set()

    def count(self, key: str) -> int:
        """How many times this server has seen ``key`` before (for once-then-ok behaviours)."""
        stats = self.server.web.stats
        with stats.lock:
            seen = stats.counters.get(key, 0)
            stats.counters[key] = seen + 1
        return seen


def _host_of(header: str) -> str:
    """The host part of a Host header: "a.example:8080" -> "a.example", "[::1]:80" -> "::1"."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0].lower()
    return header.rsplit(":", 1)[0].lower()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    web: WebServer

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up mid-connection are normal here (caps, timeouts); stay quiet."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


# --- generated payloads ------------------------------------------------------------------


def make_pdf(
    pages: list[str],
    *,
    title: str | None = None,
    author: str | None = None,
    created: str | None = None,
) -> bytes:
    """A minimal PDF written by hand: one Helvetica text line per page, a correct xref table."""
    count = len(pages)
    page_ids = [4 + 2 * i for i in range(count)]
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Lang (en-GB) >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for page_id, text in zip(page_ids, pages, strict=True):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_id + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    info = {"/Title": title, "/Author": author, "/CreationDate": created}
    info_entries = " ".join(f"{k} ({v})" for k, v in info.items() if v)
    if info_entries:
        objects.append(f"<< {info_entries} >>".encode("latin-1"))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R"
    trailer += f" /Info {len(objects)} 0 R >>" if info_entries else " >>"
    out += b"trailer\n%s\nstartxref\n%d\n%%%%EOF\n" % (trailer.encode(), xref)
    return bytes(out)


@cache
def tiny_pdf() -> bytes:
    """A minimal valid one-page PDF with the text "Citation archive test PDF"."""
    return make_pdf(["Citation archive test PDF"])


@cache
def tiny_png() -> bytes:
    """A valid 1x1 red PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@cache
def _bomb_parts() -> tuple[bytes, bytes]:
    """gzip header + first MiB of zeros, and the identical bytes every further MiB gives.

    After a full flush, deflate restarts from a clean state, so each further MiB of zeros
    compresses to the same ~1 KB: a bomb of any size costs nothing to generate.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    unit = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first, unit


def gzip_bomb_chunks(mebibytes: int) -> Iterator[bytes]:
    """A gzip stream that decompresses to ``mebibytes`` MiB of zeros (~1 KB per MiB)."""
    first, unit = _bomb_parts()
    yield first
    for _ in range(mebibytes - 1):
        yield unit
    crc = 0
    zeros = bytes(1 << 20)
    for _ in range(mebibytes):  # only reached by a client that reads the whole bomb
        crc = zlib.crc32(zeros, crc)
    yield b"\x03\x00" + struct.pack("<II", crc & 0xFFFFFFFF, (mebibytes << 20) & 0xFFFFFFFF)


def _generated(size: int) -> Iterator[bytes]:
    block = b"0123456789abcdef" * 4096  # 64 KiB
    while size > 0:
        yield block[:size]
        size -= len(block)


# --- behaviours --------------------------------------------------------------------------


def ok_page(h: Handler) -> None:
    """200 with ETag and Last-Modified; 304 to a matching conditional request."""
    validators = {"ETag": ETAG, "Last-Modified": LAST_MODIFIED, "Cache-Control": "no-cache"}
    if_none_match = h.headers.get("If-None-Match")
    if_modified_since = h.headers.get("If-Modified-Since")
    fresh = if_none_match is not None and ETAG in [t.strip() for t in if_none_match.split(",")]
    if if_none_match is None and if_modified_since:
        try:
            fresh = parsedate_to_datetime(if_modified_since) >= parsedate_to_datetime(LAST_MODIFIED)
        except (TypeError, ValueError):
            fresh = False
    if fresh:
        h.send_response(304)
        for name, value in validators.items():
            h.send_header(name, value)
        h.end_headers()
        return
    h.respond(200, OK_HTML, headers=validators)


def status_page(h: Handler) -> None:
    """/status/<code>: that status with a small HTML body (Retry-After via ?retry_after=)."""
    code = int(h.path.split("?")[0].rstrip("/").rsplit("/", 1)[1])
    headers = {"Retry-After": h.query["retry_after"]} if "retry_after" in h.query else {}
    h.respond(code, b"<html><body>status %d</body></html>" % code, headers=headers)


def flaky(h: Handler) -> None:
    """503 (Retry-After: 0) the first ?fail= (default 1) times, then 200."""
    if h.count(h.path) < int(h.query.get("fail", "1")):
        h.respond(503, b"busy", headers={"Retry-After": "0"})
    else:
        h.respond(200, OK_HTML)


def rate_limited(h: Handler) -> None:
    """429 with Retry-After: 1, always."""
    h.respond(429, b"slow down", headers={"Retry-After": "1"})


def redirect_chain(h: Handler) -> None:
    """/redirect/<code>/<n>: n redirects with status <code>, ending at /ok."""
    _, _, code, hops = h.path.split("?")[0].split("/")[:4]
    remaining = int(hops) - 1
    target = f"/redirect/{code}/{remaining}" if remaining > 0 else "/ok"
    h.respond(int(code), b"", headers={"Location": target})


def redirect_to(h: Handler) -> None:
    """/redirect-to?url=...&code=302: one redirect anywhere (other hosts, private addresses)."""
    h.respond(int(h.query.get("code", "302")), b"", headers={"Location": h.query["url"]})


def loop_a(h: Handler) -> None:
    h.respond(302, b"", headers={"Location": "/loop/b"})


def loop_b(h: Handler) -> None:
    h.respond(302, b"", headers={"Location": "/loop/a"})


def slow_headers(h: Handler) -> None:
    """Wait ?delay= seconds (default 2) before answering at all."""
    deadline = time.monotonic() + float(h.query.get("delay", "2"))
    while time.monotonic() < deadline and not h.stopping:
        time.sleep(0.02)
    h.respond(200, OK_HTML)


def drip_headers(h: Handler) -> None:
    """Status line, then a header value one byte per ?interval= seconds, forever."""
    interval = float(h.query.get("interval", "0.1"))
    h.close_connection = True
    h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
    while not h.stopping:
        h.wfile.write(b"x")
        h.wfile.flush()
        time.sleep(interval)


def drip(h: Handler) -> None:
    """200 headers, then one byte per ?interval= seconds (default 0.1), forever."""
    interval = float(h.query.get("interval", "0.1"))
    h.start_stream("text/plain")
    while not h.stopping:
        h.wfile.write(b"x")
        h.wfile.flush()
        time.sleep(interval)


def big(h: Handler) -> None:
    """?size= bytes (default 200 MB) with Content-Length, generated as sent."""
    size = int(h.query.get("size", str(200_000_000)))
    h.send_response(200)
    h.send_header("Content-Type", "application/octet-stream")
    h.send_header("Content-Length", str(size))
    h.end_headers()
    for block in _generated(size):
        if h.stopping:
            return
        h.wfile.write(block)


def big_unsized(h: Handler) -> None:
    """?size= bytes (default 200 MB), no Content-Length: the body ends when the socket does."""
    h.start_stream("application/octet-stream")
    for block in _generated(int(h.query.get("size", str(200_000_000)))):
        if h.stopping:
            return
        h.wfile.write(block)


def big_chunked(h: Handler) -> None:
    """?size= bytes (default 200 MB) in chunked transfer-encoding."""
    h.send_response(200)
    h.send_header("Content-Type", "application/octet-stream")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    for block in _generated(int(h.query.get("size", str(200_000_000)))):
        if h.stopping:
            return
        h.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
    h.wfile.write(b"0\r\n\r\n")


def gzip_bomb(h: Handler) -> None:
    """Content-Encoding: gzip, ~5 MB on the wire, ?mib= MiB (default 5120: 5 GiB) decoded."""
    h.start_stream("text/html", headers={"Content-Encoding": "gzip"})
    for piece in gzip_bomb_chunks(int(h.query.get("mib", "5120"))):
        if h.stopping:
            return
        h.wfile.write(piece)


def gzip_page(h: Handler) -> None:
    """The OK page, gzip-encoded, with Content-Length."""
    h.respond(200, gzip.compress(OK_HTML), headers={"Content-Encoding": "gzip"})


def deflate_page(h: Handler) -> None:
    """The OK page, deflate-encoded: zlib-wrapped (RFC) or, with ?raw=1, raw deflate (IIS)."""
    if h.query.get("raw"):
        compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        body = compressor.compress(OK_HTML) + compressor.flush()
    else:
        body = zlib.compress(OK_HTML)
    h.respond(200, body, headers={"Content-Encoding": "deflate"})


def pdf(h: Handler) -> None:
    h.respond(200, tiny_pdf(), content_type="application/pdf")


def png(h: Handler) -> None:
    h.respond(200, tiny_png(), content_type="image/png")


def cp1251_page(h: Handler) -> None:
    """HTML in windows-1251 whose charset is only in <meta>, not in the header."""
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
        f"<title>{CYRILLIC}</title></head><body><p>{CYRILLIC}</p></body></html>"
    )
    h.respond(200, html.encode("cp1251"), content_type="text/html")


def empty(h: Handler) -> None:
    h.respond(200, b"", content_type="text/plain")


def reset(h: Handler) -> None:
    """Read the request, then close with SO_LINGER 0 so the client gets a TCP RST."""
    h.close_connection = True
    h.connection.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("ii", 1, 0))
    h.rfile.close()  # the socket only really closes once its makefile() readers are closed
    h.connection.close()


def robots_txt(h: Handler) -> None:
    """Default robots.txt: everyone may fetch anything but /private/."""
    h.respond(200, b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")


def text(
    body: str,
    status: int = 200,
    content_type: str = "text/plain",
    headers: dict[str, str] | None = None,
) -> Behaviour:
    """A behaviour answering ``body`` with ``status`` (handy for robots.txt variants)."""

    def behaviour(h: Handler) -> None:
        h.respond(status, body.encode("utf-8"), content_type=content_type, headers=headers)

    return behaviour


def home(h: Handler) -> None:
    h.respond(200, b"<html><head><title>Home</title></head><body>Home</body></html>")


#: Exact paths, or prefixes when the key ends with "/".
DEFAULT_ROUTES: dict[str, Behaviour] = {
    "/": home,
    "/ok": ok_page,
    "/private/page": ok_page,
    "/status/": status_page,
    "/flaky": flaky,
    "/rate-limited": rate_limited,
    "/redirect/": redirect_chain,
    "/redirect-to": redirect_to,
    "/loop/a": loop_a,
    "/loop/b": loop_b,
    "/slow-headers": slow_headers,
    "/drip-headers": drip_headers,
    "/drip": drip,
    "/big": big,
    "/big-unsized": big_unsized,
    "/big-chunked": big_chunked,
    "/gzip-bomb": gzip_bomb,
    "/gzip": gzip_page,
    "/deflate": deflate_page,
    "/pdf": pdf,
    "/png": png,
    "/cp1251": cp1251_page,
    "/empty": empty,
    "/reset": reset,
    "/robots.txt": robots_txt,
}


class WebServer:
    """A ThreadingHTTPServer on ``host`` (any 127.0.0.x), port 0, as a context manager.

    Args:
        host: the loopback address to bind.
        routes: behaviours to add to (or replace in) ``DEFAULT_ROUTES``.
    """

    def __init__(self, host: str = "127.0.0.1", routes: dict[str, Behaviour] | None = None):
        self.host = host
        self.routes: dict[str, Behaviour] = {**DEFAULT_ROUTES, **(routes or {})}
        self.stats = _Stats()
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebServer:
        self._server = _Server((self.host, 0), Handler)
        self._server.web = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    def url(self, path: str = "/", host: str | None = None) -> str:
        """``http://<host or bind address>:<port><path>``; pass a name for resolver tests."""
        return f"http://{host or self.host}:{self.port}{path}"

    def behaviour_for(self, path: str) -> Behaviour:
        if path in self.routes:
            return self.routes[path]
        prefixes = [p for p in self.routes if p.endswith("/") and p != "/" and path.startswith(p)]
        if prefixes:
            return self.routes[max(prefixes, key=len)]
        return lambda h: h.respond(404, b"<html><body>no such page</body></html>")

    # --- what the server saw ------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        with self.stats.lock:
            return list(self.stats.requests)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def max_concurrent(self, host: str | None = None) -> int:
        """Most requests in flight at once for ``host`` (Host header), or for any one host."""
        with self.stats.lock:
            if host is not None:
                return self.stats.max_active.get(host, 0)
            return max(self.stats.max_active.values(), default=0)

    @property
    def connections(self) -> int:
        """TCP connections accepted so far."""
        with self.stats.lock:
            return self.stats.connections


@pytest.fixture
def web_server() -> Iterator[WebServer]:
    """A fresh server on 127.0.0.1 with the default routes."""
    with WebServer("127.0.0.1") as server:
        yield server


@pytest.fixture
def second_web_server() -> Iterator[WebServer]:
    """Another server, on 127.0.0.2: a second "host" for redirect and guard tests."""
    with WebServer("127.0.0.2") as server:
        yield server


def resolver_for(mapping: dict[str, str]) -> Callable[[str, int], list[str]]:
    """An injectable resolver: names in ``mapping`` (``name -> "ip[,ip...]"``), else unknown."""

    def resolve(host: str, port: int) -> list[str]:
        try:
            return mapping[host.lower()].split(",")
        except KeyError:
            raise OSError(f"test resolver: unknown host {host}") from None

    return resolve


__all__ = [
    "DEFAULT_ROUTES",
    "Handler",
    "RequestRecord",
    "WebServer",
    "resolver_for",
    "second_web_server",
    "text",
    "web_server",
]
