"""Compare ``archiver check`` with linkchecker on a loopback web whose links rot between two runs.

Pages are served by one ThreadingHTTPServer per host on 127.0.0.2.. (with ``--latency-ms`` added
to every answer) in other processes. Phase 1 serves every page as it was when cited; ``archiver
archive`` captures it. Phase 2 makes the faults happen (pages removed, redirected to the home page,
rewritten, blocked, disallowed by robots.txt, dripped one byte at a time...), then ``archiver
check`` and ``linkchecker`` (``pip install linkchecker``; never a project dependency) run on the
same URLs. Each server counts the requests it has in flight per host, so the politeness of both
tools is measured from the servers' side.

Subcommands:
    faults   one host per fault, two faulty links and one healthy link each: what each tool says
    timing   --urls (2,000) links over --hosts (50): wall time of both tools
    drift    the drift measure on the developer corpus, for the thresholds in archiver/linkrot/verdicts.py

Results go to bench/results/linkcheck-*.json; see bench/README.md, "Link checking".
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import multiprocessing
import random
import re
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from archive_bench import make_page, sentence

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
CORPUS = REPO.parent / "shared" / "corpus"

#: What phase 2 does to a link, and what a checker should then say.
FAULTS = {
    "ok": "healthy control: same page",
    "not_found": "404",
    "gone": "410",
    "server_error": "500",
    "unreachable": "connection reset",
    "timeout": "no answer for 30 s",
    "redirect_loop": "redirect loop",
    "drip": "headers, then one byte per 0.5 s",
    "soft404_site": "page removed; the site answers any path with one 200 template",
    "redirect_home": "301 to the home page",
    "redirect_error": "302 to /not-found, a 200 page",
    "error_title": "200 with the title 'Page not found'",
    "drift_changed": "200, a third of the paragraphs rewritten",
    "drift_replaced": "200, another article",
    "blocked_403": "403",
    "challenge_503": "503 Cloudflare-style 'Just a moment...' page",
    "challenge_200": "200 Cloudflare-style 'Just a moment...' page",
    "robots": "robots.txt now disallows it",
}
#: The archiver's answer that counts as detecting each fault (outcome, or drift for drift).
EXPECTED = {
    "ok": "ok",
    "not_found": "not_found",
    "gone": "gone",
    "server_error": "server_error",
    "unreachable": "unreachable",
    "timeout": "timeout",
    "redirect_loop": "redirect_loop",
    "drip": "timeout",
    "soft404_site": "soft_404",
    "redirect_home": "soft_404",
    "redirect_error": "soft_404",
    "error_title": "soft_404",
    "drift_changed": "changed",
    "drift_replaced": "replaced",
    "blocked_403": "blocked",
    "challenge_503": "blocked",
    "challenge_200": "blocked",
    "robots": "blocked_by_robots",
}
#: The timing load: one link of each of these per host, the rest healthy.
TIMING_FAULTS = ("drift_changed", "not_found", "redirect_home", "blocked_403", "error_title")
CHALLENGE = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body><noscript>"
    b"Enable JavaScript and cookies to continue</noscript><script src='/cdn-cgi/challenge-"
    b"platform/h/g/orchestrate/chl_page/v1'></script></body></html>"
)
HOME = b"<html><head><title>Daily Steppe</title></head><body><h1>Daily Steppe</h1><p>Latest news."
Spec = tuple[str, int]  # (fault, page index)


# -- pages --------------------------------------------------------------------------------------
def rewrite(body: bytes, pool: list[str], index: int) -> bytes:
    """Every third paragraph of the article rewritten: a page that says something else now."""
    rng = random.Random(f"rewrite:{index}")
    count = 0

    def swap(match: re.Match[bytes]) -> bytes:
        nonlocal count
        count += 1
        if count % 3:
            return match.group(0)
        return b"<p>" + " ".join(rng.choice(pool) for _ in range(5)).encode() + b"</p>"

    return re.sub(rb"<p>[^<]*</p>", swap, body)


class Web:
    """Bodies of both phases for every cited page, built in the parent (children inherit)."""

    def __init__(self, seed: int, pool: list[str]) -> None:
        self.seed, self.pool = seed, pool
        self.cache: dict[tuple[int, int], bytes] = {}

    def body(self, fault: str, index: int, phase: int) -> bytes:
        key = (index, phase if fault.startswith("drift") else 1)
        if key not in self.cache:
            page = make_page(self.seed, index, self.pool)
            if phase == 2 and fault == "drift_changed":
                page = rewrite(page, self.pool, index)
            elif phase == 2 and fault == "drift_replaced":
                # The sentences come from one small grammar, so two generated articles share
                # many 5-word phrases (similarity ~0.4); reversed, they share none, like two
                # real articles (0.0 on the corpus).
                backwards = [" ".join(reversed(line.split())) for line in self.pool]
                page = make_page(self.seed + 1, index, backwards)
            self.cache[key] = page
        return self.cache[key]


# -- servers ------------------------------------------------------------------------------------
class _Site(ThreadingHTTPServer):
    daemon_threads, block_on_close = True, False
    latency: float
    specs: dict[str, Spec]
    catch_all: bool  # unknown paths answer 200 with one template (a soft-404 site)
    etags: bool  # send ETags and answer If-None-Match with 304
    web: Web
    phase: Any  # multiprocessing.Value
    stop: Any  # multiprocessing.Event
    active: int
    max_active: dict[int, int]  # per epoch (which tool is running)
    epoch: Any  # multiprocessing.Value
    requests: int
    lock: threading.Lock

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (linkchecker after the headers, timeouts) are normal here."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    disable_nagle_algorithm = True  # as web servers do; see archive_bench.py
    server: _Site

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Quiet."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        site = self.server
        with site.lock:
            site.active += 1
            site.requests += 1
            epoch = site.epoch.value
            site.max_active[epoch] = max(site.max_active.get(epoch, 0), site.active)
        try:
            time.sleep(site.latency)
            self.answer(self.path.split("?", 1)[0], site.phase.value)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            with site.lock:
                site.active -= 1

    do_HEAD = do_GET

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("LinkChecker", "loopback bench")  # lets linkchecker drop its delay
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def answer(self, path: str, phase: int) -> None:
        site = self.server
        if path == "/robots.txt":
            rules = b"Disallow: /private/\n" if phase == 2 else b"Allow: /\n"
            self.send(200, b"User-agent: *\n" + rules, {"Content-Type": "text/plain"})
            return
        if path == "/":
            self.send(200, HOME)
            return
        if path == "/not-found":
            self.send(200, b"<html><head><title>Daily Steppe</title></head><body><p>Sorry.")
            return
        if path in ("/loop/a", "/loop/b"):
            self.send(302, b"", {"Location": "/loop/b" if path == "/loop/a" else "/loop/a"})
            return
        spec = site.specs.get(path)
        if spec is None:
            if site.catch_all:
                template = (
                    "<html><head><title>Daily Steppe archive</title></head><body><main>"
                    f"<h2>Archive</h2><p>You asked for {path}, which has moved somewhere in our "
                    "archive. Browse the sections below or search for it.</p><ul><li>Politics"
                    "</li><li>Economy</li><li>Culture</li></ul></main></body></html>"
                )
                self.send(200, template.encode())
            else:
                self.send(404, b"<html><body>not found</body></html>")
            return
        fault, index = spec
        if phase == 1 or fault in ("ok", "robots"):
            self.page(fault, index, phase)
            return
        self.fault(fault, index, phase)

    def page(self, fault: str, index: int, phase: int) -> None:
        body = self.server.web.body(fault, index, phase)
        if not self.server.etags:
            self.send(200, body)
            return
        etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send(200, body, {"ETag": etag})

    def fault(self, fault: str, index: int, phase: int) -> None:
        simple = {
            "not_found": (404, b"<html><body>Not Found</body></html>", {}),
            "gone": (410, b"<html><body>Gone</body></html>", {}),
            "server_error": (500, b"<html><body>Internal Server Error</body></html>", {}),
            "redirect_home": (301, b"", {"Location": "/"}),
            "redirect_error": (302, b"", {"Location": "/not-found"}),
            "redirect_loop": (302, b"", {"Location": "/loop/a"}),
            "blocked_403": (403, b"<html><body>Forbidden</body></html>", {}),
            "challenge_503": (503, CHALLENGE, {"Retry-After": "0"}),
            "challenge_200": (200, CHALLENGE, {}),
            "error_title": (
                200,
                b"<html><head><title>Page not found</title></head><body><h1>Page not found"
                b"</h1><p>Try the search box.</p></body></html>",
                {},
            ),
        }
        if fault in simple:
            status, body, headers = simple[fault]
            self.send(status, body, headers)
        elif fault == "soft404_site":  # the page is gone: the site's template answers
            self.server.specs.pop(self.path.split("?", 1)[0], None)
            self.answer(self.path.split("?", 1)[0], phase)
        elif fault == "drift_changed" or fault == "drift_replaced":
            self.page(fault, index, phase)
        elif fault == "unreachable":  # RST: SO_LINGER 0, then close
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
        elif fault == "timeout":
            self.server.stop.wait(30)
        elif fault == "drip":
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Connection", "close")
            self.end_headers()
            while not self.server.stop.wait(0.5):
                self.wfile.write(b" ")
                self.wfile.flush()


def _serve(
    hosts: dict[str, dict[str, Any]],
    web: Web,
    latency: float,
    phase: Any,
    epoch: Any,
    ports: Any,
    stop: Any,
    done: Any,
) -> None:
    """Server process: a server thread per host; reports its request counts when stopped."""
    servers = []
    for host, setup in hosts.items():
        server = _Site((host, 0), _Handler)
        server.latency, server.web, server.phase, server.stop = latency, web, phase, stop
        server.specs, server.catch_all = dict(setup["specs"]), setup["catch_all"]
        server.etags, server.lock = setup["etags"], threading.Lock()
        server.active = server.requests = 0
        server.max_active, server.epoch = {}, epoch
        threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
        servers.append((host, server))
        ports.put((host, server.server_address[1]))
    stop.wait(3600)
    for host, server in servers:
        done.put((host, server.max_active, server.requests))
        server.shutdown()
        server.server_close()


class LoopbackWeb:
    """The hosts, in ``procs`` processes; ``phase`` flips them all from cited to rotten."""

    def __init__(self, hosts: dict[str, dict[str, Any]], web: Web, latency: float, procs: int):
        ctx = multiprocessing.get_context("fork")
        self.phase, self.epoch, self.stop = ctx.Value("i", 1), ctx.Value("i", 0), ctx.Event()
        ports, self.done = ctx.Queue(), ctx.Queue()
        items = list(hosts.items())
        self.procs = [
            ctx.Process(
                target=_serve,
                daemon=True,
                args=(
                    dict(items[i::procs]),
                    web,
                    latency,
                    self.phase,
                    self.epoch,
                    ports,
                    self.stop,
                    self.done,
                ),
            )
            for i in range(min(procs, len(items)))
        ]
        for proc in self.procs:
            proc.start()
        self.port = dict(ports.get(timeout=60) for _ in items)
        self.hosts = len(items)

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port[host]}{path}"

    def close(self) -> dict[str, tuple[dict[int, int], int]]:
        """Stop the servers; host -> (epoch -> most requests in flight at once, requests)."""
        self.stop.set()
        seen = {}
        for _ in range(self.hosts):
            host, most, count = self.done.get(timeout=60)
            seen[host] = (most, count)
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
        return seen


@contextmanager
def loopback(
    hosts: dict[str, dict[str, Any]], web: Web, args: argparse.Namespace
) -> Iterator[LoopbackWeb]:
    server = LoopbackWeb(hosts, web, args.latency_ms / 1000, args.server_procs)
    try:
        yield server
    finally:
        if not server.stop.is_set():
            server.close()


# -- the two tools ------------------------------------------------------------------------------
def archiver(command: list[str], cwd: Path, timeout: float) -> tuple[float, dict[str, Any]]:
    """Run ``python -m archiver COMMAND``; returns wall seconds and its --json document."""
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "archiver", *command, "--json", "--silent"],
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    wall = time.monotonic() - start
    try:
        return wall, json.loads(done.stdout)
    except ValueError:
        return wall, {"error": done.stderr.decode(errors="replace")[-2000:]}


def write_article(urls: list[str], pool: list[str], path: Path) -> None:
    lines = ["# A link-rot benchmark article", ""]
    for i in range(0, len(urls), 10):
        lines += [
            " ".join(f"{pool[i + j]} ([source]({url}))." for j, url in enumerate(urls[i : i + 10])),
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


def linkchecker(
    urls: list[str], args: argparse.Namespace, *, rate: float | None = None
) -> tuple[float, dict[str, dict[str, str]]]:
    """Run linkchecker on ``urls`` (no recursion); returns wall seconds and its CSV rows by URL."""
    binary = shutil.which("linkchecker") or str(Path(sys.executable).parent / "linkchecker")
    if not Path(binary).exists():
        raise SystemExit("linkchecker is not installed: pip install linkchecker")
    work = Path(tempfile.mkdtemp(prefix="linkchecker-"))  # not under tmp: 'nobody' must enter
    work.chmod(0o777)  # linkchecker run as root switches to 'nobody'
    config = work / "linkcheckerrc"
    config.write_text(
        "[checking]\n"
        f"threads={args.concurrency}\n"
        f"timeout={args.timeout:g}\n"
        f"maxrequestspersecond={rate or args.linkchecker_rate:g}\n"
        "recursionlevel=0\n"
        "[output]\nstatus=0\n",
        encoding="utf-8",
    )
    config.chmod(0o644)
    out = work / "out.csv"
    command = [
        binary,
        "-f",
        str(config),
        "--stdin",
        "-r",
        "0",
        "-v",
        "--no-status",
        "-o",
        "none",
        "-F",
        f"csv/utf-8/{out}",
        "--timeout",
        f"{args.timeout:g}",
    ]
    start = time.monotonic()
    subprocess.run(
        command,
        input="\n".join(urls).encode(),
        capture_output=True,
        timeout=args.run_timeout,
        check=False,
    )
    wall = time.monotonic() - start
    rows: dict[str, dict[str, str]] = {}
    if out.exists():
        lines = [
            line
            for line in out.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")
        ]
        for row in csv.DictReader(lines, delimiter=";"):
            rows[row["urlname"]] = row
    shutil.rmtree(work, ignore_errors=True)
    return wall, rows


def archiver_checks(db: Path) -> dict[str, dict[str, Any]]:
    """Each URL's latest check and link status, from the bench archive."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "select checks.url, checks.outcome, checks.drift, checks.similarity, checks.error, "
            "sources.link_status from checks join sources on sources.url = checks.url "
            "where checks.id in (select max(id) from checks group by url)"
        ).fetchall()
    return {row["url"]: dict(row) for row in rows}


