"""``archiver check`` and ``archiver report`` on the scale bench's large archives (issue 14).

Takes the archives ``scale_bench.py`` builds (10k/100k/1M citations; 20% as many sources, on 997
sites ``https://siteK.example``), makes a copy of each whose URLs point at a loopback web, runs
the real ``archiver check`` on it as a subprocess and samples its memory, then times ``archiver
report`` on the checked archive.

The loopback web: ``https://siteK.example/page/N`` becomes ``http://127.1.A.B:PORT/page/N``, one
loopback address per site (the fetcher groups and throttles by host, and the names do not
resolve here), in every ``url``/``final_url`` column; the FTS trigger of ``citations`` is left
out of that update, since the claims do not change. One asyncio server in another process
listens on the 997 addresses and answers: ``robots.txt`` allows all; a page whose number ends in
0 is 404 (the tenth the scale bench made fail, so it goes on failing); one in a hundred is a
200 page with new text (the check extracts it and keeps a capture); the rest are 304 (unchanged,
as a conditional GET of a live page mostly is); made-up paths (the soft-404 probe) are 404.
The copy's schema is brought up to date once, untimed; each run checks a fresh copy of it.

    .venv/bin/python bench/scale_bench.py --sizes 10000 100000 1000000 --dir /tmp/scale
    .venv/bin/python bench/check_scale_bench.py --sizes 10000 100000 --scale-dir /tmp/scale \
        --work-dir /tmp/check-scale
    .venv/bin/python bench/check_scale_bench.py --sizes 1000000 --scale-dir /tmp/scale \
        --work-dir /tmp/check-scale --minutes 10   # Ctrl-C after 10 min: what was saved stays

``--src DIR`` runs the archiver from another copy of the package (``git archive HEAD archiver |
tar -x -C DIR`` gives the last commit's), for before/after figures. Results: one JSON line per
size on stdout and in bench/results/check-scale.json. See bench/README.md, "Check and report
at scale".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from archive_bench import TreeMemory, cpu_s, status_kb

from archiver.store import open_db

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SITES = 997
SITE_URL = re.compile(r"^https://site(\d+)\.example(?=/)")
ROBOTS = b"User-agent: *\nAllow: /\n"
NEW_TEXT = (
    "<html><head><title>Page {n}, rewritten</title></head><body><article><h1>Page {n}</h1>"
    + "".join(
        f"<p>Paragraph {i} of the new version: the minister said that the railway to the port "
        f"would carry {i * 7} thousand containers a year once the loans were repaid.</p>"
        for i in range(12)
    )
    + "</article></body></html>"
)


def site_address(site: int) -> str:
    """Site K's loopback address: 127.1.0.1 .. 127.1.4.197 for the 997 sites."""
    return f"127.1.{site // 200}.{site % 200 + 1}"


