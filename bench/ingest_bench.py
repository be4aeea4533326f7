"""Ingest benchmark: how time, memory and database size grow with the article.

Each case writes a generated Markdown article, then ingests it (read, parse, find claims, save
to a new SQLite archive; nothing is fetched) in a fresh child process, which reports its wall
time and peak RSS. The same child first parses the file with bare markdown-it-py, the floor that
any Markdown ingest pays, so the ratio compares like with like on a noisy machine.

    .venv/bin/python bench/ingest_bench.py                 # every case
    .venv/bin/python bench/ingest_bench.py --case links    # one case

See bench/README.md ("Ingest") for the figures and what they mean.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = (
    "the ministry said exports rose by a third in 2019 while imports fell as officials noted in "
    "a report on trade growth across the region and its neighbours over the past decade"
).split()

#: name -> (paragraphs, sentences per paragraph, links per paragraph)
CASES = {
    # about 19 MB: just under the 20 MB cap of one article, one link per paragraph
    "big": (24_000, 8, 1),
    # 50,000 links, ten to a paragraph
    "links": (5_000, 10, 10),
    # one 400 KB paragraph holding 4,000 links (each citation's context was the whole paragraph)
    "long-paragraph": (1, 4_000, 4_000),
    # one 1 MB paragraph, a link every 2 KB
    "huge-paragraph": (1, 8_000, 500),
}


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(10, 25))]
    return " ".join(words).capitalize() + "."


def write_article(path: Path, paragraphs: int, sentences: int, links: int, seed: int) -> None:
    """Markdown with ``links`` links spread over each paragraph's sentences."""
    rng = random.Random(seed)
    number = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(
            "# A generated article\n\n*By A. Writer\nOriginally published by Bench, 1 May 2020*\n\n"
        )
        for _ in range(paragraphs):
            parts = [sentence(rng) for _ in range(sentences)]
            for k in range(links):
                at = k * len(parts) // links
                number += 1
                head, _, tail = parts[at].partition(" ")
                parts[at] = (
                    f"{head} [{tail[:20]}](https://site{number % 97}.example/{number}){tail[20:]}"
                )
            out.write(" ".join(parts) + "\n\n")


def child(article: Path, db: Path) -> None:
    """Runs in a fresh process: the markdown-it floor, then the real ingest; prints JSON."""
    from markdown_it import MarkdownIt

    from archiver.run.ingest import ingest_sources
    from archiver.store import open_db

    started = time.perf_counter()
    MarkdownIt("commonmark").parse(article.read_text(encoding="utf-8"))
    floor_s = time.perf_counter() - started
    started = time.perf_counter()
    report = ingest_sources(open_db(db), [str(article)])
    ingest_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "floor_markdown_it_s": round(floor_s, 2),
                "ingest_s": round(ingest_s, 2),
                "peak_rss_mb": round(peak_mb),
                "citations": report.articles[0]["citations"] if report.articles else 0,
                "errors": report.errors,
            }
        )
    )


def table_sizes(db: Path) -> dict[str, float]:
    """MB per table and index (SQLite's dbstat), largest first."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "select name, sum(pgsize) from dbstat group by name order by 2 desc limit 6"
        ).fetchall()
    return {name: round(size / 1e6, 1) for name, size in rows}


def run_case(name: str, seed: int) -> dict[str, object]:
    paragraphs, sentences, links = CASES[name]
    with tempfile.TemporaryDirectory() as folder:
        article, db = Path(folder) / f"{name}.md", Path(folder) / "citations.db"
        write_article(article, paragraphs, sentences, links, seed)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(article), str(db)],
            capture_output=True,
            text=True,
            timeout=1_800,
            check=True,
        )
        wall = time.perf_counter() - started
        figures: dict[str, object] = json.loads(done.stdout)
        size = article.stat().st_size
        db_size = sum(p.stat().st_size for p in Path(folder).glob("citations.db*"))
        figures |= {
            "case": name,
            "article_mb": round(size / 1e6, 1),
            "db_mb": round(db_size / 1e6, 1),
            "db_to_article": round(db_size / size, 1),
            "child_wall_s": round(wall, 2),
            "largest_mb": table_sizes(db),
        }
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("ARTICLE", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return
    for name in args.case or list(CASES):
        print(json.dumps(run_case(name, args.seed)), flush=True)


if __name__ == "__main__":
    main()
