"""CPU cost per request of ``archiver.net.fetch.fetch`` against bare ``requests``, on loopback.

When archiving, the machine is CPU-bound and the fetching threads share one GIL, so every
millisecond ``fetch()`` spends per URL (guard, robots, throttle, watchdog, request preparation,
hashing and spooling the body) comes out of the throughput. This measures it: a forked child
process serves one ~60 KB HTML page and a robots.txt from a ``ThreadingHTTPServer`` on
127.0.0.1 (its CPU is not counted), and this process runs the same number of GETs twice from
the same threads, one session per thread:

* ``fetch``: ``archiver.net.fetch.fetch`` with ``FetchConfig(allow_private_addresses=True,
  delay=0)``, a shared ``RobotsCache`` (robots.txt is read once) and a throttle per thread, so
  threads do not queue behind each other for the one host (as real runs have a host per task);
* ``requests``: ``requests.Session().get(url).content``, the same transfer as most code does
  it. A reference rather than a floor: ``.content`` reads in 10 KB chunks and ``get`` merges
  the session's settings again on every call, so ``fetch()`` can come in under it.

Figures are the process's user + system CPU (``getrusage(RUSAGE_SELF)``) per request and the
wall time. Loopback only; every loop is bounded and the server stops by itself after
``--max-life`` seconds. ``--rounds`` alternates the two phases so a noisy machine biases both.

    .venv/bin/python bench/fetch_overhead.py               # 2,000 requests, 8 threads
    .venv/bin/python bench/fetch_overhead.py -n 4000 -t 50 --rounds 3
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the repo

import requests  # noqa: E402

from archiver.net.fetch import FetchConfig, fetch, make_session  # noqa: E402
from archiver.net.politeness import HostThrottle  # noqa: E402
from archiver.net.robots import RobotsCache  # noqa: E402

ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def make_page(size: int = 60_000, seed: int = 1) -> bytes:
    """An HTML page of about ``size`` bytes (content does not matter, only the transfer)."""
    rng = random.Random(seed)
    words = "archive citation source claim report figure page evidence capture".split()
    paragraphs = []
    total = 0
    while total < size:
        text = " ".join(rng.choice(words) for _ in range(80))
        paragraphs.append(f"<p>{text}</p>\n")
        total += len(paragraphs[-1])
    return (
        f"<html><head><title>Bench</title></head><body>{''.join(paragraphs)}</body></html>".encode()
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers and the archiver use
    timeout = 30  # idle connections end by themselves
    disable_nagle_algorithm = True  # else delayed ACKs cap each connection at ~25 requests/s
    page = b""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Quiet: a line per request would bury the figures."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if self.path == "/robots.txt":
            body, ctype = ROBOTS, "text/plain"
        else:
            body, ctype = self.page, "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"bench"')
        self.end_headers()
        self.wfile.write(body)


def _serve(page: bytes, ports: Any, stop: Any, max_life: float) -> None:
    """Server process: serves until ``stop`` is set or ``max_life`` seconds have passed."""
    _Handler.page = page
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    ports.put(server.server_address[1])
    stop.wait(max_life)
    server.shutdown()
    server.server_close()


@contextmanager
def loopback_server(page: bytes, max_life: float) -> Iterator[int]:
    """Run the server in a forked child; yields its port; always stops it."""
    ctx = multiprocessing.get_context("fork")
    ports, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_serve, args=(page, ports, stop, max_life), daemon=True)
    proc.start()
    try:
        yield ports.get(timeout=30)
    finally:
        stop.set()
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=10)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_threads(
    make_worker: Callable[[], Callable[[], int]], requests_total: int, threads: int
) -> tuple[float, float, int]:
    """``requests_total`` calls spread over ``threads`` threads, each with its own worker.

    Each thread builds its worker (session and all) and makes one warm-up call before the
    clock starts, so connection set-up is not counted. Returns (cpu s, wall s, bytes read).
    """
    per_thread = [
        requests_total // threads + (i < requests_total % threads) for i in range(threads)
    ]
    ready = threading.Barrier(threads + 1)
    go = threading.Event()
    read = [0] * threads

    def body(index: int) -> None:
        work = make_worker()
        work()
        ready.wait(timeout=60)
        go.wait(timeout=60)
        for _ in range(per_thread[index]):
            read[index] += work()

    workers = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    ready.wait(timeout=60)
    cpu0, wall0 = cpu_s(), time.perf_counter()
    go.set()
    for worker in workers:
        worker.join(timeout=600)
    return cpu_s() - cpu0, time.perf_counter() - wall0, sum(read)


def archiver_worker(url: str, config: FetchConfig, robots: RobotsCache) -> Callable[[], int]:
    session, throttle = make_session(config), HostThrottle()

    def work() -> int:
        result = fetch(url, session=session, config=config, robots=robots, throttle=throttle)
        try:
            if result.outcome != "ok":
                raise RuntimeError(f"{url}: {result.outcome} {result.error}")
            return result.content_length or 0
        finally:
            result.close()

    return work


def requests_worker(url: str) -> Callable[[], int]:
    session = requests.Session()

    def work() -> int:
        resp = session.get(url, timeout=30)
        resp.raise_for_status()
        return len(resp.content)

    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--requests", type=int, default=2000, help="GETs per phase")
    parser.add_argument("-t", "--threads", type=int, default=8)
    parser.add_argument("--size", type=int, default=60_000, help="page size in bytes")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the phases this often")
    parser.add_argument("--only", choices=["fetch", "requests"], help="run one phase (profiling)")
    parser.add_argument("--max-life", type=float, default=900, help="server stops after this")
    args = parser.parse_args()

    page = make_page(args.size)
    config = FetchConfig(allow_private_addresses=True, delay=0, concurrency=args.threads)
    names = [args.only] if args.only else ["fetch", "requests"]
    print(f"{args.requests} GETs of {len(page):,} bytes from {args.threads} threads, per phase")
    print(f"{'round':>5} {'phase':>9} {'cpu ms/req':>10} {'wall s':>7} {'req/s':>7}")
    totals: dict[str, list[float]] = {name: [] for name in names}
    with loopback_server(page, args.max_life) as port:
        url = f"http://127.0.0.1:{port}/page"
        robots = RobotsCache(config, throttle=HostThrottle())
        makers: dict[str, Callable[[], Callable[[], int]]] = {
            "fetch": lambda: archiver_worker(url, config, robots),
            "requests": lambda: requests_worker(url),
        }
        for round_ in range(1, args.rounds + 1):
            for name in names:
                cpu, wall, read = run_threads(makers[name], args.requests, args.threads)
                if read != args.requests * len(page):
                    raise SystemExit(f"{name}: read {read:,} bytes, not all pages whole")
                per_req = cpu / args.requests * 1000
                totals[name].append(per_req)
                print(
                    f"{round_:>5} {name:>9} {per_req:>10.3f} {wall:>7.2f} "
                    f"{args.requests / wall:>7.0f}"
                )
    if len(totals) == 2:
        ours, floor = min(totals["fetch"]), min(totals["requests"])
        print(
            f"best: fetch {ours:.3f} ms/req, requests {floor:.3f} ms/req, "
            f"ratio {ours / floor:.2f}, overhead {ours - floor:.3f} ms/req"
        )


if __name__ == "__main__":
    main()
