"""Search latency of a served archive under concurrent clients (issue 11).

Builds an archive of generated articles with the project's own code (``open_db``,
``save_article``), starts ``archiver serve`` on it (a real Datasette on 127.0.0.1), and runs N
client threads, each doing ``--requests`` searches: the ``citations`` table's ``_search`` and
the *Search claims* canned query, alternately, with words drawn from the generated vocabulary.
Prints p50/p95/max per kind. Every loop is bounded; the server is stopped at the end.

    .venv/bin/python bench/search_bench.py                  # 50,000 citations, 16 clients
    .venv/bin/python bench/search_bench.py --citations 5000 --clients 4 --requests 10
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from archiver.ingest.article import Article
from archiver.ingest.claims import Citation
from archiver.store import open_db, save_article

REPO = Path(__file__).resolve().parents[1]
WORDS = (
    "trade gas pipeline border security loan debt bank investment railway port election army "
    "summit sanctions tariff oil grain water drought protest court minister treaty market "
    "export import energy nuclear climate vaccine hospital school bridge road airport mine "
    "copper uranium wheat cotton corridor customs currency inflation budget deficit"
).split()
NAMES = "China Russia Kazakhstan Turkmenistan Beijing Moscow Tajik-Afghan US$30 COVID-19".split()
#: Generated words after the real ones; word k is drawn with weight 1/k (Zipf), as in prose.
VOCABULARY = (
    WORDS
    + NAMES
    + [
        f"{a}{b}{c}"
        for a in "bdgkmprst"
        for b in "aeiou"
        for c in ("lan", "rov", "tek", "mir", "dun", "sal", "vok", "ben")
    ]
)
WEIGHTS = [1 / rank for rank in range(1, len(VOCABULARY) + 1)]


def build_archive(path: Path, citations: int, per_article: int, seed: int) -> None:
    """Generated articles of ``per_article`` citations each, saved as ``archive`` saves them."""
    rng = random.Random(seed)
    db = open_db(path)
    for number in range(citations // per_article):
        cited = []
        for position in range(1, per_article + 1):
            words = rng.choices(VOCABULARY, WEIGHTS, k=20)
            claim = " ".join(words) + "."
            anchor = " ".join(words[3:5])
            context = claim + " " + " ".join(rng.choices(VOCABULARY, WEIGHTS, k=40)) + "."
            start = claim.index(anchor)
            url = f"https://news{rng.randrange(200)}.example/{number}/{position}"
            cited.append(
                Citation(
                    position,
                    anchor,
                    url,
                    url,
                    "http",
                    claim,
                    context,
                    position,
                    start,
                    start + len(anchor),
                )
            )
        save_article(
            db,
            Article(
                source_key=f"bench:{number}",
                url=None,
                path=None,
                title=f"Article {number}",
                author=f"Author {number % 37}",
                publisher=f"Publisher {number % 11}",
                published="2018-03-29",
                text="\n\n".join(c.context for c in cited),
                citations=cited,
            ),
        )
    db.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    db_path: Path, port: int, plain: bool = False, code: Path | None = None
) -> subprocess.Popen[bytes]:
    """``archiver serve`` (or, with --plain, ``datasette serve`` as before issue 11).

    ``code``: serve with the ``archiver`` package and ``metadata.json`` found there instead (a
    ``git archive`` of an older commit), for a before/after comparison on one archive.
    """
    if plain:
        command = [
            sys.executable,
            "-m",
            "datasette",
            "serve",
            str(db_path),
            "--port",
            str(port),
            "--metadata",
            str(REPO / "metadata.json"),
        ]
    else:
        command = [
            sys.executable,
            "-m",
            "archiver",
            "serve",
            "--db",
            str(db_path),
            "--port",
            str(port),
        ]
    if code is not None:  # run from there: ``-m`` puts the current folder first on the path
        command += ["--metadata", str(code / "metadata.json")]
    server = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=code
    )
    deadline = time.monotonic() + 600  # a large archive's schema is brought up to date first
    while time.monotonic() < deadline and server.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/versions.json", timeout=1).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start")


#: One request's time in seconds and HTTP status (0: no answer).
Timing = tuple[float, int]


def timed_gets(
    clients: int, requests: int, target: Callable[[int, int], tuple[str, str]]
) -> dict[str, list[Timing]]:
    """``clients`` threads at once, each making ``requests`` GETs one after the other:
    ``target(client, index)`` gives each one's kind and URL. Timings per kind."""
    timings: dict[str, list[Timing]] = defaultdict(list)
    lock = threading.Lock()

    def client(number: int) -> None:
        for index in range(requests):
            kind, url = target(number, index)
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    response.read()
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                status = 0
            with lock:
                timings[kind].append((time.perf_counter() - started, status))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=1800)
    return timings


def run_clients(base: str, clients: int, requests: int, seed: int) -> dict[str, list[Timing]]:
    """Each client alternates a table search and a canned search, words drawn at random."""
    draws = [random.Random(seed + number) for number in range(clients)]

    def search(number: int, index: int) -> tuple[str, str]:
        word = draws[number].choice(VOCABULARY)  # common and rare words alike
        if index % 2:
            query = urllib.parse.urlencode({"q": word})
            return "search_claims", f"{base}/search_claims?{query}"
        return "_search", f"{base}/citations?" + urllib.parse.urlencode({"_search": word})

    return timed_gets(clients, requests, search)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citations", type=int, default=50_000)
    parser.add_argument("--per-article", type=int, default=100)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=20, help="per client")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path, help="reuse (or build once into) this archive")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="plain `datasette serve --metadata metadata.json`, as before issue 11",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = args.db or Path(tmp) / "citations.db"
        if not db_path.exists():
            started = time.perf_counter()
            build_archive(db_path, args.citations, args.per_article, args.seed)
            print(f"built {args.citations:,} citations in {time.perf_counter() - started:.1f} s")
        port = free_port()
        server = start_server(db_path, port, args.plain)
        try:
            base = f"http://127.0.0.1:{port}/{db_path.stem}"
            run_clients(base, 2, 2, args.seed)  # warm the page cache and the connections
            started = time.perf_counter()
            timings = run_clients(base, args.clients, args.requests, args.seed)
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"{args.clients} clients x {args.requests} requests in {wall:.1f} s")
    errors = 0
    for kind in ("_search", "search_claims"):
        values = [seconds for seconds, status in timings[kind] if status == 200]
        errors += len(timings[kind]) - len(values)
        if values:
            print(
                f"{kind:14} n={len(values):4} p50={statistics.median(values):.3f} s "
                f"p95={percentile(values, 0.95):.3f} s max={max(values):.3f} s"
            )
    print(f"errors: {errors}")


if __name__ == "__main__":
    main()