def fetch_args(args: argparse.Namespace) -> list[str]:
    return [
        "--allow-private-addresses",
        "--delay",
        "0",
        "--concurrency",
        str(args.concurrency),
        "--timeout",
        f"{args.timeout:g}",
    ]


# -- faults -------------------------------------------------------------------------------------
def faults(args: argparse.Namespace) -> dict[str, Any]:
    """One host per fault: two links that rot that way and one healthy link beside them."""
    rng = random.Random(args.seed)
    pool = [sentence(rng) for _ in range(4000)]
    web = Web(args.seed, pool)
    hosts: dict[str, dict[str, Any]] = {}
    cited: list[tuple[str, str, str]] = []  # host, path, fault
    for number, fault in enumerate(FAULTS):
        host = f"127.0.0.{2 + number}"
        specs: dict[str, Spec] = {}
        for k in range(3):
            kind = fault if k < 2 else "ok"
            base = "/private" if kind == "robots" else "/a"
            path = f"{base}/{number * 3 + k}.html"
            specs[path] = (kind, number * 3 + k)
            cited.append((host, path, kind))
        hosts[host] = {"specs": specs, "catch_all": fault == "soft404_site", "etags": False}
    with (
        tempfile.TemporaryDirectory(prefix="linkcheck-bench-") as name,
        loopback(hosts, web, args) as server,
    ):
        tmp = Path(name)
        urls = [server.url(h, p) for h, p, _ in cited]
        write_article(urls, pool, tmp / "article.md")
        archive_wall, archived = archiver(
            ["archive", "article.md", "--db", "bench.db", *fetch_args(args)], tmp, args.run_timeout
        )
        server.phase.value = 2
        check_wall, checked = archiver(
            ["check", "--db", "bench.db", *fetch_args(args)], tmp, args.run_timeout
        )
        checks = archiver_checks(tmp / "bench.db")
        lc_wall, lc_rows = linkchecker(urls, args)
        server.close()
    table = []
    for (_, _, fault), url in zip(cited, urls, strict=True):
        ours = checks.get(url, {})
        answer = ours.get("drift") if fault.startswith("drift") else ours.get("outcome")
        lc = lc_rows.get(url, {})
        lc_says = (lc.get("result") or "?") + (
            f" [{lc['warningstring']}]" if lc.get("warningstring") else ""
        )
        lc_flags = lc.get("valid") == "False" or bool(lc.get("warningstring"))
        table.append(
            {
                "fault": fault,
                "url": url,
                "archiver": answer,
                "link_status": ours.get("link_status"),
                "archiver_detects": answer == EXPECTED[fault] if fault != "ok" else answer == "ok",
                "reason": ours.get("error"),
                "linkchecker": lc_says,
                "linkchecker_detects": lc_flags if fault != "ok" else not lc_flags,
            }
        )
    return {
        "archive_s": archive_wall,
        "archive": archived.get("fetch", archived),
        "check_s": check_wall,
        "check": checked,
        "linkchecker_s": lc_wall,
        "links": table,
    }


