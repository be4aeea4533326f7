"""The ``archiver`` command: thin click wrappers around the library functions."""

from __future__ import annotations

import errno
import functools
import json
import logging
import math
import os
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlite_utils import Database

from archiver import (
    FetchConfig,
    RevisitConfig,
    annotate,
    archive_urls,
    check_frontier,
    check_summary,
    check_urls,
    from_map,
    frontier,
    ingest_sources,
    label_counts,
    load_article,
    open_archive,
)
from archiver.errors import ArchiveBusy, ArticleError, NotAnArchive, StorageError
from archiver.ingest.claims import Citation
from archiver.publish.export import (
    DEFAULT_REPLAY_PREFIX,
    FORMATS,
    ExportError,
    export_text,
    write_wacz,
)
from archiver.recover.find_original import (
    DEFAULT_CANDIDATES,
    FindError,
    FindResult,
    find_original,
    site_prefix,
)
from archiver.recover.resolve import MapError, Match, from_copy
from archiver.recover.wayback import WAYBACK_MACHINE, Endpoints
from archiver.run.annotate import AnnotateStats
from archiver.run.check import parse_duration
from archiver.run.cluster import Cluster, ClusterUnavailable, cluster_executor
from archiver.run.engine import RunStats
from archiver.run.ingest import fetch_summary
from archiver.run.mementos import MementoRun, look_up_mementos
from archiver.run.memory import limit_arenas
from archiver.run.revisit import UrlResult
from archiver.store import (
    DEFAULT_DB,
    Resolution,
    article_citations,
    find_article,
    save_resolutions,
    stored_article_ids,
    write_lock,
)
from archiver.version import __version__

DEFAULT_WARC_DIR = Path("db/warc")
#: Longest delay, timeout or window in seconds an option accepts (a day): anything longer is a
#: typing mistake, and nan or inf would switch the limit off.
MAX_SECONDS = 86_400.0
WAYBACK_CDX_PATH = "/cdx/search/cdx"


class FiniteFloatRange(click.FloatRange):
    """A ``FloatRange`` that also refuses nan and inf: a ``--timeout nan`` never fires."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def _header_value(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A value sent in an HTTP header: printable ASCII only (a CR or LF would end the header)."""
    if value is not None and not all(" " <= char <= "~" for char in value):
        raise click.BadParameter(
            "must be printable ASCII, without line breaks or control characters "
            "(it is sent in the User-Agent header)"
        )
    return value


def db_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_DB,
        show_default=True,
        help="SQLite database of the archive (archive creates it, and its folder).",
    )(fn)


