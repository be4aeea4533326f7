"""Benchmark ``archiver archive`` on a loopback web of many slow hosts.

Politeness (one request in flight per host, ``--delay`` between two) puts a floor under the
wall time that no CPU can beat, and extraction another (its CPU / cores): this measures how close
a real run gets to the larger one, and the memory of the archiver's whole process tree. Pages
are served by one ThreadingHTTPServer per host on 127.0.0.2.. (with ``--latency-ms``) in other
processes, so their CPU is not the archiver's; ``python -m archiver archive`` runs as a real
subprocess; the same pages are then extracted here for the ideal and the trafilatura floor.
Prints a table and writes JSON to bench/results/. See bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import importlib.abc
import importlib.machinery
import io
import json
import multiprocessing
import os
import random
import re
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
CORPUS = Path("/work/shared/corpus/pages")
MB = 1_000_000
#: --big-bodies: (count, bytes, chunked). The over-cap ones come chunked (no Content-Length), so
#: the archiver must stream to its 50 MB cap to find out; the others are HTML it must extract.
BIG_BODIES = ((20, 60 * MB, True), (10, 30 * MB, False))
ROBOTS = b"User-agent: *\nAllow: /\n"

Sites = dict[str, tuple[dict[str, bytes], dict[str, tuple[int, bool]]]]  # host: pages, big

# -- pages --------------------------------------------------------------------------------------
_SUBJECTS = """The ministry|Regional officials|A company spokesperson|Analysts at the bank|The
central bank|Local farmers|The research team|Several lawmakers|The agency's report|Economists"""
_VERBS = "said|estimated|warned|reported|argued|confirmed|denied|announced|noted|claimed"
_CLAIMS = """that exports rose by {n} percent in {y}|that the pipeline would carry {n} billion
cubic metres of gas a year|that the project had cost about ${n} million|that talks had stalled
since {m}|that {n} thousand workers had moved to the city|that the railway cut freight times by
{n} days|that the drought destroyed {n} percent of the harvest|that the agreement was signed in
{m} {y}|that inflation reached {n} percent by the end of {y}"""
_TAILS = """|, according to figures published in {m}| despite objections from neighbouring
states|, citing internal documents| in an interview with local media| on {m} {d}"""
_MONTHS = "January February March April May June July August September October November December"


def sentence(rng: random.Random) -> str:
    """One plausible news sentence (varied enough that no two pages are alike)."""
    fill = {
        "n": rng.randint(2, 95),
        "y": rng.randint(1995, 2024),
        "d": rng.randint(1, 28),
        "m": rng.choice(_MONTHS.split()),
    }
    subject, verb, claim, tail = (
        rng.choice(words.split("|")).format(**fill)
        for words in (_SUBJECTS, _VERBS, _CLAIMS, _TAILS)
    )
    return " ".join(f"{subject} {verb} {claim}{tail}.".split())


def make_page(seed: int, index: int, pool: list[str]) -> bytes:
    """An article page of 20-100 KB, deterministic in (seed, index): 60% article, 40%
    navigation, related links and comments, so trafilatura has boilerplate to score away."""
    rng = random.Random(f"{seed}:{index}")
    target, title, author = rng.randint(20_000, 100_000), pool[index][:70], index % 97
    nav = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(30))
    parts = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} | Daily'
        f' Steppe</title><meta name="author" content="Writer {author}"><meta property="'
        f'article:published_time" content="2023-{1 + index % 12:02d}-{1 + index % 28:02d}">'
        f'<style>body{{font:16px serif}}</style><script>var cfg={{"id":{index}}};</script>'
        f'</head><body><header><ul class="nav">{nav}</ul></header><main><article><h1>'
        f'{title}</h1><p class="byline">By Writer {author}</p>'
    ]
    size = len(parts[0])
    while size < 0.6 * target:
        text = " ".join(rng.choice(pool) for _ in range(rng.randint(3, 8)))
        tag = "h2" if rng.random() < 0.08 else "blockquote" if rng.random() < 0.05 else "p"
        parts.append(f"<{tag}>{text[:80] if tag == 'h2' else text}</{tag}>")
        size += len(parts[-1])
    parts.append("</article><aside><h3>Related</h3><ul>")
    while size < target:
        parts.append(
            f'<li><a href="/story/{rng.randint(1, 99999)}">{rng.choice(pool)[:60]}</a>'
            f'</li><div class="comment"><b>reader{rng.randint(1, 999)}</b> '
            f"{rng.choice(pool)}</div>"
        )
        size += len(parts[-1])
    parts.append("</ul></aside></main><footer>&copy; Daily Steppe</footer></body></html>")
    return "".join(parts).encode()


