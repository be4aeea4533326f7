"""The ``archiver`` command: thin click wrappers around the library functions."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from archiver import __version__
from archiver.article import load_article
from archiver.db import DEFAULT_DB, open_db, save_article
from archiver.errors import ArticleError

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
@output_options
def archive(
    sources: tuple[str, ...],
    db_path: Path,
    warc_dir: Path,
    as_json: bool,
    silent: bool,
    verbose: int,
) -> None:
    """Ingest articles: their citations, claims and metadata, into the archive.

    SOURCE is a Markdown file (.md, .markdown, .txt), an HTML file (.html, .htm), an http(s)
    URL, or - for standard input. Rerunning updates in place; nothing is added twice.

    \b
    Example:
        archiver archive examples/china-russia-central-asia.md
    """
    _setup_logging(verbose)
    console = Console(stderr=True, quiet=silent)
    stdin = sys.stdin.buffer
    db = open_db(db_path)
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    usage_error = False
    for source in sources:
        try:
            article = load_article(source, stdin=stdin)
        except ArticleError as error:
            usage_error = usage_error or error.usage
            errors.append({"source": source, "error": error.message})
            click.echo(f"Error: {error.message}", err=True)
            continue
        saved = save_article(db, article)
        results.append(
            {
                "source": source,
                "article_id": saved.article_id,
                "title": article.title,
                "author": article.author,
                "publisher": article.publisher,
                "published": article.published,
                "created": saved.created,
                "citations": saved.citations,
                "unresolved": saved.unresolved,
                "urls": saved.urls,
            }
        )
    _print_summary(console, results, db_path)
    if as_json:
        click.echo(
            json.dumps({"db": str(db_path), "articles": results, "errors": errors}, indent=2)
        )
    if errors:
        sys.exit(2 if usage_error else 1)


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