def warc_dir_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--warc-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_WARC_DIR,
        show_default=True,
        help="Directory for raw WARC captures (created if missing).",
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
            type=FiniteFloatRange(min=0, max=MAX_SECONDS),
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
            type=FiniteFloatRange(min=0.1, max=MAX_SECONDS),
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
        click.option(
            "--user-agent",
            callback=_header_value,
            help="User-Agent (default: citation-archiver/VERSION).",
        ),
        click.option(
            "--contact",
            callback=_header_value,
            help="URL or e-mail for site owners, added to the User-Agent.",
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def cluster_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--scheduler`` and ``--workers``, turned into one ``Cluster`` (None: this process)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, scheduler: str | None, workers: int | None, **kwargs: Any) -> Any:
        if scheduler is not None and workers is not None:
            raise click.UsageError(
                "--scheduler and --workers cannot be used together: --workers starts a cluster, "
                "--scheduler uses a running one."
            )
        cluster = None if scheduler is None and workers is None else Cluster(scheduler, workers)
        return fn(*args, cluster=cluster, **kwargs)

    options = [
        click.option(
            "--scheduler",
            metavar="ADDRESS",
            help="Fetch on the running Dask cluster whose scheduler is at ADDRESS "
            "(tcp://HOST:8786). Its workers fetch, extract and write WARC files into --warc-dir, "
            "which they must all reach at the same path; this process alone writes the "
            "database. Hosts fetched in parallel: the workers' threads.",
        ),
        click.option(
            "--workers",
            metavar="N",
            type=click.IntRange(min=1, max=256),
            help="Fetch on a Dask cluster of N worker processes started on this machine for "
            "the run (--concurrency hosts in parallel, spread over them).",
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _on_cluster(
    cluster: Cluster | None, config: FetchConfig, warc_dir: Path
) -> tuple[Executor | None, FetchConfig]:
    """The cluster's executor, held until the command ends, and the fetch options on it (as many
    hosts in parallel as it has threads); None and ``config`` to fetch in this process."""
    if cluster is None:
        return None, config
    try:
        executor = click.get_current_context().with_resource(
            cluster_executor(cluster, threads=config.concurrency, warc_dir=warc_dir)
        )
    except ClusterUnavailable as error:
        hint = "--scheduler" if cluster.scheduler is not None else "--workers"
        raise click.BadParameter(error.message, param_hint=hint) from None
    return executor, replace(config, concurrency=executor.threads)


def _setup_logging(verbose: int) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archiver")
def cli() -> None:
    """An annotated citation archive: claims, captured sources and evidence, in SQLite."""
    limit_arenas()  # before any fetching thread starts (archiver/run/memory.py says why)


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@db_option
@warc_dir_option
@fetch_options
@cluster_options
@click.option("--refresh", is_flag=True, help="Re-fetch captured URLs too (conditional GET).")
@click.option(
    "--no-fetch",
    is_flag=True,
    help="Save the articles, citations and claims only; a later run without it fetches the "
    "cited pages still missing.",
)
@output_options
def archive(
    sources: tuple[str, ...],
    db_path: Path,
    warc_dir: Path,
    fetch_config: FetchConfig,
    cluster: Cluster | None,
    refresh: bool,
    no_fetch: bool,
    as_json: bool,
    silent: bool,
    verbose: int,
) -> None:
    """Archive articles: citations and claims, then every cited page (WARC + text).

    SOURCE is a Markdown file (.md, .markdown, .txt), an HTML file (.html, .htm), an http(s)
    URL, or - for standard input. Cited URLs already captured are skipped, failed ones are
    tried again; rerunning adds nothing twice. With --no-fetch, thousands of articles can be
    loaded first and their cited pages fetched later, by archiving the same SOURCEs without it.

    \b
    Example:
        archiver archive examples/china-russia-central-asia.md
        archiver archive articles/*.md --no-fetch
    """
    if no_fetch and refresh:
        raise click.UsageError("--no-fetch and --refresh cannot be used together.")
    if no_fetch and cluster is not None:
        raise click.UsageError("--no-fetch fetches nothing: no --scheduler or --workers with it.")
    _setup_logging(verbose)
    console = Console(stderr=True, quiet=silent)
    executor, run_config = _on_cluster(cluster, fetch_config, warc_dir)
    db = _open_for_writing(db_path)
    _require_writable_dir(warc_dir)
    try:
        report = ingest_sources(
            db,
            sources,
            stdin=sys.stdin.buffer,
            fetch_config=fetch_config,
            on_error=lambda source, error: click.echo(f"Error: {error.message}", err=True),
        )
        _print_summary(console, report.articles, db_path)
        # Nothing is fetched, so nothing new to annotate either: the later run does both.
        jobs = [] if no_fetch else frontier(db, article_ids=report.article_ids, refresh=refresh)
        stats = RunStats()
        if jobs:
            stats = _with_progress(
                console,
                "Fetching",
                len(jobs),
                lambda fetched, saved: archive_urls(
                    db,
                    jobs,
                    config=run_config,
                    warc_dir=warc_dir,
                    executor=executor,
                    on_fetched=fetched,
                    on_result=saved,
                ),
            )
            unchanged = {"(of which unchanged)": stats.unchanged} if stats.unchanged else {}
            _print_counts(console, "Cited pages", ("outcome", "URLs"), stats.outcomes, unchanged)
            _print_run_notes(console, stats.outcomes, stats.errors)
        # Pages fetched now were annotated as they landed; this covers the rest (earlier
        # captures, unresolved links), and counts every label of the run's articles.
        if not no_fetch:
            annotate(db, article_ids=report.article_ids, missing_only=True)
        evidence = label_counts(db, article_ids=report.article_ids)
    except KeyboardInterrupt:
        _interrupted("nothing was half-written")
    if report.article_ids:
        _print_labels(console, evidence)
    if as_json:
        summary: dict[str, Any] = {
            "db": str(db_path),
            "articles": report.articles,
            "errors": report.errors,
            "fetch": fetch_summary(stats),
            "evidence": evidence.as_dict(),
        }
        click.echo(json.dumps(summary, indent=2))
    if stats.interrupted:
        _interrupted(f"{stats.done} of {stats.urls} cited URLs saved")
    if stats.storage_error is not None:
        _cannot_store(stats.storage_error, f"{stats.done} of {stats.urls} cited URLs saved")
    if stats.executor_lost is not None:
        _lost(stats.executor_lost, f"{stats.done} of {stats.urls} cited URLs saved")
    if report.errors:
        sys.exit(2 if report.usage_error else 1)


def _open_for_writing(db_path: Path) -> Database:
    """The archive, with its write lock held until the command ends."""
    try:
        click.get_current_context().with_resource(write_lock(db_path))
    except ArchiveBusy as error:
        raise click.ClickException(error.message) from None
    except OSError as error:  # read-only media, or a path under a file
        raise click.BadParameter(
            f"{db_path} cannot be written ({error.strerror or error}); commands that only "
            "read the archive (serve, report) work on a read-only copy",
            param_hint="--db",
        ) from None
    return _open(db_path)


def _require_articles(db: Database, article_ids: tuple[int, ...], db_path: Path) -> None:
    """Refuse an ``--article`` id the archive does not have (exit code 2), before any work."""
    missing = sorted(set(article_ids) - stored_article_ids(db))
    if missing:
        raise click.BadParameter(f"no article {missing[0]} in {db_path}", param_hint="--article")


def _require_writable_dir(warc_dir: Path) -> None:
    """Create ``--warc-dir`` and prove a file can be written there, before anything is fetched.

    Otherwise every page would be fetched and then lost at the first WARC write.
    """
    try:
        warc_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=warc_dir):
            pass
    except OSError as error:
        raise click.BadParameter(
            f"{warc_dir} is not a writable directory ({error.strerror or error})",
            param_hint="--warc-dir",
        ) from None


def _open(db_path: Path) -> Database:
    """The archive, or one clear line (exit code 2) when ``--db`` is some other kind of file."""
    try:
        return open_archive(db_path)
    except NotAnArchive as error:
        raise click.BadParameter(error.message, param_hint="--db") from None


def _print_labels(console: Console, stats: AnnotateStats) -> None:
    """How many citations each evidence label got."""
    table = Table(title=f"Evidence for {stats.citations} citations", title_justify="left")
    table.add_column("label")
    table.add_column("citations", justify="right")
    for label, count in stats.labels.items():
        table.add_row(label, str(count))
    console.print(table)


def _interrupted(progress: str) -> NoReturn:
    """Ctrl-C: say what is kept and how to go on, then leave without waiting for workers."""
    click.echo(f"Interrupted: {progress}; rerun the same command to finish.", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)  # worker threads may sit in a fetch for up to --timeout: do not wait


def _lost(error: BrokenExecutor, progress: str) -> NoReturn:
    """The cluster went away mid-run: one line (exit code 1) with what is kept, what to do."""
    raise click.ClickException(f"{error}; {progress}; rerun the same command to finish")


def _cannot_store(error: StorageError, progress: str) -> NoReturn:
    """WARC records could not be written: one line with the reason, what is kept, what to do."""
    full = error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    remedy = "free space" if full else "make sure the folder can be written"
    raise click.ClickException(f"{error}; {progress}; {remedy} and rerun the same command")


def _with_progress(
    console: Console,
    verb: str,
    total: int,
    run: Callable[[Callable[[str], None], Callable[[UrlResult, RunStats], None]], RunStats],
) -> RunStats:
    """Fetch with a progress bar (archive and check alike; ``--silent`` turns it off).

    ``run`` gets the two callbacks: the bar moves as each URL is fetched, and shows the counts
    per outcome of those saved.
    """
    with Progress(
        TextColumn(verb),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[outcomes]}"),
        console=console,
        transient=True,
        disable=console.quiet,  # --silent: no refresh thread either
    ) as progress:
        task = progress.add_task(verb, total=total, outcomes="")

        def saved(result: UrlResult, stats: RunStats) -> None:
            counts = " ".join(f"{k}={v}" for k, v in sorted(stats.outcomes.items()))
            progress.update(task, outcomes=counts)

        # Progress.advance is thread-safe (Progress locks): the fetching threads call it.
        return run(lambda url: progress.advance(task), saved)