def big_chunks(size: int, pool: list[str]) -> Iterator[bytes]:
    """A ``size``-byte HTML page of paragraphs, made as it is sent (never held whole)."""
    head = b"<!DOCTYPE html><html><head><title>Huge report</title></head><body><article>"
    tail = b"</article></body></html>"
    block = "".join(f"<p>{pool[i]} {pool[i + 1]}</p>" for i in range(0, 400, 2)).encode()
    yield head
    left = size - len(head) - len(tail)
    while left > 0:
        yield block[:left]
        left -= min(left, len(block))
    yield tail


def build_web(args: argparse.Namespace, pool: list[str]) -> tuple[Sites, list[tuple[str, str]]]:
    """Pages per host, and the cited (host, path) pairs in citation order, hosts round-robin."""
    files = (
        [p.read_bytes() for p in sorted(Path(args.pages_dir).glob("*.htm*"))]
        if args.pages_dir
        else []
    )
    sites: Sites = {f"127.0.0.{2 + h}": ({}, {}) for h in range(args.hosts)}
    hosts, cited = list(sites), []
    for i in range(args.urls):
        host, path = hosts[i % args.hosts], f"/a/{i}.html"
        sites[host][0][path] = files[i % len(files)] if files else make_page(args.seed, i, pool)
        cited.append((host, path))
    big = [(size, chunked) for count, size, chunked in BIG_BODIES for _ in range(count)]
    for n, spec in enumerate(big if args.big_bodies else []):
        cited.append((hosts[n % args.hosts], f"/big/{n}.html"))
        sites[cited[-1][0]][1][cited[-1][1]] = spec
    return sites, cited


# -- servers ------------------------------------------------------------------------------------
class _Site(ThreadingHTTPServer):
    daemon_threads, block_on_close, latency = True, False, 0.0
    pages: dict[str, bytes]
    big: dict[str, tuple[int, bool]]
    pool: list[str]


