"""Ingest an article: read the source, find its citations and claims, read its metadata.

A source is a Markdown file (.md, .markdown, .txt), an HTML file (.html, .htm), an http(s) URL,
or ``-`` for standard input (format sniffed). Every way a source can be unusable ends in an
``ArticleError`` with one clear sentence; ``usage=True`` marks the ones the user must fix in the
command line (exit code 2).
"""

from __future__ import annotations

import codecs
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from archiver.errors import ArticleError
from archiver.ingest.claims import (
    Citation,
    ParsedArticle,
    SkippedLink,
    citations_from,
    join_broken_paragraphs,
)
from archiver.ingest.markdown import parse_markdown
from archiver.ingest.urls import normalise_url
from archiver.net.charset import decode_html
from archiver.net.fetch import FetchConfig, fetch, make_session
from archiver.net.result import CAPTURED
from archiver.net.robots import RobotsCache

LOGGER = logging.getLogger(__name__)

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
MAX_ARTICLE_BYTES = 20_000_000


@dataclass
class Article:
    """An ingested article, shaped like an ``articles`` row plus its citations and the links
    that are not citations (``skipped_links`` rows)."""

    source_key: str  # what identifies the article across reruns: its URL, file path or digest
    url: str | None
    path: str | None
    title: str | None
    author: str | None
    publisher: str | None
    published: str | None
    text: str
    citations: list[Citation] = field(default_factory=list)
    skipped: list[SkippedLink] = field(default_factory=list)
    published_from: str | None = None  # where the date was read (ParsedArticle.published_from)
    ingested_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds")
    )

    @property
    def unresolved(self) -> int:
        return sum(1 for c in self.citations if c.url is None)

    def as_row(self) -> dict[str, Any]:
        return {
            "source_key": self.source_key,
            "url": self.url,
            "path": self.path,
            "title": self.title,
            "author": self.author,
            "publisher": self.publisher,
            "published": self.published,
            "published_from": self.published_from,
            "ingested_at": self.ingested_at,
            "text": self.text,
        }


def looks_binary(data: bytes) -> bool:
    """True for bytes no article holds: NULs (outside UTF-16) or many control bytes."""
    head = data[:8192]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    controls = sum(1 for byte in head if byte < 9 or 13 < byte < 32)
    return b"\x00" in head or controls > len(head) // 20


def sniff_format(data: bytes) -> str:
    """ "html" when the text starts like an HTML document, else "markdown"."""
    head = data[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml")):
        return "html"
    return "html" if b"<body" in head or b"<p>" in head or b"<article" in head else "markdown"


def read_file(path: Path) -> tuple[bytes, str]:
    """Bytes and format ("markdown" | "html") of an article file, refusing what is not one."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise ArticleError(f"{path}: no such file", usage=True)
    if path.is_dir():
        raise ArticleError(f"{path}: is a directory, expected an article file", usage=True)
    if not path.is_file():  # a FIFO, socket or device would block or never end
        raise ArticleError(f"{path}: is not a regular file, expected an article file", usage=True)
    if suffix in MARKDOWN_SUFFIXES:
        kind = "markdown"
    elif suffix in HTML_SUFFIXES:
        kind = "html"
    else:
        raise ArticleError(
            f"{path}: unknown file type {suffix or '(none)'!r}; expected .md, .markdown, .txt, "
            ".html or .htm, an http(s) URL, or - for standard input",
            usage=True,
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_ARTICLE_BYTES + 1)
    except OSError as error:
        raise ArticleError(f"{path}: cannot be read ({error.strerror})", usage=True) from error
    if len(data) > MAX_ARTICLE_BYTES:
        raise ArticleError(f"{path}: larger than {MAX_ARTICLE_BYTES:,} bytes", usage=True)
    return data, kind


def _require_unicode(data: bytes, name: str) -> None:
    """Markdown declares no charset, and a guess on a short text is often wrong ("Café" read
    as "Cafķ"): it must be UTF-8, or UTF-16 with a byte-order mark."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ArticleError(
            f"{name}: is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "convert it first, e.g. iconv -f latin1 -t utf-8",
            usage=True,
        ) from None