def _print_counts(
    console: Console,
    title: str,
    columns: tuple[str, str],
    counts: dict[str, int],
    extra: dict[str, int] | None = None,
) -> None:
    """A table of counts, largest first, then the ``extra`` rows as given."""
    table = Table(title=title, title_justify="left", min_width=len(title))
    table.add_column(columns[0])
    table.add_column(columns[1], justify="right")
    for key, count in sorted(counts.items(), key=lambda item: -item[1]):
        table.add_row(key, str(count))
    for key, count in (extra or {}).items():
        table.add_row(key, str(count))
    console.print(table)


def _print_run_notes(console: Console, outcomes: dict[str, int], errors: list[str]) -> None:
    """What a fetching run says after its counts: internal errors, refused private links."""
    for error in errors:
        console.print(f"[red]internal error[/] {error}")
    _explain_private_refusals(console, outcomes)


def _explain_private_refusals(console: Console, outcomes: dict[str, int]) -> None:
    """Say, once, why links on private addresses were not fetched and how to allow them."""
    refused = outcomes.get("blocked_private_address", 0)
    if refused:
        console.print(
            f"{refused} cited URL(s) on loopback or private-network addresses were not fetched; "
            "--allow-private-addresses fetches them.",
            soft_wrap=True,
        )


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
@click.option(
    "--allow-sql",
    is_flag=True,
    help="Let visitors run their own SQL (refused by default; tables, search and canned "
    "queries work either way).",
)
def serve(db_path: Path, port: int, metadata: Path | None, allow_sql: bool) -> None:
    """Publish the archive with Datasette on 127.0.0.1, read-only, with full-text search.

    Limits for a server people share: visitors' own SQL is refused unless --allow-sql; every
    query stops after 1 s and returns at most 1,000 rows, no value it builds may exceed 60 MB,
    and 3 queries run at a time. An archive that cannot be written (read-only media) is opened
    immutable. Any file name works: the archive keeps its queries and descriptions.

    \b
    Example:
        archiver serve --port 8001
    """
    from archiver.publish import serve as publish  # Datasette: most of a second to import

    if not db_path.exists():
        raise click.UsageError(f"{db_path}: no archive yet; run 'archiver archive SOURCE' first")
    try:
        site_metadata = publish.load_metadata(metadata)
    except (OSError, ValueError) as error:
        raise click.BadParameter(str(error), param_hint="--metadata") from None
    ds = publish.build_datasette(db_path, metadata=site_metadata, allow_sql=allow_sql)
    click.echo(f"Serving {db_path} at http://127.0.0.1:{port}/ (Ctrl-C to stop)", err=True)
    try:
        publish.serve(ds, host="127.0.0.1", port=port)
    except NotAnArchive as error:
        raise click.BadParameter(error.message, param_hint="--db") from None


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


