"""Option values and inputs that used to switch a limit off, hang, or fail without a word."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from webserver import WebServer

from archiver.cli import cli
from archiver.ingest.urls import normalise_url
from archiver.net.fetch import FetchConfig, fetch, make_session
from archiver.store import open_db


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def one_error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert lines[-1].startswith("Error: "), result.stderr
    return result.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
@pytest.mark.parametrize("option", ["--timeout", "--delay"])
def test_a_limit_that_is_not_a_finite_number_is_a_usage_error(
    option: str, value: str, db_path: Path, example_article: Path
) -> None:
    result = run("archive", str(example_article), "--db", str(db_path), option, value)
    assert result.exit_code == 2
    assert "is not a finite number" in one_error_line(result) or "not in the range" in result.stderr
    assert not db_path.exists()  # refused before anything was opened


def test_dead_days_nan_is_a_usage_error(db_path: Path, example_article: Path) -> None:
    run("archive", str(example_article), "--db", str(db_path))
    result = run("check", "--db", str(db_path), "--dead-days", "nan")
    assert result.exit_code == 2
    assert "is not a finite number" in one_error_line(result)


@pytest.mark.parametrize("option", ["--user-agent", "--contact"])
@pytest.mark.parametrize("value", ["bot\r\nX-Evil: 1", "bot\nmore", "tab\there", "caf\u00e9"])
def test_a_header_option_with_a_line_break_is_refused(
    option: str, value: str, db_path: Path, example_article: Path
) -> None:
    result = run("archive", str(example_article), "--db", str(db_path), option, value)
    assert result.exit_code == 2
    assert "must be printable ASCII" in one_error_line(result)


def test_annotate_an_article_that_does_not_exist(db_path: Path, example_article: Path) -> None:
    run("archive", str(example_article), "--db", str(db_path))
    result = run("annotate", "--db", str(db_path), "--article", "99")
    assert result.exit_code == 2
    assert f"no article 99 in {db_path}" in one_error_line(result)


def test_a_warc_dir_under_a_file_is_refused_before_fetching(
    tmp_path: Path, db_path: Path, web_server: WebServer
) -> None:
    article = tmp_path / "a.md"
    article.write_text(f"It rose, [the office said]({web_server.url('/ok')}).\n", "utf-8")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    result = run(
        "archive",
        str(article),
        "--db",
        str(db_path),
        "--warc-dir",
        str(blocker / "warc"),
        "--allow-private-addresses",
    )
    assert result.exit_code == 2
    assert "is not a writable directory" in one_error_line(result)
    assert web_server.requests == []  # nothing fetched to be lost


def test_a_db_whose_folder_cannot_be_made_is_one_line(
    tmp_path: Path, example_article: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    result = run("archive", str(example_article), "--db", str(blocker / "x.db"))
    assert result.exit_code == 2
    assert "cannot be written" in one_error_line(result)


def test_report_into_a_missing_folder_is_refused(
    tmp_path: Path, db_path: Path, example_article: Path
) -> None:
    run("archive", str(example_article), "--db", str(db_path))
    target = tmp_path / "missing" / "r.html"
    result = run("report", "--db", str(db_path), "-o", str(target))
    assert result.exit_code == 2
    assert "is not a directory" in one_error_line(result)
    assert not target.parent.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.timeout(60)
def test_a_fifo_is_refused_instead_of_read_forever(tmp_path: Path, db_path: Path) -> None:
    fifo = tmp_path / "article.md"
    os.mkfifo(fifo)
    result = run("archive", str(fifo), "--db", str(db_path))
    assert result.exit_code == 2
    assert "is not a regular file" in one_error_line(result)


def test_a_latin1_markdown_file_is_refused_not_misread(tmp_path: Path, db_path: Path) -> None:
    article = tmp_path / "latin1.md"
    article.write_bytes(
        "Le Café du Commerce, [dit le journal](https://example.org/a).\n".encode("latin-1")
    )
    result = run("archive", str(article), "--db", str(db_path))
    assert result.exit_code == 2
    assert "is not UTF-8 text (byte 0xe9" in one_error_line(result)


def test_utf8_markdown_keeps_its_accents(tmp_path: Path, db_path: Path) -> None:
    article = tmp_path / "utf8.md"
    article.write_bytes("Le Café du Commerce, [dit le journal](https://example.org/a).\n".encode())
    assert run("archive", str(article), "--db", str(db_path), "--silent").exit_code == 0
    assert open_db(db_path)["citations"].get(1)["claim"].startswith("Le Café du Commerce")


@pytest.mark.parametrize("url", ["http://exa mple.com/a", "http://exa%20mple.com/a"])
def test_a_host_with_a_space_is_not_a_url(url: str) -> None:
    assert normalise_url(url) is None


def test_a_percent_encoded_host_is_an_invalid_url_and_never_looked_up() -> None:
    looked_up: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["93.184.216.34"]

    config = FetchConfig(ignore_robots=True, resolver=resolver)
    result = fetch("http://exa%20mple.com/a", session=make_session(config), config=config)
    assert result.outcome == "invalid_url"
    assert looked_up == []


def test_refused_private_links_are_explained_in_one_line(
    tmp_path: Path, db_path: Path, web_server: WebServer
) -> None:
    article = tmp_path / "a.md"
    article.write_text(
        f"It rose, [the office said]({web_server.url('/ok')}). "
        f"It fell, [the bank said]({web_server.url('/other')}).\n",
        "utf-8",
    )
    result = run("archive", str(article), "--db", str(db_path), "--warc-dir", str(tmp_path / "w"))
    assert result.exit_code == 0
    assert (
        "2 cited URL(s) on loopback or private-network addresses were not fetched; "
        "--allow-private-addresses fetches them." in result.stderr
    )
    assert web_server.requests == []
