"""The ``archiver`` command: thin click wrappers around the library functions."""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlite_utils import Database

from archiver import __version__
from archiver.archive import fetch_summary, ingest_sources
from archiver.db import DEFAULT_DB, open_db
from archiver.fetch import FetchConfig
from archiver.pipeline import RunStats, UrlResult, archive_urls, frontier

DEFAULT_WARC_DIR = Path("db/warc")
METADATA_CANDIDATES = (Path("metadata.json"), Path(__file__).resolve().parent / "metadata.json")


def db_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_DB,
        show_default=True,
        help="SQLite database of the archive.",
    )(fn)


def warc_dir_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--warc-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_WARC_DIR,
        show_default=True,
        help="Directory for raw WARC captures.",
    )(fn)


def output_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout."),
            click.option("--silent", is_flag=True, help="No progress or summary on stderr."),
            click.option(
                "-v", "--verbose", count=True, help="More logging on stderr (-vv: debug)."
            ),
        ]
    ):
        fn = option(fn)
    return fn


def fetch_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The fetch options shared by every command that fetches, turned into one FetchConfig."""
    defaults = FetchConfig()

    @functools.wraps(fn)
    def wrapper(
        *args: Any,
        allow_private_addresses: bool,
        delay: float,
        concurrency: int,
        timeout: float,
        max_bytes: int,
        ignore_robots: bool,
        user_agent: str | None,
        contact: str | None,
        **kwargs: Any,
    ) -> Any:
        config = FetchConfig(
            allow_private_addresses=allow_private_addresses,
            delay=delay,
            concurrency=concurrency,
            timeout=timeout,
            connect_timeout=min(defaults.connect_timeout, timeout),
            read_timeout=min(defaults.read_timeout, timeout),
            max_bytes=max_bytes,
            ignore_robots=ignore_robots,
            user_agent=user_agent,
            contact=contact,
        )
        return fn(*args, fetch_config=config, **kwargs)

    options = [
        click.option(
            "--allow-private-addresses",
            is_flag=True,
            help="Also fetch loopback and private-network hosts (refused by default, so the "
            "archiver cannot be turned against a private network).",
        ),
        click.option(
            "--delay",
            type=click.FloatRange(min=0),
            default=defaults.delay,
            show_default=True,
            help="Seconds between two requests to one host.",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(min=1, max=256),
            default=defaults.concurrency,
            show_default=True,
            help="Hosts fetched in parallel (one request in flight per host).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.1),
            default=defaults.timeout,
            show_default=True,
            help="Seconds for one whole response, body included.",
        ),
        click.option(
            "--max-bytes",
            type=click.IntRange(min=1),
            default=defaults.max_bytes,
            show_default=True,
            help="Largest body kept, counted after decompression.",
        ),
        click.option("--ignore-robots", is_flag=True, help="Fetch what robots.txt disallows."),
        click.option("--user-agent", help="User-Agent (default: citation-archiver/VERSION)."),
        click.option("--contact", help="URL or e-mail for site owners, added to the User-Agent."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _setup_logging(verbose: int) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archiver")
def cli() -> None:
    """An annotated citation archive: claims, captured sources and evidence, in SQLite."""


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@db_option
@warc_dir_option
@fetch_options
@click.option("--refresh", is_flag=True, help="Re-fetch captured URLs too (conditional GET).")
@output_options
def archive(
    sources: tuple[str, ...],
    db_path: Path,
    warc_dir: Path,
    fetch_config: FetchConfig,
    refresh: bool,
    as_json: bool,
    silent: bool,
    verbose: int,
) -> None:
    """Archive articles: citations and claims, then every cited page (WARC + text).

    SOURCE is a Markdown file (.md, .markdown, .txt), an HTML file (.html, .htm), an http(s)
    URL, or - for standard input. Cited URLs already captured are skipped, failed ones are
    tried again; rerunning adds nothing twice.

    \b
    Example:
        archiver archive examples/china-russia-central-asia.md
    """
    _setup_logging(verbose)
    console = Console(stderr=True, quiet=silent)
    db = open_db(db_path)
    try:
        report = ingest_sources(
            db,
            sources,
            stdin=sys.stdin.buffer,
            fetch_config=fetch_config,
            on_error=lambda source, error: click.echo(f"Error: {error.message}", err=True),
        )
        _print_summary(console, report.articles, db_path)
        stats = _fetch_with_progress(
            db, report.article_ids, fetch_config, warc_dir, refresh, console
        )
    except KeyboardInterrupt:
        _interrupted("nothing was half-written")
    if as_json:
        summary = {"db": str(db_path), "articles": report.articles, "errors": report.errors}
        click.echo(json.dumps(summary | {"fetch": fetch_summary(stats)}, indent=2))
    if stats.interrupted:
        _interrupted(f"{stats.done} of {stats.urls} cited URLs saved")
    if report.errors:
        sys.exit(2 if report.usage_error else 1)


def _interrupted(progress: str) -> NoReturn:
    """Ctrl-C: say what is kept and how to go on, then leave without waiting for workers."""
    click.echo(f"Interrupted: {progress}; rerun the same command to finish.", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)  # worker threads may sit in a fetch for up to --timeout: do not wait


def _fetch_with_progress(
    db: Database,
    article_ids: list[int],
    config: FetchConfig,
    warc_dir: Path,
    refresh: bool,
    console: Console,
) -> RunStats:
    """Fetch the cited pages with a progress bar (counts per outcome), then a summary table."""
    jobs = frontier(db, article_ids=article_ids, refresh=refresh)
    if not jobs:
        return RunStats()
    with Progress(
        TextColumn("Fetching"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[outcomes]}"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("fetch", total=len(jobs), outcomes="")

        def advance(result: UrlResult, stats: RunStats) -> None:
            counts = " ".join(f"{k}={v}" for k, v in sorted(stats.outcomes.items()))
            progress.update(task, completed=stats.done, outcomes=counts)

        stats = archive_urls(db, jobs, config=config, warc_dir=warc_dir, on_result=advance)
    table = Table(title="Cited pages", title_justify="left")
    table.add_column("outcome")
    table.add_column("URLs", justify="right")
    for outcome, count in sorted(stats.outcomes.items(), key=lambda item: -item[1]):
        table.add_row(outcome, str(count))
    if stats.unchanged:
        table.add_row("(of which unchanged)", str(stats.unchanged))
    console.print(table)
    for error in stats.errors:
        console.print(f"[red]internal error[/] {error}")
    return stats


def _print_summary(console: Console, results: list[dict[str, Any]], db_path: Path) -> None:
    """One line per article: what it is and what was found in it."""
    for row in results:
        origin = ", ".join(filter(None, [row["author"], row["publisher"], row["published"]]))
        console.print(
            f"[bold]Article {row['article_id']}[/]: {row['title'] or row['source']}"
            + (f" ({origin})" if origin else ""),
            soft_wrap=True,
        )
        console.print(
            f"  {row['citations']} citations, {row['unresolved']} unresolved, "
            f"{row['urls']} unique URLs -> {db_path}",
            soft_wrap=True,
        )


@cli.command()
@db_option
@click.option("--port", type=int, default=8001, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--metadata",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Datasette metadata (default: ./metadata.json, else the one shipped with archiver).",
)
def serve(db_path: Path, port: int, metadata: Path | None) -> None:
    """Publish the archive with Datasette on 127.0.0.1, read-only, with full-text search.

    \b
    Example:
        archiver serve --port 8001
    """
    if not db_path.exists():
        raise click.UsageError(f"{db_path}: no archive yet; run 'archiver archive SOURCE' first")
    metadata = metadata or next((p for p in METADATA_CANDIDATES if p.exists()), None)
    command = [sys.executable, "-m", "datasette", "serve", str(db_path), "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    if metadata is not None:
        command += ["--metadata", str(metadata)]
    click.echo(f"Serving {db_path} at http://127.0.0.1:{port}/ (Ctrl-C to stop)", err=True)
    try:
        sys.exit(subprocess.call(command))
    except KeyboardInterrupt:
        sys.exit(0)