@cli.command()
@db_option
@warc_dir_option
@fetch_options
@cluster_options
@click.option(
    "--article",
    "article_ids",
    type=int,
    multiple=True,
    help="Only the links this article cites (repeatable).",
)
@click.option(
    "--older-than",
    metavar="DURATION",
    callback=_duration,
    help="Only links not checked within DURATION: 30m, 12h, 7d, 2w.",
)
@click.option("--fail-on-rot", is_flag=True, help="Exit with 1 when a link is dead (CI gate).")
@click.option(
    "--dead-after",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Failing checks in a row before a link is dead...",
)
@click.option(
    "--dead-days",
    type=FiniteFloatRange(min=0, max=36_500),
    default=3.0,
    show_default=True,
    help="...spread over at least this many days.",
)
@output_options
def check(
    db_path: Path,
    warc_dir: Path,
    fetch_config: FetchConfig,
    cluster: Cluster | None,
    article_ids: tuple[int, ...],
    older_than: timedelta | None,
    fail_on_rot: bool,
    dead_after: int,
    dead_days: float,
    as_json: bool,
    silent: bool,
    verbose: int,
) -> None:
    """Check every cited link: dead, soft 404, blocked or drifted; keep pages that changed.

    Revisits each cited URL with a GET (conditional on the last capture), records one check
    per URL, captures pages whose text changed (WARC + capture), and updates each source's link
    status from its check history. One failed check never makes a link dead.

    \b
    Example:
        archiver check --older-than 7d --fail-on-rot
    """
    _setup_logging(verbose)
    console = Console(stderr=True, quiet=silent)
    if not db_path.exists():
        raise click.UsageError(f"{db_path}: no archive yet; run 'archiver archive SOURCE' first")
    executor, run_config = _on_cluster(cluster, fetch_config, warc_dir)
    db = _open_for_writing(db_path)
    _require_articles(db, article_ids, db_path)
    _require_writable_dir(warc_dir)
    jobs = check_frontier(db, article_ids=article_ids, older_than=older_than)
    try:
        stats = _with_progress(
            console,
            "Checking",
            len(jobs),
            lambda fetched, saved: check_urls(
                db,
                jobs,
                config=RevisitConfig(run_config),
                warc_dir=warc_dir,
                executor=executor,
                on_fetched=fetched,
                on_result=saved,
                min_failures=dead_after,
                min_days=dead_days,
            ),
        )
    except KeyboardInterrupt:
        _interrupted("nothing was half-written")
    summary = check_summary(stats, db, article_ids)
    if as_json:
        click.echo(json.dumps({"db": str(db_path)} | summary, indent=2))
    _print_check_summary(console, summary)
    if stats.interrupted:
        _interrupted(f"{stats.done} of {stats.urls} links checked and saved")
    if stats.storage_error is not None:
        _cannot_store(stats.storage_error, f"{stats.done} of {stats.urls} links checked and saved")
    if stats.executor_lost is not None:
        _lost(stats.executor_lost, f"{stats.done} of {stats.urls} links checked and saved")
    if fail_on_rot and summary["dead"]:
        raise click.ClickException(f"{len(summary['dead'])} dead link(s): {summary['dead'][0]}")


