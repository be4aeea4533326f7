"""How a large archive serves: build one at several sizes, time the Datasette pages (issue 14).

Builds each archive with the project's own code, as a run writes it: generated Markdown
articles of ``--per-article`` citations go through ``build_article`` and ``save_article``; then,
500 URLs at a time, what an archive run saves (``save_url_rows`` with ``archiver.rows``
dataclasses: a capture, the source's text and each citing claim's evidence) and three rounds of
what a check run saves (one check per URL; the failing tenth fails on three days, so it is dead).
Then opens it with ``open_db`` (an archive built by older code gets its migrations: timed),
starts ``archiver serve`` on it (``search_bench.start_server``: a real server on 127.0.0.1) and
times each page at 1 and at 8 clients (``search_bench.timed_gets``): ``--repeat`` requests per
client after one untimed one, p50/p95/p99 with the statuses (Datasette answers 400 when a query
passes its 1 s limit). With ``--before``, an older commit serves a copy of the archive as it was
built beside it, and each page is timed on both, one right after the other. Prints one JSON line
per page and each server's peak memory.

    .venv/bin/python bench/scale_bench.py --sizes 10000 100000 --dir /tmp/scale
    .venv/bin/python bench/scale_bench.py --sizes 100000 --dir /tmp/scale --plan  # reuse, plans
    git archive OLD | tar -x -C /tmp/old  # before/after: a copy of the archive, served by OLD
    .venv/bin/python bench/scale_bench.py --sizes 100000 --dir /tmp/scale --before /tmp/old /tmp/b
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import statistics
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from datasette.utils import escape_fts
from search_bench import Timing, free_port, percentile, start_server, timed_gets

from archiver.evidence.find import Evidence
from archiver.ingest.article import build_article
from archiver.rows import CaptureRow, CheckRow, SourceText, UrlRows
from archiver.store import open_db, save_article, save_url_rows

REPO = Path(__file__).resolve().parents[1]
#: Frequent words first: word k is drawn with weight 1/k (Zipf), so "the" is in most claims,
#: "gas" in a few per cent, and "Central Asia" is a phrase of some.
WORDS = (
    "the of and to in a that is for on with as by it from at gas trade pipeline border "
    "security loan debt bank investment railway port election army summit sanctions tariff "
    "oil grain water drought protest court minister treaty market export import energy"
).split() + [f"{a}{b}{c}" for a in "bdgkmprst" for b in "aeiou" for c in ("lan", "rov", "tek")]
WEIGHTS = [1 / rank for rank in range(1, len(WORDS) + 1)]
PLACES = ["Central Asia", "China", "Russia", "Kazakhstan", "Moscow", "Beijing"]
BATCH = 500
#: Words searched, from one in a thousand claims to all of them (share of 1M citations).
SEARCHES = ["tutek sutek barov", "central asia", "gas", "the"]  # 0.1%, 8%, 51%, 100%
#: (path, query string) per page: the table and views people browse, searches, each canned
#: query of metadata.json with a typical parameter, and the other tables' pages.
PAGES = (
    [("citations", "")]
    + [("citations", urllib.parse.urlencode({"_search": words})) for words in SEARCHES]
    + [("search_claims", urllib.parse.urlencode({"q": words})) for words in SEARCHES]
    + [
        ("", ""),
        ("citations_view", ""),
        ("evidence_view", ""),
        ("unsupported_citations", ""),
        ("article_citations", "article_id=1"),
        ("unresolved_citations", ""),
        ("dead_links", ""),
        ("drifted_sources", ""),
        ("blocked_links", ""),
        ("never_archived", ""),
        ("check_history", "url=https%3A%2F%2Fsite1.example%2Fpage%2F1"),
        ("link_health", ""),
        ("sources", ""),
        ("captures", ""),
        ("checks", ""),
        ("evidence", ""),
    ]
)
#: Clients at once, each making --repeat requests of a page one after the other.
CLIENTS = (1, 8)


def sentence(rng: random.Random, url: str) -> str:
    """One claim of about 15 words carrying a link to ``url``."""
    words = rng.choices(WORDS, WEIGHTS, k=14)
    if rng.random() < 0.1:
        words.insert(rng.randrange(len(words)), rng.choice(PLACES))
    cut = rng.randrange(4, 10)
    anchor = " ".join(words[cut : cut + 3])
    text = " ".join(words[:cut]) + f" [{anchor}]({url}) " + " ".join(words[cut + 3 :])
    return text[0].upper() + text[1:] + "."


def source_url(number: int) -> str:
    return f"https://site{number % 997}.example/page/{number}"


def build(path: Path, citations: int, sources: int, per_article: int, seed: int) -> None:
    """The archive: articles and citations first, then captures, sources, evidence and checks."""
    rng = random.Random(seed)
    db = open_db(path)
    for number in range(citations // per_article):
        links = [
            "#" if rng.random() < 0.02 else source_url(rng.randrange(sources))
            for _ in range(per_article)
        ]
        paragraphs = [
            " ".join(sentence(rng, url) for url in links[start : start + 5])
            for start in range(0, per_article, 5)
        ]
        markdown = f"# Article {number}\n\nBy Author {number % 37}\n\n" + "\n\n".join(paragraphs)
        article = build_article(markdown.encode(), "markdown", source_key=f"bench:{number}")
        save_article(db, article)
    urls = [row[0] for row in db.execute("select distinct url from citations where url not null")]
    started = datetime(2026, 1, 1, tzinfo=UTC)
    for start in range(0, len(urls), BATCH):
        chunk = urls[start : start + BATCH]
        save_url_rows(db, [captured(db, url, rng, started) for url in chunk], now=started)
    for day in (10, 12, 14):
        moment = started + timedelta(days=day)
        for start in range(0, len(urls), BATCH):
            chunk = urls[start : start + BATCH]
            rows = [checked(url, moment) for url in chunk if day == 10 or failing(url)]
            save_url_rows(db, rows, now=moment)
    db.close()


def failing(url: str) -> bool:
    return int(url.rsplit("/", 1)[1]) % 10 == 0


def captured(db: Any, url: str, rng: random.Random, moment: datetime) -> UrlRows:
    """What an archive run saves for one URL: a good capture, its text, its claims' evidence."""
    text = " ".join(rng.choices(WORDS, WEIGHTS, k=400))
    claims = db.execute("select id, claim from citations where url = ?", [url]).fetchall()
    evidence = [
        (
            citation_id,
            Evidence(
                label=rng.choice(("supported", "partial", "not_found")),
                passage=text[:300],
                score=round(rng.random(), 3),
                passage_html=f"<mark>{text[:300]}</mark>",
                claim_html=f"<mark>{claim}</mark>",
            ),
        )
        for citation_id, claim in claims
    ]
    return UrlRows(
        url=url,
        outcome="ok",
        capture=CaptureRow(
            url=url,
            captured_at=moment.isoformat(),
            outcome="ok",
            status_code=200,
            final_url=url,
            content_type="text/html",
            content_length=len(text) * 3,
            payload_sha256=f"{hash(url):x}",
            warc_path="warc/bench.warc.gz",
            warc_offset=0,
        ),
        source=SourceText(
            title=f"Page {url}", sitename=url.split("/")[2], language="en", text=text
        ),
        evidence=evidence,
    )


