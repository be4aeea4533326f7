"""The archive command end to end, and every kind of bad input it must survive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from webserver import WebServer, text

from archiver.cli import cli
from archiver.store import open_db, write_lock


def archive(*args: str, input: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["archive", *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_archive_example_prints_summary(db_path: Path, example_article: Path) -> None:
    code, out, err = archive(str(example_article), "--db", str(db_path))
    assert code == 0 and out == ""
    assert "China and Russia's uneasy" in err and "25" in err


def test_archive_json_summary(db_path: Path, example_article: Path) -> None:
    code, out, _ = archive(str(example_article), "--db", str(db_path), "--json", "--silent")
    summary = json.loads(out)
    assert code == 0
    assert summary["articles"][0] | {"source": None} == {
        "source": None,
        "article_id": 1,
        "title": "China and Russia's uneasy partnership in Central Asia",
        "author": "Paul Stronski",
        "publisher": "East Asia Forum",
        "published": "2018-03-29",
        "created": True,
        "citations": 25,
        "unresolved": 25,
        "urls": 0,
    }


def test_silent_prints_nothing(db_path: Path, example_article: Path) -> None:
    code, out, err = archive(str(example_article), "--db", str(db_path), "--silent")
    assert (code, out, err) == (0, "", "")


def test_rerun_adds_nothing(db_path: Path, example_article: Path) -> None:
    archive(str(example_article), "--db", str(db_path))
    archive(str(example_article), "--db", str(db_path))
    db = open_db(db_path)
    assert (db["articles"].count, db["citations"].count) == (1, 25)


@pytest.mark.parametrize(
    ("content", "citations"),
    [
        (b"Some text citing [a page](https://example.org/a).\n", 1),
        (
            b"<html><body><article><p>Text citing <a href='https://example.org/b'>a page</a> "
            b"and more words to make it an article.</p></article></body></html>",
            1,
        ),
    ],
    ids=["markdown", "html"],
)
def test_archive_from_stdin_detects_format(db_path: Path, content: bytes, citations: int) -> None:
    code, out, _ = archive("-", "--db", str(db_path), "--json", input=content)
    assert code == 0
    assert json.loads(out)["articles"][0]["citations"] == citations
    assert open_db(db_path)["citations"].get(1)["url"].startswith("https://example.org/")


BAD_INPUTS = {
    "missing": (lambda d: d / "nope.md", 2, "nope.md: no such file"),
    "directory": (lambda d: d, 2, "is a directory"),
    "unknown type": (
        lambda d: _write(d / "article.pdf", b"%PDF-1.4"),
        2,
        "unknown file type '.pdf'",
    ),
    "binary": (
        lambda d: _write(d / "image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        2,
        "is a binary file",
    ),
    "empty": (lambda d: _write(d / "empty.md", b"  \n\n"), 1, "the article is empty"),
    "no links": (
        lambda d: _write(d / "plain.md", b"# Title\n\nJust text, no links.\n"),
        1,
        "cites no links",
    ),
    "not http": (lambda d: "ftp://files.example/article.html", 2, "not an http(s) URL"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_clear_line_and_loses_nothing(
    case: str, tmp_path: Path, db_path: Path, example_article: Path
) -> None:
    make, expected_code, message = BAD_INPUTS[case]
    bad_dir = tmp_path / "inputs"
    bad_dir.mkdir()
    archive(str(example_article), "--db", str(db_path))
    code, out, err = archive(str(make(bad_dir)), "--db", str(db_path))
    assert code == expected_code
    assert err.startswith("Error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    db = open_db(db_path)
    assert (db["articles"].count, db["citations"].count) == (1, 25)


def test_one_bad_source_does_not_stop_the_others(db_path: Path, example_article: Path) -> None:
    code, out, err = archive("missing.md", str(example_article), "--db", str(db_path), "--json")
    assert code == 2
    summary = json.loads(out)
    assert [a["citations"] for a in summary["articles"]] == [25]
    assert summary["errors"] == [{"source": "missing.md", "error": "missing.md: no such file"}]


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_unreadable_file_is_reported(tmp_path: Path, db_path: Path) -> None:
    """/proc/self/mem opens but cannot be read at offset 0, even by root (chmod 000 would not
    stop root, which CI runs as)."""
    unreadable = tmp_path / "locked.md"
    unreadable.symlink_to("/proc/self/mem")
    code, _, err = archive(str(unreadable), "--db", str(db_path))
    assert code == 2
    assert err == f"Error: {unreadable}: cannot be read (Input/output error)\n"


def test_unreachable_article_url(db_path: Path) -> None:
    code, _, err = archive(
        "http://127.0.0.1:9/article",
        "--db",
        str(db_path),
        "--allow-private-addresses",
        "--timeout",
        "2",
    )
    assert code == 1
    assert err.startswith("Error: http://127.0.0.1:9/article: ") and "unreachable" in err


ARTICLE_HTML = (
    "<html><head><title>Served article</title></head><body><article><h1>Served article</h1>"
    "<p>Exports rose by a third in 2019, <a href='/ok'>the customs office reported</a>. "
    "Imports fell, <a href='mailto:x@example.org'>write to us</a>.</p>"
    "<p>The port handled 4 million containers, <a href='status/404'>a later survey found</a>.</p>"
    "</article></body></html>"
)


def test_archive_article_url_resolves_relative_links(db_path: Path, web_server: WebServer) -> None:
    web_server.routes["/news/article"] = text(ARTICLE_HTML, content_type="text/html")
    url = web_server.url("/news/article")
    code, out, _ = archive(
        url,
        "--db",
        str(db_path),
        "--warc-dir",
        str(db_path.parent / "warc"),
        "--allow-private-addresses",
        "--delay",
        "0",
        "--json",
    )
    assert code == 0
    summary = json.loads(out)
    assert summary["articles"][0]["title"] == "Served article"
    db = open_db(db_path)
    assert [row["url"] for row in db["citations"].rows_where(order_by="position")] == [
        web_server.url("/ok"),
        web_server.url("/news/status/404"),
    ]
    assert db["articles"].get(1)["url"] == url
    assert summary["fetch"]["outcomes"] == {"ok": 1, "not_found": 1}


def test_article_url_refused_for_private_address_by_default(
    db_path: Path, web_server: WebServer
) -> None:
    code, _, err = archive(web_server.url("/ok"), "--db", str(db_path))
    assert code == 1
    assert "blocked_private_address" in err
    assert web_server.requests == []


def test_no_fetch_saves_citations_and_a_later_run_fetches_them(
    tmp_path: Path, db_path: Path, web_server: WebServer
) -> None:
    """Issue 14: thousands of articles can be loaded first, their pages fetched later."""
    article = tmp_path / "article.md"
    article.write_text(
        "# Loaded first\n\nExports rose by a third in 2019, "
        f"[the customs office reported]({web_server.url('/ok')}).\n",
        encoding="utf-8",
    )
    options = ["--db", str(db_path), "--warc-dir", str(tmp_path / "warc")]
    options += ["--allow-private-addresses", "--delay", "0", "--json", "--silent"]
    code, out, _ = archive(str(article), *options, "--no-fetch")
    assert code == 0
    assert web_server.requests == []
    assert json.loads(out)["fetch"]["urls"] == 0
    db = open_db(db_path)
    assert [row["url"] for row in db["citations"].rows] == [web_server.url("/ok")]
    assert db["captures"].count == 0
    code, out, _ = archive(str(article), *options)
    assert code == 0
    assert json.loads(out)["fetch"]["outcomes"] == {"ok": 1}
    assert "/ok" in web_server.paths()


def test_no_fetch_with_refresh_is_a_usage_error(db_path: Path, example_article: Path) -> None:
    code, _, err = archive(str(example_article), "--db", str(db_path), "--no-fetch", "--refresh")
    assert code == 2
    assert "--no-fetch and --refresh cannot be used together" in err


@pytest.mark.parametrize("command", [["archive", "EXAMPLE"], ["check"], ["annotate"]])
def test_a_second_run_on_the_same_archive_is_refused_up_front(
    db_path: Path, example_article: Path, command: list[str]
) -> None:
    """An overlapping run (a cron job that has not finished) holds the write lock."""
    assert (
        CliRunner().invoke(cli, ["archive", str(example_article), "--db", str(db_path)]).exit_code
        == 0
    )
    args = [str(example_article) if arg == "EXAMPLE" else arg for arg in command]
    with write_lock(db_path):
        result = CliRunner().invoke(cli, [*args, "--db", str(db_path)])
    assert result.exit_code == 1
    assert "being written by another archiver run" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    again = CliRunner().invoke(cli, [*args, "--db", str(db_path)])
    assert again.exit_code == 0, again.output  # the lock went with the other run


@pytest.mark.parametrize("command", [["archive", "EXAMPLE"], ["check"], ["annotate"], ["report"]])
def test_a_db_that_is_not_an_archive_is_one_clear_line(
    tmp_path: Path, example_article: Path, command: list[str]
) -> None:
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("shopping list: eggs, milk\n", encoding="utf-8")
    args = [str(example_article) if arg == "EXAMPLE" else arg for arg in command]
    result = CliRunner().invoke(cli, [*args, "--db", str(not_a_db)])
    assert result.exit_code == 2
    assert f"{not_a_db} is not an archive" in result.output
    assert isinstance(result.exception, SystemExit)
    assert not_a_db.read_text(encoding="utf-8") == "shopping list: eggs, milk\n"  # untouched