def _parse(
    data: bytes, kind: str, *, url: str | None, name: str, charset: str | None = None
) -> ParsedArticle:
    """Refuse empty and binary input, decode, and hand the text to the parser of its format."""
    if not data.strip():
        raise ArticleError(f"{name}: the article is empty")
    if looks_binary(data):
        raise ArticleError(f"{name}: is a binary file, not a Markdown or HTML article", usage=True)
    if kind == "markdown" and charset is None:
        _require_unicode(data, name)
    text, _ = decode_html(data, charset, look_for_meta=kind == "html")
    if kind == "html":
        # Imported here: trafilatura and lxml cost 25 MB that a Markdown article never needs.
        from archiver.ingest.html import parse_html

        return parse_html(text, url=url)
    parsed = parse_markdown(text)
    parsed.base_url = url
    return parsed


def build_article(
    data: bytes,
    kind: str,
    *,
    source_key: str,
    url: str | None = None,
    path: str | None = None,
    charset: str | None = None,
) -> Article:
    """Turn the bytes of an article into an ``Article`` with numbered citations.

    Raises:
        ArticleError: empty, binary, not parseable, or without a single citation.
    """
    name = url or path or "standard input"
    parsed = _parse(data, kind, url=url, name=name, charset=charset)
    paragraphs = join_broken_paragraphs(parsed.paragraphs)
    if not paragraphs:
        raise ArticleError(f"{name}: the article has no text")
    citations, skipped = citations_from(paragraphs, base_url=parsed.base_url, article_url=url)
    if not citations:
        reasons = ", ".join(sorted({link.reason for link in skipped}))
        left_out = f" ({len(skipped)} links left out: {reasons})" if skipped else ""
        raise ArticleError(f"{name}: the article cites no links, nothing to archive{left_out}")
    return Article(
        source_key=source_key,
        url=url,
        path=path,
        text="\n\n".join(p.text for p in paragraphs),
        citations=citations,
        skipped=skipped,
        title=parsed.title,
        author=parsed.author,
        publisher=parsed.publisher,
        published=parsed.published,
        published_from=parsed.published_from,
    )


def fetch_article(url: str, config: FetchConfig) -> Article:
    """Download an article page through the guarded, polite fetcher and ingest it."""
    robots = None if config.ignore_robots else RobotsCache(config)
    result = fetch(url, session=make_session(config), config=config, robots=robots)
    try:
        if result.outcome not in CAPTURED or result.body is None:
            reason = result.error or f"HTTP {result.status_code}"
            raise ArticleError(f"{url}: {result.outcome} ({reason})", url=url)
        if result.content_type and not any(t in result.content_type for t in ("html", "xml")):
            raise ArticleError(f"{url}: is {result.content_type}, not an HTML article", url=url)
        body = result.body.read(MAX_ARTICLE_BYTES)
    finally:
        result.close()
    final_url = result.final_url or url
    return build_article(body, "html", source_key=url, url=final_url, charset=result.charset)


def load_article(
    source: str, *, stdin: BinaryIO | None = None, fetch_config: FetchConfig | None = None
) -> Article:
    """Read one SOURCE as given on the command line and ingest it.

    Args:
        source: a file path, an http(s) URL, or ``-`` for ``stdin``.
        stdin: the stream to read for ``-``.
        fetch_config: how to download an article URL (defaults apply when None).

    Raises:
        ArticleError: with a message fit for the user; ``usage`` is set for command-line mistakes.
    """
    if source == "-":
        if stdin is None:
            raise ArticleError("standard input is not available", usage=True)
        data = stdin.read(MAX_ARTICLE_BYTES + 1)
        if len(data) > MAX_ARTICLE_BYTES:
            raise ArticleError(f"standard input: larger than {MAX_ARTICLE_BYTES:,} bytes")
        digest = hashlib.sha256(data).hexdigest()
        return build_article(data, sniff_format(data), source_key=f"stdin:sha256:{digest}")
    if "://" in source:
        url = normalise_url(source)
        if url is None:
            raise ArticleError(f"{source}: not an http(s) URL", usage=True)
        return fetch_article(url, fetch_config or FetchConfig())
    path = Path(source).expanduser()
    data, kind = read_file(path)
    resolved = str(path.resolve())
    return build_article(data, kind, source_key=f"file:{resolved}", path=resolved)