def checked(url: str, moment: datetime) -> UrlRows:
    """What a check run saves for one URL: alive and unchanged, or (a tenth) gone."""
    if failing(url):
        check = CheckRow(
            url=url, checked_at=moment.isoformat(), outcome="not_found", status_code=404
        )
        return UrlRows(url=url, outcome="not_found", check=check)
    check = CheckRow(
        url=url,
        checked_at=moment.isoformat(),
        outcome="ok",
        status_code=200,
        similarity=1.0,
        drift="unchanged",
    )
    return UrlRows(url=url, outcome="ok", check=check)


def time_pages(servers: dict[str, tuple[Path, Path | None]], repeat: int) -> list[dict[str, Any]]:
    """p50/p95/p99 of each page at 1 and at 8 clients on each server, named and given as
    (archive, code: see ``start_server``): page by page, one server right after the other, so
    that both see the same load from the rest of the machine."""
    started = {}
    try:
        for name, (db_path, code) in servers.items():
            port = free_port()
            base = f"http://127.0.0.1:{port}/{db_path.stem}"
            started[name] = (start_server(db_path, port, code=code), base)
        results = []
        for page, query in PAGES:
            path = (f"/{page}" if page else "") + (f"?{query}" if query else "")
            result: dict[str, Any] = {"page": path}
            load = os.getloadavg()[0]
            for name, (_, base) in started.items():
                url = base + path
                timed_gets(1, 1, lambda _client, _index, url=url: ("warm", url))
                result[name] = {
                    str(clients): summary(
                        timed_gets(clients, repeat, lambda _c, _i, url=url: ("page", url))["page"]
                    )
                    for clients in CLIENTS
                }
            result["load"] = round((load + os.getloadavg()[0]) / 2, 1)
            results.append(result)
            print(json.dumps(result), flush=True)
        for name, (server, _) in started.items():
            db_path = servers[name][0]
            print(
                f"{name}: server peak memory {peak_memory_mb(server.pid)} MB, archive at "
                f"{last_migration(db_path)}",  # the older code's copy must be left as it was
                flush=True,
            )
    finally:
        for server, _ in started.values():
            server.terminate()
            server.wait(timeout=30)
    return results