def _print_check_summary(console: Console, summary: dict[str, Any]) -> None:
    """Two tables: this run's outcomes, and the link status of every selected link."""
    _print_counts(console, "Checked links by outcome", ("outcome", "links"), summary["outcomes"])
    _print_counts(console, "Link status", ("status", "links"), summary["link_status"])
    console.print(
        f"{summary['captured']} changed page(s) captured; {summary['extracted']} of "
        f"{summary['done']} checks needed text extraction"
    )
    for url in summary["dead"]:
        console.print(f"[red]dead[/] {url}", soft_wrap=True)
    _print_run_notes(console, summary["outcomes"], summary["internal_errors"])


@cli.command("report")
@db_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="HTML file to write.",
)
def report_command(db_path: Path, output: Path) -> None:
    """Write a static HTML page of link health: status per article, checks over time.

    One self-contained file (inline SVG, no scripts): open it anywhere, attach it to a CI run.

    \b
    Example:
        archiver report --output report.html
    """
    if not db_path.exists():
        raise click.UsageError(f"{db_path}: no archive yet; run 'archiver archive SOURCE' first")
    if not output.parent.is_dir():
        raise click.BadParameter(f"{output.parent} is not a directory", param_hint="--output")
    from archiver.publish.report import write_report

    path = write_report(_open(db_path), output)
    click.echo(f"Wrote {path}", err=True)


@cli.command("annotate")
@db_option
@click.option(
    "--article", "article_ids", type=int, multiple=True, help="Only this article id (repeatable)."
)
@output_options
def annotate_command(
    db_path: Path, article_ids: tuple[int, ...], as_json: bool, silent: bool, verbose: int
) -> None:
    """Find the passage of each cited source that backs its claim, and label it.

    Labels: supported, partial (a number, name or negation differs or is missing), not_found,
    unavailable (no text captured). 'archiver archive' does this after fetching; run it again
    to recompute the evidence of existing captures.

    \b
    Example:
        archiver annotate --db db/citations.db
    """
    _setup_logging(verbose)
    if not db_path.exists():
        raise click.UsageError(f"{db_path}: no archive yet; run 'archiver archive SOURCE' first")
    db = _open_for_writing(db_path)
    _require_articles(db, article_ids, db_path)
    stats = annotate(db, article_ids=article_ids or None)
    _print_labels(Console(stderr=True, quiet=silent), stats)
    if as_json:
        click.echo(json.dumps({"db": str(db_path), **stats.as_dict()}, indent=2))


class InputError(click.ClickException):
    """A mistake in what the command was given, said in one ``Error:`` line (exit code 2):
    a usage error would print the whole usage before it."""

    exit_code = 2