# -- the archive ---------------------------------------------------------------------------------
def prepare(scale_db: Path, work: Path, port: int) -> Path:
    """A copy of the scale archive whose URLs point at the loopback web (made once, reused)."""
    base = work / f"base-{port}.db"
    if base.exists():
        return base
    work.mkdir(parents=True, exist_ok=True)
    building = work / "building.db"
    began = time.perf_counter()
    copy_db(scale_db, building)
    conn = sqlite3.connect(building)

    def loopback(url: str | None) -> str | None:
        if url is None:
            return None
        return SITE_URL.sub(lambda m: f"http://{site_address(int(m[1]))}:{port}", url)

    conn.create_function("loopback", 1, loopback, deterministic=True)
    (trigger,) = conn.execute(
        "select sql from sqlite_master where type = 'trigger' and name = 'citations_au'"
    ).fetchone()
    with conn:
        conn.execute("drop trigger citations_au")  # the claims stay: so does their FTS index
        tables = conn.execute("select name from sqlite_master where type = 'table'").fetchall()
        for (table,) in tables:
            columns = {row[1] for row in conn.execute(f"pragma table_info([{table}])")}
            for column in sorted(columns & {"url", "final_url"}):
                conn.execute(f"update [{table}] set [{column}] = loopback([{column}])")
        conn.execute(trigger)
    conn.close()
    building.rename(base)
    print(f"{base}: URLs rewritten in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return base


def migrate(db: Path) -> None:
    """Bring the copy's schema up to date first: a migration is a one-time cost, not the
    check's (the last commit's code reads a newer schema as well)."""
    began = time.perf_counter()
    open_db(db).close()
    if time.perf_counter() - began > 1:
        print(f"{db}: migrated in {time.perf_counter() - began:.0f} s", file=sys.stderr)


def copy_db(source: Path, target: Path) -> None:
    """A consistent copy, whatever its WAL holds (SQLite's backup API)."""
    target.unlink(missing_ok=True)
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    dst.close()
    src.close()


# -- the loopback web ----------------------------------------------------------------------------
def answer(path: str) -> tuple[int, bytes]:
    if path == "/robots.txt":
        return 200, ROBOTS
    found = re.fullmatch(r"/page/(\d+)", path)
    if found is None:
        return 404, b"<html><body>Not Found</body></html>"
    number = int(found[1])
    if number % 10 == 0:
        return 404, b"<html><body>Not Found</body></html>"
    if number % 100 == 1:
        return 200, NEW_TEXT.format(n=number).encode()
    return 304, b""


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counts: Any) -> None:
    """HTTP/1.1 with keep-alive, just enough for the fetcher."""
    try:
        while True:
            request = await reader.readline()
            if not request:
                break
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            path = request.split(b" ")[1].decode().split("?", 1)[0]
            status, body = answer(path)
            with counts.get_lock():
                if counts[0] == 0:
                    counts[1] = time.time()
                counts[0] += 1
            head = f"HTTP/1.1 {status} X\r\nContent-Type: text/html; charset=utf-8\r\n"
            head += f"Content-Length: {len(body)}\r\n\r\n" if status != 304 else "\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
    except (ConnectionError, IndexError, UnicodeDecodeError):
        pass
    finally:
        writer.close()


def serve(port: int, ready: Any, stop: Any, counts: Any) -> None:
    """Server process: listens on every site's address until ``stop`` (or an hour) passes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65_536)), hard))

    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: handle(r, w, counts),
            host=[site_address(k) for k in range(SITES)],
            port=port,
            backlog=64,
        )
        ready.set()
        async with server:
            await asyncio.get_running_loop().run_in_executor(None, stop.wait, 3600)

    asyncio.run(main())


# -- the runs ------------------------------------------------------------------------------------
def archiver_command(src: Path | None, *args: str) -> tuple[list[str], dict[str, str]]:
    """``python -m archiver ARGS``, from ``src`` if given (run it outside the repo, whose folder
    would come first on ``sys.path``)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return [sys.executable, "-m", "archiver", *args], env