def summary(timings: list[Timing]) -> dict[str, Any]:
    """p50/p95/p99 in ms, how many requests, and the HTTP statuses seen."""
    seconds = [elapsed for elapsed, _ in timings]
    return {
        "p50_ms": round(statistics.median(seconds) * 1000),
        "p95_ms": round(percentile(seconds, 0.95) * 1000),
        "p99_ms": round(percentile(seconds, 0.99) * 1000),
        "n": len(seconds),
        "status": sorted({status for _, status in timings}),
    }


def last_migration(db_path: Path) -> str:
    """The name of the last migration applied to the archive."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return str(db.execute("select max(name) from _sqlite_migrations").fetchone()[0])
    finally:
        db.close()


def peak_memory_mb(pid: int) -> int:
    """The process's peak resident memory (Linux), in MB."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) // 1024


def plans(db_path: Path, code: Path | None) -> None:
    """Time in SQLite alone and EXPLAIN QUERY PLAN of the canned queries and view pages, as the
    metadata.json of ``code`` (default: this checkout) has them; the archive is only read."""
    metadata_path = (code or REPO) / "metadata.json"
    queries = json.loads(metadata_path.read_text(encoding="utf-8"))["databases"]["citations"]
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    db.create_function("escape_fts", 1, escape_fts)  # Datasette's, which search_claims uses
    sqls = {name: query["sql"] for name, query in queries["queries"].items()}
    sqls |= {
        view: f"select * from {view} limit 101" for view in ("citations_view", "evidence_view")
    }
    params = {"q": "gas", "article_id": 1, "url": source_url(1)}
    # A table or view page also counts its rows and runs its facets; for a view that is the
    # whole view.
    for view in ("citations", "citations_view", "evidence_view"):
        sqls[f"count of {view}"] = f"select count(*) from {view}"
    sqls["facet link_status of citations_view"] = (
        "select link_status, count(*) from citations_view group by link_status"
    )
    for name, sql in sqls.items():
        began = time.perf_counter()
        db.execute(sql, params).fetchmany(1001)  # Datasette reads no more
        print(f"-- {name}: {(time.perf_counter() - began) * 1000:.0f} ms in SQLite alone")
        for row in db.execute(f"explain query plan {sql}", params):
            print(f"   {row[0]:>4} {row[1]:>4} {row[3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--sources-per-citation", type=float, default=0.2)
    parser.add_argument("--per-article", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=20, help="requests per client and page")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, required=True, help="archives are kept here, reused")
    parser.add_argument("--plan", action="store_true", help="print the query plans too")
    parser.add_argument(
        "--before",
        nargs=2,
        type=Path,
        metavar=("CODE", "DIR"),
        help="also serve DIR's archive of each size as it is, with the archiver and "
        "metadata.json in CODE (a `git archive` of an older commit), and time both",
    )
    parser.add_argument("--out", type=Path, help="write the page timings here (JSON)")
    args = parser.parse_args()
    everything = {}
    for size in args.sizes:
        db_path = args.dir / str(size) / "citations.db"
        if not db_path.exists():
            db_path.parent.mkdir(parents=True, exist_ok=True)
            began = time.perf_counter()
            building = db_path.with_name("building.db")  # a killed build is not reused
            building.unlink(missing_ok=True)
            build(
                building, size, int(size * args.sources_per_citation), args.per_article, args.seed
            )
            building.rename(db_path)
            print(
                f"{size:,} citations: built in {time.perf_counter() - began:.0f} s, peak memory "
                f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB",
                flush=True,
            )
        began = time.perf_counter()
        open_db(db_path).close()  # an archive built by older code is upgraded here
        print(f"{size:,} citations: opened in {time.perf_counter() - began:.1f} s", flush=True)
        print(f"{size:,} citations: {db_path.stat().st_size / 1e6:.0f} MB", flush=True)
        servers: dict[str, tuple[Path, Path | None]] = {}
        if args.before:
            code, folder = args.before
            servers["before"] = (folder / str(size) / "citations.db", code)
        servers["after"] = (db_path, None)
        everything[size] = time_pages(servers, args.repeat)
        if args.plan:
            for db, code in servers.values():
                plans(db, code)
    if args.out:
        args.out.write_text(json.dumps(everything, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