# -- timing -------------------------------------------------------------------------------------
def timing(args: argparse.Namespace) -> dict[str, Any]:
    """--urls links over --hosts hosts; one link per host of each TIMING_FAULTS kind."""
    rng = random.Random(args.seed)
    pool = [sentence(rng) for _ in range(max(4000, args.urls + 10))]
    web = Web(args.seed, pool)
    names = [f"127.0.0.{2 + h}" for h in range(args.hosts)]
    hosts: dict[str, dict[str, Any]] = {
        host: {"specs": {}, "catch_all": False, "etags": n % 2 == 0} for n, host in enumerate(names)
    }
    cited = []
    for i in range(args.urls):
        host = names[i % args.hosts]
        slot = i // args.hosts
        fault = TIMING_FAULTS[slot] if slot < len(TIMING_FAULTS) else "ok"
        hosts[host]["specs"][f"/a/{i}.html"] = (fault, i)
        cited.append((host, f"/a/{i}.html"))
    with (
        tempfile.TemporaryDirectory(prefix="linkcheck-bench-") as name,
        loopback(hosts, web, args) as server,
    ):
        tmp = Path(name)
        urls = [server.url(h, p) for h, p in cited]
        write_article(urls, pool, tmp / "article.md")
        archive_wall, archived = archiver(
            ["archive", "article.md", "--db", "bench.db", *fetch_args(args)], tmp, args.run_timeout
        )
        server.phase.value = 2
        server.epoch.value = 1
        runs = []
        for _ in range(args.repeat):
            wall, summary = archiver(
                ["check", "--db", "bench.db", *fetch_args(args)], tmp, args.run_timeout
            )
            runs.append(
                {
                    "wall_s": round(wall, 2),
                    "outcomes": summary.get("outcomes", summary),
                    "extracted": summary.get("extracted"),
                    "captured": summary.get("captured"),
                }
            )
        lc_runs = []
        for epoch, rate, repeat in ((2, args.linkchecker_rate, args.repeat), (3, 10, 1)):
            server.epoch.value = epoch
            for _ in range(repeat if args.linkchecker else 0):
                wall, rows = linkchecker(urls, args, rate=rate)
                lc_runs.append(
                    {
                        "maxrequestspersecond": rate,
                        "wall_s": round(wall, 2),
                        "urls": len(rows),
                        "results": dict(
                            Counter(
                                r["result"].split(" ")[0] if r["result"] else "?"
                                for r in rows.values()
                            )
                        ),
                    }
                )
        seen = server.close()
    in_flight = {
        name: max(most.get(epoch, 0) for most, _ in seen.values())
        for epoch, name in (
            (1, "archiver check"),
            (2, "linkchecker"),
            (3, "linkchecker, 10 requests/s"),
        )
    }
    ideal = (args.urls / args.hosts + 2) * args.latency_ms / 1000  # robots.txt + probe
    return {
        "options": vars(args),
        "urls": len(urls),
        "archive_s": round(archive_wall, 2),
        "archive_outcomes": archived.get("fetch", archived).get("outcomes"),
        "check": runs,
        "linkchecker": lc_runs,
        "ideal_s": round(ideal, 2),
        "max_in_flight_per_host": in_flight,
        "requests": sum(c for _, c in seen.values()),
    }