def run_check(db: Path, args: argparse.Namespace, counts: Any) -> dict[str, Any]:
    """The check as a subprocess, its tree's memory sampled; Ctrl-C after ``--minutes``."""
    warc = db.parent / "warc"
    shutil.rmtree(warc, ignore_errors=True)
    command, env = archiver_command(
        args.src,
        "check",
        "--db",
        str(db),
        "--warc-dir",
        str(warc),
        "--allow-private-addresses",
        "--delay",
        "0",
        "--concurrency",
        str(args.concurrency),
        "--timeout",
        "10",
        "--json",
        "--silent",
    )
    children = cpu_s(resource.RUSAGE_CHILDREN)
    started = time.time()
    child = subprocess.Popen(
        command,
        cwd=db.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    memory = TreeMemory(child.pid)
    memory.start()
    timeline: list[tuple[int, int]] = []  # (seconds, main process RSS MB), every 15 s
    done = threading.Event()

    def every_15_s() -> None:
        while not done.wait(15):
            timeline.append((round(time.time() - started), status_kb(child.pid, "VmRSS") // 1024))

    threading.Thread(target=every_15_s, daemon=True).start()
    try:
        out, err = child.communicate(timeout=args.minutes * 60 if args.minutes else None)
    except subprocess.TimeoutExpired:
        os.kill(child.pid, signal.SIGINT)  # as Ctrl-C: the run stops and keeps what it saved
        try:
            out, err = child.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)  # the session we started
            out, err = child.communicate(timeout=30)
    wall = time.time() - started
    done.set()
    memory.done.set()
    memory.join(timeout=5)
    try:
        summary = json.loads(out)
    except ValueError:
        summary = {"error": err.decode(errors="replace")[-2000:]}
    return {
        "exit_code": child.returncode,
        "urls": summary.get("urls"),
        "done": summary.get("done"),
        "outcomes": summary.get("outcomes", summary.get("error")),
        "captured": summary.get("captured"),
        "interrupted": summary.get("interrupted"),
        "wall_s": round(wall),
        "first_request_s": round(counts[1] - started, 1) if counts[0] else None,
        "requests": counts[0],
        "urls_per_s": round((summary.get("done") or 0) / wall),
        "cpu_s": round(cpu_s(resource.RUSAGE_CHILDREN) - children),
        "peak_rss_main_mb": memory.hwm_kb.get(child.pid, 0) // 1024,
        "peak_rss_tree_sampled_mb": memory.peak_sum_kb // 1024,
        "rss_main_mb_every_15_s": timeline,
    }


def run_report(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    output = db.parent / "report.html"
    command, env = archiver_command(args.src, "report", "--db", str(db), "--output", str(output))
    began = time.perf_counter()
    child = subprocess.Popen(command, cwd=db.parent, env=env, stderr=subprocess.PIPE)
    memory = TreeMemory(child.pid)
    memory.start()
    _, err = child.communicate(timeout=1800)
    seconds = time.perf_counter() - began
    memory.done.set()
    memory.join(timeout=5)
    return {
        "report_exit_code": child.returncode,
        "report_s": round(seconds, 1),
        "report_peak_rss_mb": memory.hwm_kb.get(child.pid, 0) // 1024,
        "report_mb": round(output.stat().st_size / 1e6, 1) if output.exists() else None,
        "report_error": err.decode(errors="replace")[-500:] if child.returncode else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--scale-dir", type=Path, required=True, help="scale_bench.py's --dir")
    parser.add_argument("--work-dir", type=Path, required=True, help="copies and WARCs go here")
    parser.add_argument("--port", type=int, default=18_997)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=0, help="stop a check after this long")
    parser.add_argument("--src", type=Path, help="run the archiver package found in this folder")
    parser.add_argument("--no-check", action="store_true", help="time the report only")
    parser.add_argument("--label", default="check-scale")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("fork")
    ready, stop, counts = ctx.Event(), ctx.Event(), ctx.Array("d", 2)
    server = ctx.Process(target=serve, args=(args.port, ready, stop, counts), daemon=True)
    server.start()
    if not ready.wait(60):
        raise SystemExit("the loopback web did not start")
    results = []
    try:
        for size in args.sizes:
            work = args.work_dir / str(size)
            base = prepare(args.scale_dir / str(size) / "citations.db", work, args.port)
            migrate(base)
            db = work / "run.db"
            copy_db(base, db)
            counts[0] = counts[1] = 0
            result: dict[str, Any] = {"citations": size, "src": str(args.src or REPO)}
            if not args.no_check:
                result |= run_check(db, args, counts)
            result |= run_report(db, args)
            print(json.dumps(result), flush=True)
            results.append(result)
    finally:
        stop.set()
        server.join(timeout=10)
        if server.is_alive():
            server.kill()
    out = BENCH_DIR / "results" / f"{args.label}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