class _Handler(BaseHTTPRequestHandler):
    """Answers after the site's latency; HTTP/1.1 keep-alive, as real servers do."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end by themselves
    # TCP_NODELAY, as web servers set it (nginx's tcp_nodelay is on by default): without it the
    # body waits for the ACK of the headers, a delayed ACK of up to 40 ms, on many responses.
    disable_nagle_algorithm = True
    server: _Site

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Quiet: a request line per page would bury the figures."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        site, path = self.server, self.path.split("?", 1)[0]
        time.sleep(site.latency)
        try:
            if path == "/robots.txt":
                self._send(ROBOTS, "text/plain")
            elif path in site.pages:
                self._send(site.pages[path], "text/html; charset=utf-8")
            elif path in site.big:
                self._send_big(*site.big[path])
            else:
                self._send(b"not found", "text/plain", 404)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the archiver hung up at its byte cap: expected

    def _send(self, body: bytes, ctype: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_big(self, size: int, chunked: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header(
            *(("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(size)))
        )
        self.end_headers()
        for data in big_chunks(size, self.server.pool):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")


def _serve(
    sites: Sites, latency: float, pool: list[str], ports: Any, stop: Any, max_life: float
) -> None:
    """Server process: a server thread per host; ends on ``stop`` or after ``max_life`` s."""
    servers = [_Site((host, 0), _Handler) for host in sites]
    for server, (host, (pages, big)) in zip(servers, sites.items(), strict=True):
        server.latency, server.pages, server.big, server.pool = latency, pages, big, pool
        threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
        ports.put((host, server.server_address[1]))
    stop.wait(max_life)
    for server in servers:
        server.shutdown()
        server.server_close()


@contextmanager
def loopback_web(sites: Sites, args: Any, pool: list[str]) -> Iterator[dict[str, int]]:
    """Run the sites in ``--server-procs`` processes; yields host -> port; always stops them."""
    ctx = multiprocessing.get_context("fork")  # children inherit the pages: no pickling
    ports, stop = ctx.Queue(), ctx.Event()
    items = list(sites.items())
    procs = [
        ctx.Process(
            target=_serve,
            daemon=True,
            args=(
                dict(items[i :: args.server_procs]),
                args.latency_ms / 1000,
                pool,
                ports,
                stop,
                args.run_timeout + 120,
            ),
        )
        for i in range(min(args.server_procs, len(items)))
    ]
    for proc in procs:
        proc.start()
    try:
        yield dict(ports.get(timeout=60) for _ in items)
    finally:
        stop.set()
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=10)


# -- measuring ----------------------------------------------------------------------------------
def process_tree(root: int) -> list[int]:
    """``root`` and its descendants from /proc (the archiver's extraction workers included)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                ppid = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = list[int](), [root]
    while todo and len(found) < 10_000:
        found.append(todo.pop())
        todo += children.get(found[-1], [])
    return found


def status_kb(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` figure in kB (VmRSS, VmHWM), 0 once the process is gone."""
    try:
        found = re.search(rf"^{field}:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M)
    except OSError:
        return 0
    return int(found.group(1)) if found else 0


class TreeMemory(threading.Thread):
    """Every ``interval`` s: the peak of the tree's summed RSS, and each process's VmHWM. The
    sampled sum can miss a spike shorter than ``interval``; the sum of every process's own peak
    (VmHWM) cannot, and is an upper bound, since those peaks need not coincide."""

    def __init__(self, root: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root, self.interval, self.done = root, interval, threading.Event()
        self.peak_sum_kb, self.hwm_kb = 0, dict[int, int]()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            pids = process_tree(self.root)
            self.peak_sum_kb = max(self.peak_sum_kb, sum(status_kb(p, "VmRSS") for p in pids))
            for pid in pids:
                self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), status_kb(pid, "VmHWM"))


def cpu_s(who: int) -> float:
    """User + system seconds of this process or of its reaped children (``RUSAGE_*``)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


# -- CPU by part (--cpu-parts) ------------------------------------------------------------------
#: What ``--cpu-parts`` times, by module: (part, function or Class.method). Each part's time is
#: exclusive: a part called inside another (gzip inside WARC writing, a robots.txt fetch inside a
#: fetch of the same part) is counted once, where it runs. A function that is renamed or moved
#: simply reads 0 and its CPU lands in "other".
CPU_PARTS = {
    "trafilatura.core": [("trafilatura", "bare_extraction")],
    "trafilatura.utils": [("trafilatura", "load_html")],
    "archiver.capture.extract": [
        ("extraction besides trafilatura", "extract"),
        ("hand-off: body read for extraction", "read_extractable"),
    ],
    "archiver.evidence.find": [("evidence", "evidence_for")],
    "archiver.net.fetch": [("fetch", "fetch")],
    "archiver.capture.warc": [
        ("WARC: records", "WarcWriter.write_fetch"),
        ("WARC: gzip", "_GzipMemberPerRecord.write"),
        ("WARC: gzip", "_GzipMemberPerRecord.flush"),
        ("WARC: flush, fsync", "WarcWriter._sync"),
    ],
    "archiver.store.revisits": [("SQLite: save rows", "save_url_rows")],
    "archiver.store.evidence_rows": [("SQLite: read claims", "claims_citing")],
    "archiver.run.ingest": [("ingest the article", "ingest_sources")],
    # The threads that hand bodies to the extraction workers (pickling) and take their results.
    "multiprocessing.queues": [("process pool: feeder thread", "Queue._feed")],
    "concurrent.futures.process": [("process pool: result thread", "_ExecutorManagerThread.run")],
}


def measure_parts(out: str) -> None:
    """Time the ``CPU_PARTS`` of this process with ``time.thread_time``; write them at exit.

    Run in every process of the archiver (coordinator, extraction workers) by the
    ``sitecustomize`` that ``--cpu-parts`` puts on their PYTHONPATH: each module is patched as
    it is imported, before any other module takes the names from it.
    """
    parts: dict[str, float] = defaultdict(float)
    lock, local = threading.Lock(), threading.local()

    def timed(part: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            stack: list[float] = local.__dict__.setdefault("stack", [])
            start = time.thread_time()
            stack.append(0.0)  # CPU of the timed calls inside this one
            try:
                return function(*args, **kwargs)
            finally:
                spent, inner = time.thread_time() - start, stack.pop()
                if stack:
                    stack[-1] += spent
                with lock:
                    parts[part] += spent - inner

        return wrapper

    def patch(module: ModuleType) -> None:
        for part, name in CPU_PARTS[module.__name__]:
            owner_name, _, attribute = name.rpartition(".")
            owner = getattr(module, owner_name) if owner_name else module
            if not hasattr(owner, attribute):
                continue
            wrapper = timed(part, getattr(owner, attribute))
            static = isinstance(vars(owner).get(attribute), staticmethod)
            setattr(owner, attribute, staticmethod(wrapper) if static else wrapper)

    class Patcher(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
            if name not in CPU_PARTS:
                return None  # the next finder's business
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or spec.loader is None:
                return spec
            execute = spec.loader.exec_module

            def execute_and_patch(module: ModuleType) -> None:
                execute(module)
                patch(module)

            spec.loader.exec_module = execute_and_patch  # type: ignore[method-assign]
            return spec

    def write() -> None:
        # The resource tracker, no child of multiprocessing's own, counts with the coordinator.
        role = "coordinator" if multiprocessing.parent_process() is None else "extraction worker"
        figures = {"role": role, "cpu_s": time.process_time(), "parts": parts}
        Path(out, f"{os.getpid()}.json").write_text(json.dumps(figures))

    sys.meta_path.insert(0, Patcher())
    atexit.register(write)


def cpu_parts(folder: Path) -> dict[str, float]:
    """CPU seconds by part over the processes that ``measure_parts`` ran in; what no part
    covers is "<role>: other" (start-up, imports, threads and queues, pickling)."""
    seconds: dict[str, float] = defaultdict(float)
    for path in folder.glob("*.json"):
        figures = json.loads(path.read_text())
        for part, spent in figures["parts"].items():
            seconds[part] += spent
        seconds[f"{figures['role']}: other"] += figures["cpu_s"] - sum(figures["parts"].values())
    return dict(sorted(seconds.items(), key=lambda item: -item[1]))


def run_archiver(urls: list[str], pool: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Write the article, run the archiver on it with a hard time limit, measure it."""
    with tempfile.TemporaryDirectory(prefix="archive-bench-") as tmp:
        env = dict(os.environ)
        if args.cpu_parts:  # every Python process of the archiver runs measure_parts first
            Path(tmp, "parts").mkdir()
            Path(tmp, "sitecustomize.py").write_text(
                f"import sys\nsys.path.insert(0, {str(BENCH_DIR)!r})\nimport archive_bench\n"
                f"del sys.path[0]\narchive_bench.measure_parts({str(Path(tmp, 'parts'))!r})\n"
            )
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [tmp, env.get("PYTHONPATH")]))
        lines = ["# A benchmark article", "", "By Bench Writer, Loopback Institute", ""]
        for i in range(0, len(urls), 10):  # paragraphs of ten cited sentences
            lines += [
                " ".join(
                    f"{pool[i + j]} ([source]({url}))." for j, url in enumerate(urls[i : i + 10])
                ),
                "",
            ]
        Path(tmp, "article.md").write_text("\n".join(lines))
        command = [
            *shlex.split(args.wrap),
            sys.executable,
            "-m",
            "archiver",
            "archive",
            "article.md",
            "--db",
            "bench.db",
            "--warc-dir",
            "warc",
            "--json",
            "--silent",
            "--allow-private-addresses",
            "--delay",
            str(args.delay),
            "--concurrency",
            str(args.concurrency),
            "--timeout",
            str(args.timeout),
            *shlex.split(args.archiver_args),
        ]
        children, own = cpu_s(resource.RUSAGE_CHILDREN), cpu_s(resource.RUSAGE_SELF)
        start = time.monotonic()
        child = subprocess.Popen(
            command,
            cwd=tmp,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        memory = TreeMemory(child.pid)
        memory.start()
        try:
            out, err = child.communicate(timeout=args.run_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)  # the session we started: archiver + workers
            out, err = child.communicate(timeout=30)
        wall = time.monotonic() - start
        memory.done.set()
        memory.join(timeout=5)
        warc_bytes = sum(p.stat().st_size for p in Path(tmp, "warc").glob("*"))
        parts = cpu_parts(Path(tmp, "parts")) if args.cpu_parts else None
    try:
        outcomes = json.loads(out)["fetch"]["outcomes"]
    except (ValueError, KeyError):  # no summary: keep the end of the archiver's stderr
        outcomes = {"error": err.decode(errors="replace")[-2000:]}
    return {
        "exit_code": child.returncode,
        "outcomes": outcomes,
        "wall_s": wall,
        "archiver_cpu_s": cpu_s(resource.RUSAGE_CHILDREN) - children,
        "bench_cpu_during_run_s": cpu_s(resource.RUSAGE_SELF) - own,
        "peak_rss_tree_sampled_mb": memory.peak_sum_kb / 1024,
        "peak_rss_sum_of_hwm_mb": sum(memory.hwm_kb.values()) / 1024,
        "peak_rss_main_mb": memory.hwm_kb.get(child.pid, 0) / 1024,
        "peak_rss_per_process_mb": sorted(
            (round(kb / 1024) for kb in memory.hwm_kb.values()), reverse=True
        ),
        "warc_mb": warc_bytes / MB,
    } | ({"cpu_parts_s": {k: round(v, 2) for k, v in parts.items()}} if parts else {})


def extraction_cpu(bodies: Iterator[tuple[str, bytes]]) -> tuple[float, float]:
    """CPU seconds of archiver.capture.extract.extract (what the archiver's workers run:
    trafilatura, a baseline pass, a language guess) and of bare trafilatura (the floor) on the
    same bodies."""
    from trafilatura import bare_extraction

    from archiver.capture.extract import (
        MAX_HTML_BYTES,
        TRAFILATURA_OPTIONS,
        extract,
        read_extractable,
    )

    project = bare = 0.0
    for url, body in bodies:
        start = time.process_time()
        kept = read_extractable(io.BytesIO(body), "text/html")  # what a worker is handed
        extract(kept, content_type="text/html", url=url, charset="utf-8")
        middle = time.process_time()
        bare_extraction(
            body[:MAX_HTML_BYTES].decode("utf-8", "replace"), url=url, **TRAFILATURA_OPTIONS
        )
        project, bare = project + middle - start, bare + time.process_time() - middle
    return project, bare


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Serve, archive, then compute the ideal and the floor; returns the figures."""
    rng = random.Random(args.seed)
    pool = [sentence(rng) for _ in range(max(4000, args.urls + 10))]
    sites, cited = build_web(args, pool)
    with loopback_web(sites, args, pool) as port:
        urls = [f"http://{host}:{port[host]}{path}" for host, path in cited]
        before = cpu_s(resource.RUSAGE_CHILDREN)
        figures = run_archiver(urls, pool, args)
    served = cpu_s(resource.RUSAGE_CHILDREN) - before  # the reaped servers, and the archiver
    figures["server_cpu_s"] = served - figures["archiver_cpu_s"]
    # A host's requests in series: its pages and robots.txt, the latency each, delays between.
    series = [
        (len(p) + len(b) + 1) * args.latency_ms / 1000 + (len(p) + len(b)) * args.delay
        for p, b in sites.values()
    ]
    network = max(max(series), sum(series) / min(args.concurrency, args.hosts))

    def bodies() -> Iterator[tuple[str, bytes]]:
        for url, (host, path) in zip(urls, cited, strict=True):
            pages, big = sites[host]
            if path in pages:
                yield url, pages[path]
            elif not big[path][1]:  # under the cap: the archiver extracts it too
                yield url, b"".join(big_chunks(big[path][0], pool))

    project_cpu, bare_cpu = extraction_cpu(bodies())
    cores = len(os.sched_getaffinity(0))
    ideal = max(network, project_cpu / cores)
    captured = sum(figures["outcomes"].get(k, 0) for k in ("ok", "redirected"))
    figures |= {
        "urls": len(urls),
        "cores": cores,
        "ideal_s": ideal,
        "ideal_network_s": network,
        "ideal_extraction_s": project_cpu / cores,
        "ratio": figures["wall_s"] / ideal,
        "pages_per_s": captured / figures["wall_s"],
        "extract_cpu_s": project_cpu,
        "bare_trafilatura_s": bare_cpu,
        # Issue 14's aims: the CPU spent besides trafilatura's own at most half of it, and both
        # cores busy (wall within 1.15x of the CPU over the cores). bench/README.md defines them.
        "outside_trafilatura_ratio": (figures["archiver_cpu_s"] - bare_cpu) / bare_cpu,
        "wall_over_cpu_per_core": figures["wall_s"] / (figures["archiver_cpu_s"] / cores),
    }
    if "cpu_parts_s" in figures:  # the same ratio against trafilatura's CPU inside the run
        inside = figures["cpu_parts_s"].get("trafilatura", 0.0)
        figures["outside_trafilatura_ratio_in_run"] = (
            (figures["archiver_cpu_s"] - inside) / inside if inside else None
        )
    return {"options": vars(args)} | {
        k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--urls", type=int, default=2000, help="cited pages (default 2000)")
    add("--hosts", type=int, default=50, help="hosts 127.0.0.2.. (default 50, at most 250)")
    add("--latency-ms", type=float, default=50, help="server latency per answer (default 50)")
    add("--delay", type=float, default=0, help="archiver --delay (default 0)")
    add("--concurrency", type=int, default=50, help="archiver --concurrency (default 50)")
    add("--timeout", type=float, default=60, help="archiver --timeout (default 60)")
    add("--pages-dir", help="serve the *.html of this folder round-robin instead")
    add(
        "--corpus",
        action="store_const",
        dest="pages_dir",
        const=str(CORPUS),
        help=f"same as --pages-dir {CORPUS}",
    )
    add(
        "--big-bodies",
        action="store_true",
        help="also cite 20 x 60 MB (over the cap, chunked) and 10 x 30 MB HTML bodies",
    )
    add("--seed", type=int, default=1, help="for the generated pages (default 1)")
    add("--server-procs", type=int, default=2, help="processes serving the hosts (default 2)")
    add("--run-timeout", type=float, default=1800, help="kill the archiver after this (s)")
    add(
        "--wrap",
        default="",
        help="prefix for the archiver command, e.g. 'py-spy record -o "
        "p.txt -f raw --subprocesses --' (its memory then counts too)",
    )
    add(
        "--archiver-args",
        default="",
        help="more options for the archiver, e.g. '--workers 2' (a Dask LocalCluster)",
    )
    add(
        "--cpu-parts",
        action="store_true",
        help="also time the archiver's parts (fetch, WARC, SQLite, evidence...) in its processes",
    )
    add("--label", default="", help="JSON file name in bench/results/ (default: a timestamp)")
    args = parser.parse_args()
    if not 1 <= args.hosts <= 250 or args.urls < 1 or args.server_procs < 1:
        parser.error("need 1 <= --hosts <= 250, --urls >= 1, --server-procs >= 1")
    figures = run(args)
    for key, value in figures.items():
        print(f"{key:26} {json.dumps(value) if isinstance(value, dict | list) else value}")
    (BENCH_DIR / "results").mkdir(exist_ok=True)
    path = BENCH_DIR / "results" / f"{args.label or time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{'json':26} {path}")


if __name__ == "__main__":
    main()