def web_archive_options(
    when: str,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--cdx-endpoint`` and ``--replay-endpoint``, for the commands that ask a web archive;
    ``when`` starts their help ("For --find: ")."""

    def said(text: str) -> str:
        return f"{when}{text}" if when else text[0].upper() + text[1:]

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn = click.option(
            "--replay-endpoint",
            metavar="URL",
            help=said("where the archive replays captures (default: /web/ beside the CDX API)."),
        )(fn)
        return click.option(
            "--cdx-endpoint",
            metavar="URL",
            default=WAYBACK_MACHINE.cdx,
            show_default=True,
            help=said("the web archive's CDX API (with its availability API as the fallback)."),
        )(fn)

    return decorate


def _endpoints(cdx: str, replay: str | None) -> Endpoints:
    """The archive to search: ``--replay-endpoint``, else /web/ beside a Wayback-style CDX API."""
    if replay is None:
        if not cdx.rstrip("/").endswith(WAYBACK_CDX_PATH):
            raise click.BadParameter(
                "give --replay-endpoint too: this CDX API is not laid out like web.archive.org",
                param_hint="--cdx-endpoint",
            )
        replay = cdx.rstrip("/").removesuffix(WAYBACK_CDX_PATH) + "/web/"
    return Endpoints(cdx=cdx, replay=replay if replay.endswith("/") else replay + "/")


@cli.command("resolve")
@click.argument("article")
@click.option(
    "--from",
    "copy_source",
    metavar="SOURCE",
    help="Another copy of the article that has the links: a URL, an HTML or a Markdown file.",
)
@click.option(
    "--map",
    "map_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="CSV of URLs found by hand: a url column, and position or anchor_text. Wins over "
    "--from and --find.",
)
@click.option(
    "--find",
    is_flag=True,
    help="Look for the original in a web archive by the article's title, site and date.",
)
@click.option(
    "--site",
    metavar="DOMAIN",
    help="For --find: the publisher's domain (and path) to search under; default: the host "
    "of the URL the article was archived from.",
)
@web_archive_options("For --find: ")
@click.option(
    "--candidates",
    type=click.IntRange(min=1, max=100),
    default=DEFAULT_CANDIDATES,
    show_default=True,
    help="For --find: most snapshots fetched and compared.",
)
@db_option
@fetch_options
@output_options
def resolve_command(
    article: str,
    copy_source: str | None,
    map_path: Path | None,
    find: bool,
    site: str | None,
    cdx_endpoint: str,
    replay_endpoint: str | None,
    candidates: int,
    db_path: Path,
    fetch_config: FetchConfig,
    as_json: bool,
    silent: bool,
    verbose: int,
) -> None:
    """Fill the lost links of an archived article from another copy, a map or a web archive.

    ARTICLE is an archived article's id, or the SOURCE it was archived from. --from aligns
    our links with another copy's by anchor text, claim and place; --map takes URLs found by
    hand; --find looks the original up in a web archive (CDX) and uses it only when it clearly
    aligns. Only citations without a URL of their own are filled ('href' stays as written);
    every decision is kept in the resolutions table. Then 'archiver archive' fetches the
    filled URLs.

    \b
    Example:
        archiver resolve 1 --from https://eastasiaforum.org/2018/03/29/china-and-russia/
        archiver resolve article.md --map links.csv
        archiver resolve 1 --find --site eastasiaforum.org
    """
    _setup_logging(verbose)
    console = Console(stderr=True, quiet=silent)
    if not (copy_source or map_path or find):
        raise click.UsageError("say where the links come from: --from SOURCE, --map FILE, --find")
    if copy_source and find:
        raise click.UsageError("--from and --find are two ways to get a copy: give one")
    endpoints = _endpoints(cdx_endpoint, replay_endpoint) if find else WAYBACK_MACHINE
    if not db_path.exists():
        raise click.UsageError(f"{db_path}: no archive yet; run 'archiver archive SOURCE' first")
    db = _open_for_writing(db_path)
    row = find_article(db, article)
    if row is None:
        raise click.BadParameter(
            f"no article {article!r} in {db_path}: give its id or the SOURCE it was archived from",
            param_hint="ARTICLE",
        )
    ours = article_citations(db, row["id"])
    matches: list[Match] = []
    if map_path is not None:  # first: a bad map stops the run before anything is fetched
        try:
            with map_path.open(newline="", encoding="utf-8-sig") as handle:
                matches += from_map(ours, handle, source=f"map:{map_path}")
        except MapError as error:
            problems = "; ".join(f"line {line}: {message}" for line, message in error.problems)
            raise InputError(f"{map_path}: {problems}") from None
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"{map_path}: cannot be read ({error})") from None
    summary: dict[str, Any] = {"db": str(db_path), "article_id": row["id"], "title": row["title"]}
    if copy_source is not None:
        try:
            copy = load_article(copy_source, fetch_config=fetch_config)
        except ArticleError as error:
            raise (InputError if error.usage else click.ClickException)(error.message) from None
        matches = from_copy(ours, copy) + matches
    if find:
        found = _find_original(console, row, ours, site, endpoints, fetch_config, candidates)
        summary["find"] = _find_summary(found)
        if found.chosen is not None:
            matches = list(found.chosen.matches) + matches
    outcomes = save_resolutions(db, row["id"], matches)
    _print_resolutions(console, outcomes)
    if as_json:
        resolutions = [outcome.as_dict() for outcome in outcomes]
        summary |= {
            "filled": sum(outcome.status == "filled" for outcome in outcomes),
            "unmatched": [o.match.position for o in outcomes if o.status == "unmatched"],
            "resolutions": resolutions,
        }
        click.echo(json.dumps(summary, indent=2))


def _find_original(
    console: Console,
    article: dict[str, Any],
    ours: list[Citation],
    site: str | None,
    endpoints: Endpoints,
    config: FetchConfig,
    candidates: int,
) -> FindResult:
    """Search the web archive, show the candidates, and say in one line what was decided."""
    try:
        prefix = site_prefix(site, article["url"])
    except FindError as error:
        raise click.UsageError(str(error)) from None
    try:
        found = find_original(
            ours,
            title=article["title"],
            published=article["published"],
            url_prefix=prefix,
            config=config,
            endpoints=endpoints,
            article_url=article["url"],
            candidates=candidates,
        )
    except FindError as error:
        raise click.ClickException(str(error)) from None
    table = Table(title=f"Candidates under {prefix}", title_justify="left")
    for column in ("snapshot", "matched", "confidence", "title", "score"):
        snapshot = column == "snapshot"
        table.add_column(
            column,
            justify="left" if snapshot else "right",
            overflow="fold",
            min_width=24 if snapshot else None,
        )
    for candidate in found.candidates:
        table.add_row(
            candidate.memento_url,
            candidate.error or f"{candidate.matched}/{candidate.citations}",
            f"{candidate.mean_confidence:.2f}",
            f"{candidate.title_similarity:.2f}",
            f"{candidate.score:.2f}",
        )
    if found.candidates:
        console.print(table)
    verdict = "Using" if found.chosen is not None else "No original used, nothing changed:"
    console.print(f"{verdict} {found.reason}", soft_wrap=True, markup=False)
    return found


def _find_summary(found: FindResult) -> dict[str, Any]:
    """The --find part of resolve --json."""
    return {
        "url_prefix": found.url_prefix,
        "candidates": [candidate.as_dict() for candidate in found.candidates],
        "chosen": found.chosen.memento_url if found.chosen is not None else None,
        "reason": found.reason,
    }


def _print_resolutions(console: Console, outcomes: list[Resolution]) -> None:
    """A table of the URLs found, then the citations nothing was found for."""
    shown = [o for o in outcomes if o.status not in ("unmatched", "own_url")]
    table = Table(title="Resolved citations", title_justify="left")
    for column in ("position", "anchor", "url", "confidence", "method", "status"):
        numeric = column in ("position", "confidence")
        table.add_column(
            column,
            justify="right" if numeric else "left",
            overflow="fold",  # a URL cut short is no use
            min_width=24 if column == "url" else None,
        )
    for outcome in shown:
        match = outcome.match
        table.add_row(
            str(match.position),
            outcome.anchor_text,
            match.url,
            f"{match.confidence:.2f}",
            match.method,
            outcome.status,
            style="dim" if outcome.status == "outranked" else None,
        )
    if shown:
        console.print(table)
    for outcome in outcomes:
        if outcome.status == "unmatched":
            console.print(
                f"unmatched: {outcome.match.position} {outcome.anchor_text!r} "
                f"({outcome.match.source})",
                soft_wrap=True,
                markup=False,
            )
    kept = sum(outcome.status == "own_url" for outcome in outcomes)
    filled = sum(outcome.status == "filled" for outcome in outcomes)
    console.print(
        f"{filled} citation URL(s) filled"
        + (f"; {kept} keep the URL the article gives" if kept else ""),
    )


def _lookup_endpoints(cdx: str, replay: str | None, timegate: str | None) -> Endpoints:
    """The archive ``mementos`` asks: a TimeGate, the Wayback Machine, or a CDX API elsewhere,
    whose availability fallback is asked on its own host (not on archive.org)."""
    if timegate is not None:
        return replace(WAYBACK_MACHINE, timegate=timegate)
    if cdx == WAYBACK_MACHINE.cdx and replay is None:
        return WAYBACK_MACHINE
    endpoints = _endpoints(cdx, replay)
    base = cdx.rstrip("/").removesuffix(WAYBACK_CDX_PATH)
    return replace(endpoints, available=f"{base}/wayback/available")


@cli.command("mementos")
@db_option
@fetch_options
@click.option(
    "--article", "article_ids", type=int, multiple=True, help="Only this article id (repeatable)."
)
@web_archive_options("")
@click.option(
    "--timegate",
    metavar="URL",
    help="Ask this Memento TimeGate (RFC 7089) instead: GET URL + the cited URL.",
)
@click.option(
    "--window-days",
    type=click.IntRange(min=0, max=36_500),
    default=365,
    show_default=True,
    help="A snapshot this many days before the article's date still counts; else the nearest "
    "one after is taken.",
)
@click.option("--refresh", is_flag=True, help="Look up again the links whose snapshot is known.")
@output_options
def mementos_command(
    db_path: Path,
    fetch_config: FetchConfig,
    article_ids: tuple[int, ...],
    cdx_endpoint: str,
    replay_endpoint: str | None,
    timegate: str | None,
    window_days: int,
    refresh: bool,
    as_json: bool,
    silent: bool,
    verbose: int,
) -> None:
    """Find each cited page in a web archive as it was when the article cited it.

    For every cited URL, the snapshot nearest the citing article's date (its publication date,
    else the day it was archived): the latest one on or before it within --window-days, else
    the first one after. Rows go to the mementos table, one per URL and article date. Without
    the web archive (offline, refused, rate-limited) the rows are marked not_looked_up and the
    command still exits 0: the next run asks again. Snapshots already found are kept unless
    --refresh.

    \b
    Example:
        archiver mementos
        archiver mementos --article 1 --window-days 90 --json
    """
    _setup_logging(verbose)
    console = Console(stderr=True, quiet=silent)
    endpoints = _lookup_endpoints(cdx_endpoint, replay_endpoint, timegate)
    if not db_path.exists():
        raise click.UsageError(f"{db_path}: no archive yet; run 'archiver archive SOURCE' first")
    db = _open_for_writing(db_path)
    _require_articles(db, article_ids, db_path)
    with Progress(
        TextColumn("Looking up snapshots"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=console.quiet,
    ) as progress:
        task = progress.add_task("mementos", total=None)
        try:
            run = look_up_mementos(
                db,
                config=fetch_config,
                article_ids=article_ids,
                endpoints=endpoints,
                kind="timegate" if timegate else "wayback",
                window_days=window_days,
                refresh=refresh,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except KeyboardInterrupt:
            _interrupted("the snapshots looked up so far are saved")
    _print_mementos(console, run)
    if as_json:
        click.echo(json.dumps({"db": str(db_path)} | run.as_dict(), indent=2))


def _print_mementos(console: Console, run: MementoRun) -> None:
    """Counts per status, and the one line that says what to do when the archive was away."""
    extra = {"(already found, kept)": run.already_found} if run.already_found else {}
    _print_counts(console, "Snapshot lookups", ("status", "links"), run.statuses, extra)
    if run.not_looked_up:
        console.print(
            f"{run.not_looked_up} lookups could not reach the web archive; rows marked "
            "not_looked_up; rerun later",
            soft_wrap=True,
            markup=False,
        )


@cli.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    required=True,
    help="csv or json (one row per citation), csl-json (one item per cited source), "
    "robust-html (the article, links decorated), wacz (the captures, for replay).",
)
@click.option(
    "--article", "article_ids", type=int, multiple=True, help="Only this article id (repeatable)."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output; wacz needs one).",
)
@click.option(
    "--replay-prefix",
    default=DEFAULT_REPLAY_PREFIX,
    show_default=True,
    help="robust-html: where a local capture replays (PREFIX/TIMESTAMP/URL) for links with no "
    "web-archive snapshot.",
)
@db_option
def export_command(
    fmt: str,
    article_ids: tuple[int, ...],
    output: Path | None,
    replay_prefix: str,
    db_path: Path,
) -> None:
    """Export citations for other tools: CSV, JSON, CSL-JSON, Robust Links HTML or WACZ.

    CSL-JSON is for Zotero and pandoc; robust-html gives each resolved link data-originalurl,
    data-versionurl and data-versiondate (the web-archive snapshot nearest the article's date,
    else the local capture); wacz packages the cited pages' captures for replayweb.page and
    pywb. The same archive always gives the same bytes (a WACZ's 'created' time excepted).

    \b
    Example:
        archiver export --format csv -o citations.csv
        archiver export --format csl-json --article 1 > sources.json
        archiver export --format wacz -o citations.wacz
    """
    if not db_path.exists():
        raise click.UsageError(f"{db_path}: no archive yet; run 'archiver archive SOURCE' first")
    if fmt == "wacz" and output is None:
        raise click.UsageError("--format wacz writes a zip file: give it -o PATH")
    if output is not None and not output.parent.is_dir():
        raise click.BadParameter(f"{output.parent} is not a directory", param_hint="--output")
    db = _open(db_path)
    _require_articles(db, article_ids, db_path)
    try:
        if output is not None and fmt == "wacz":
            summary = write_wacz(db, output, article_ids)
            click.echo(
                f"Wrote {summary.path}: {summary.captures} captures, {summary.pages} pages",
                err=True,
            )
            return
        text = export_text(db, fmt, article_ids, replay_prefix=replay_prefix)
    except ExportError as error:
        raise click.ClickException(error.message) from None
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8", newline="")  # keeps CSV's CRLF as written
