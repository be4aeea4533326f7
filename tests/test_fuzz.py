"""Random articles and option values: one clear line or success, exit 0/1/2, never a traceback.

Every href the generated articles hold points at the loopback test server, at a non-http scheme
or at nothing, so no example can send traffic off this machine.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webserver import WebServer

from archiver.cli import cli
from archiver.errors import ArticleError
from archiver.ingest.article import build_article

#: Routes that answer at once: the fuzzer varies inputs, the fault tests cover slow servers.
QUICK_ROUTES = [
    "/ok", "/status/404", "/status/500", "/redirect/3", "/loop/a", "/gzip", "/pdf", "/png",
    "/cp1251", "/empty", "/reset", "/flaky", "/rate-limited", "/no-such-page",
]  # fmt: skip
OTHER_HREFS = [
    "#", "", "#top", "mailto:x@example.org", "javascript:alert(1)", "http://[::1", "/relative",
    "ftp://files.example/x", "http://exa mple.com/", "data:text/html,hi", "tel:+1",
]  # fmt: skip
PROSE = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
    max_size=120,
)
NUMBERS = st.sampled_from(["0", "0.01", "0.5", "-1", "nan", "inf", "1e400", "x", ""])
HEADER_TEXT = st.text(max_size=30)


@pytest.fixture(scope="module")
def server() -> Iterator[WebServer]:
    with WebServer() as web:
        yield web


def hrefs(server: WebServer) -> st.SearchStrategy[str]:
    return st.sampled_from([server.url(path) for path in QUICK_ROUTES] + OTHER_HREFS)


@st.composite
def articles(draw: st.DrawFn, server: WebServer) -> tuple[str, bytes]:
    """A Markdown or HTML article of random prose around random links."""
    paragraphs = []
    for _ in range(draw(st.integers(0, 4))):
        parts = []
        for _ in range(draw(st.integers(0, 3))):
            parts.append((draw(PROSE), draw(PROSE), draw(hrefs(server))))
        paragraphs.append((parts, draw(PROSE)))
    if draw(st.booleans()):
        text = "\n\n".join(
            "".join(f"{before}[{anchor}]({href})" for before, anchor, href in parts) + tail
            for parts, tail in paragraphs
        )
        return ".md", text.encode("utf-8")
    body = "".join(
        "<p>"
        + "".join(f"{before}<a href='{href}'>{anchor}</a>" for before, anchor, href in parts)
        + f"{tail}</p>"
        for parts, tail in paragraphs
    )
    return ".html", f"<html><body><article>{body}</article></body></html>".encode()


@settings(max_examples=300, deadline=None, database=None)
@given(data=st.one_of(st.binary(max_size=400), PROSE.map(str.encode)), html=st.booleans())
def test_any_bytes_give_an_article_or_one_article_error(data: bytes, html: bool) -> None:
    try:
        article = build_article(data, "html" if html else "markdown", source_key="fuzz")
    except ArticleError as error:
        assert error.message and "\n" not in error.message.strip()
    else:
        assert article.citations and all(c.claim for c in article.citations)


@pytest.mark.slow
@pytest.mark.timeout(900)
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_archive_command_on_random_articles_and_options(
    data: st.DataObject, server: WebServer
) -> None:
    suffix, content = data.draw(articles(server))
    options: list[str] = []
    for option in ("--timeout", "--delay", "--concurrency", "--max-bytes"):
        if data.draw(st.booleans()):
            options += [option, data.draw(NUMBERS)]
    for option in ("--user-agent", "--contact"):
        if data.draw(st.booleans()):
            options += [option, data.draw(HEADER_TEXT)]
    if data.draw(st.booleans()):
        options.append("--allow-private-addresses")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"article{suffix}"
        source.write_bytes(content)
        args = ["archive", str(source), "--db", f"{folder}/a.db", "--warc-dir", f"{folder}/w"]
        # Quick servers and a short timeout bound the run; --timeout drawn above may lengthen
        # it to at most 0.5 s a response.
        result = CliRunner().invoke(cli, [*args, "--ignore-robots", "--silent", *options])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    if result.exit_code:
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
        assert len(errors) == 1, result.stderr