# -- drift thresholds ---------------------------------------------------------------------------
def drift(args: argparse.Namespace) -> dict[str, Any]:
    """The similarity of edited copies of the corpus pages to the originals, per kind of edit."""
    sys.path.insert(0, str(REPO))
    from archiver.capture.extract import extract
    from archiver.linkrot.verdicts import containment, jaccard, shingles

    manifest = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
    texts = []
    for page in manifest:
        body = (CORPUS / page["html_file"]).read_bytes()
        texts.append(extract(body, content_type="text/html", url=page["original_url"]).text or "")
    rng = random.Random(args.seed)

    def paragraphs(text: str) -> list[str]:
        return [p for p in text.splitlines() if p.strip()]

    def edit(text: str, kind: str, other: str) -> str:
        ps = paragraphs(text)
        if kind == "date line added":
            return "Updated 5 May 2024\n" + text
        if kind == "paragraphs reordered":
            rng.shuffle(ps)
        elif kind == "one word changed":
            i = rng.randrange(len(ps))
            words = ps[i].split()
            words[rng.randrange(len(words))] = "changed"
            ps[i] = " ".join(words)
        elif kind == "three numbers changed":
            return re.sub(r"\d+", lambda m: str(int(m.group()) + 1), text, count=3)
        elif kind == "comments appended (+50%)":
            ps += paragraphs(other)[: len(ps) // 2]
        elif kind == "one paragraph removed":
            del ps[rng.randrange(len(ps))]
        elif kind == "first 30% removed":
            ps = ps[int(len(ps) * 0.3) :]
        elif kind == "half replaced":
            ps = ps[: len(ps) // 2] + paragraphs(other)[: len(ps) // 2]
        elif kind == "another article":
            return other
        return "\n".join(ps)

    kinds = [
        "date line added",
        "paragraphs reordered",
        "one word changed",
        "three numbers changed",
        "comments appended (+50%)",
        "one paragraph removed",
        "first 30% removed",
        "half replaced",
        "another article",
    ]
    out = {}
    for kind in kinds:
        cont, jac = [], []
        for i, text in enumerate(texts):
            if len(text) < 200:
                continue
            new = edit(text, kind, texts[(i + 1) % len(texts)])
            a, b = shingles(text), shingles(new)
            cont.append(containment(a, b))
            jac.append(jaccard(a, b))
        cont.sort()
        jac.sort()
        out[kind] = {
            "containment_min": round(cont[0], 2),
            "containment_median": round(cont[len(cont) // 2], 2),
            "jaccard_median": round(jac[len(jac) // 2], 2),
            "pages": len(cont),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["faults", "timing", "drift"])
    add = parser.add_argument
    add("--urls", type=int, default=2000, help="timing: cited links (default 2000)")
    add("--hosts", type=int, default=50, help="timing: hosts 127.0.0.2.. (default 50)")
    add("--latency-ms", type=float, default=50, help="added to every answer (default 50)")
    add("--concurrency", type=int, default=50, help="hosts in parallel / linkchecker threads")
    add("--timeout", type=float, default=5, help="per response, both tools (default 5)")
    add(
        "--linkchecker-rate",
        type=float,
        default=1000,
        help="linkchecker maxrequestspersecond per host (default 1000: no pause)",
    )
    add("--no-linkchecker", dest="linkchecker", action="store_false")
    add("--repeat", type=int, default=1, help="timing: runs of each tool (default 1)")
    add("--seed", type=int, default=1)
    add("--server-procs", type=int, default=2)
    add("--run-timeout", type=float, default=900)
    add("--label", default="", help="JSON file name in bench/results/")
    args = parser.parse_args()
    figures = {"faults": faults, "timing": timing, "drift": drift}[args.what](args)
    text = json.dumps(figures, indent=2)
    print(text)
    (BENCH_DIR / "results").mkdir(exist_ok=True)
    path = BENCH_DIR / "results" / f"linkcheck-{args.label or args.what}.json"
    path.write_text(text + "\n", encoding="utf-8")
    print(f"json: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
