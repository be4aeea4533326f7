"""Citations out, in formats other tools read (issue 13).

* ``csv`` and ``json``: one row per citation (``EXPORT_COLUMNS``), for spreadsheets and scripts.
* ``csl-json``: one CSL item per cited source, for Zotero, pandoc and citeproc.
* ``robust-html``: the article with each resolved link decorated as the Robust Links
  specification says (https://robustlinks.mementoweb.org/spec/): ``data-originalurl``,
  ``data-versionurl`` and ``data-versiondate``.
* ``wacz``: the captures of the cited pages as one WACZ package (py-wacz), which replayweb.page
  and pywb open.

Exports are deterministic: rows are sorted, keys come in a fixed order, and the same archive gives
the same bytes. The one exception is the WACZ ``datapackage.json`` ``created`` field, which the
WACZ format requires to be the package's creation time (and the digest of that file in
``datapackage-digest.json``, which covers it).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from html import escape
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from warcio.archiveiterator import ArchiveIterator

from archiver.errors import ArchiverError
from archiver.store import (
    EXPORT_COLUMNS,
    ExportArticle,
    ExportCapture,
    ExportCitation,
    ExportSource,
    export_articles,
    export_captures,
    export_citations,
    export_sources,
    warc_file,
)

LOGGER = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_REPLAY_PREFIX",
    "FORMATS",
    "TEXT_FORMATS",
    "ExportError",
    "export_text",
    "write_wacz",
]

TEXT_FORMATS = ("csv", "json", "csl-json", "robust-html")
FORMATS = (*TEXT_FORMATS, "wacz")
#: Where a local capture replays when no web-archive snapshot is known: pywb's default address
#: and a collection named ``citations`` made from the WACZ export (``wb-manager add citations
#: citations.wacz``); the capture is ``PREFIX + 14-digit timestamp + "/" + URL`` there.
DEFAULT_REPLAY_PREFIX = "http://localhost:8080/citations/"
#: The file name the WACZ gives the WARC records it packages (``archive/<name>``).
WACZ_WARC_NAME = "citations.warc.gz"
_CHUNK = 1 << 16


class ExportError(ArchiverError):
    """An export that cannot be made: nothing to package, or a capture's WARC file is gone."""


def export_text(
    db: Database,
    fmt: str,
    article_ids: Iterable[int] = (),
    *,
    replay_prefix: str = DEFAULT_REPLAY_PREFIX,
) -> str:
    """The citations of the articles (all when none given) in one of ``TEXT_FORMATS``.

    Args:
        fmt: ``csv``, ``json``, ``csl-json`` or ``robust-html``.
        replay_prefix: for ``robust-html``, where a link with no web-archive snapshot, but a
            local capture, points its ``data-versionurl`` (see ``DEFAULT_REPLAY_PREFIX``).

    Returns:
        The whole document, ending with a newline.
    """
    ids = list(article_ids)
    if fmt == "csv":
        return citations_csv(export_citations(db, ids))
    if fmt == "json":
        return _json([_row(citation) for citation in export_citations(db, ids)])
    if fmt == "csl-json":
        return _json([csl_item(source) for source in export_sources(db, ids)])
    if fmt == "robust-html":
        return robust_html(
            export_articles(db, ids), export_citations(db, ids), replay_prefix=replay_prefix
        )
    raise ValueError(f"not a text export format: {fmt}")


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _row(citation: ExportCitation) -> dict[str, Any]:
    """The exported columns of a citation, in ``EXPORT_COLUMNS`` order."""
    values = asdict(citation)
    return {column: values[column] for column in EXPORT_COLUMNS}


def citations_csv(citations: Sequence[ExportCitation]) -> str:
    """RFC 4180 CSV (CRLF line ends), a header row then one row per citation; null is empty."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for citation in citations:
        writer.writerow(["" if value is None else value for value in _row(citation).values()])
    return out.getvalue()


# -- CSL-JSON ------------------------------------------------------------------------------------
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
#: A word of a personal name: a capital letter, then letters, apostrophes, hyphens or dots.
_NAME_WORD = re.compile(r"^[^\W\d_a-z][^\W\d_]*(?:['’.-][^\W\d_]*)*\.?$")


def csl_item(source: ExportSource) -> dict[str, Any]:
    """A CSL-JSON item of ``type`` webpage for a cited source (an ``ExportSource``).

    ``id`` is the URL (unique and stable across exports), ``accessed`` the day of its first
    capture. Fields the archive does not know are left out, as CSL expects.
    """
    item: dict[str, Any] = {"id": source.url, "type": "webpage"}
    if source.title:
        item["title"] = source.title
    if source.author:
        item["author"] = csl_names(source.author)
    if source.sitename:
        item["container-title"] = source.sitename
    issued = csl_date(source.published)
    if issued:
        item["issued"] = issued
    item["URL"] = source.url
    accessed = csl_date(source.first_captured)
    if accessed:
        item["accessed"] = accessed
    if source.language:
        item["language"] = source.language
    return item


def csl_names(author: str) -> list[dict[str, str]]:
    """CSL names from an author line (trafilatura separates several with ``;``).

    "First Last" (two to four capitalised words) becomes ``given`` and ``family``; anything
    else, such as "World Bank staff" or "van der Berg, J.", stays whole as ``literal``, which
    CSL prints as written rather than splitting it wrongly.
    """
    names = []
    for part in re.split(r";|\s+and\s+|\s*&\s*", author):
        name = " ".join(part.split())
        if not name:
            continue
        words = name.split(" ")
        if 2 <= len(words) <= 4 and all(_NAME_WORD.match(word) for word in words):
            names.append({"family": words[-1], "given": " ".join(words[:-1])})
        else:
            names.append({"literal": name})
    return names


def csl_date(value: str | None) -> dict[str, list[list[int]]] | None:
    """CSL ``date-parts`` from an ISO date or timestamp (year, month, day as far as given)."""
    match = _DATE.match(value or "")
    if not match:
        return None
    return {"date-parts": [[int(part) for part in match.groups() if part is not None]]}


# -- Robust Links HTML ---------------------------------------------------------------------------
def robust_html(
    articles: Sequence[ExportArticle],
    citations: Sequence[ExportCitation],
    *,
    replay_prefix: str = DEFAULT_REPLAY_PREFIX,
) -> str:
    """The articles as one HTML document, each resolved citation a Robust Link.

    A link's ``href`` and ``data-originalurl`` are the cited URL. ``data-versionurl`` and
    ``data-versiondate`` are the web-archive snapshot nearest the article's date when one is
    known, else the local capture nearest it, replayed at ``replay_prefix``; a link with neither
    has only ``data-originalurl``. A citation whose URL was lost stays plain text.
    """
    by_article: dict[int, list[ExportCitation]] = defaultdict(list)
    for citation in citations:
        by_article[citation.article_id].append(citation)
    title = articles[0].title if len(articles) == 1 and articles[0].title else "Citations"
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        "</head><body>",
    ]
    for article in articles:
        parts.append(f'<article id="article-{article.id}">')
        if article.title:
            parts.append(f"<h1>{escape(article.title)}</h1>")
        byline = ", ".join(
            value for value in (article.author, article.publisher, article.published) if value
        )
        if byline:
            parts.append(f'<p class="byline">{escape(byline)}</p>')
        for text, spans in _paragraphs(article, by_article[article.id]):
            parts.append(f"<p>{_linked(text, spans, replay_prefix)}</p>")
        parts.append("</article>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _paragraphs(
    article: ExportArticle, citations: Sequence[ExportCitation]
) -> list[tuple[str, list[tuple[int, int, ExportCitation]]]]:
    """Each paragraph of the article with the spans of its citations' anchors in it.

    The paragraphs are the article's text; an article stored without one is rebuilt from its
    citations' contexts. A citation's ``start``/``end`` are offsets in its context, which is
    its paragraph or, for a long one, the sentences around the claim: the context is found in
    the paragraph first, else the anchor text after the previous link.
    """
    if article.text:
        texts = article.text.split("\n\n")
    else:
        contexts = {c.paragraph or 0: c.context or "" for c in citations}
        texts = [contexts[number] for number in sorted(contexts)]
        numbering = {number: index + 1 for index, number in enumerate(sorted(contexts))}
        citations = [
            ExportCitation(**(asdict(c) | {"paragraph": numbering[c.paragraph or 0]}))
            for c in citations
        ]
    spans: dict[int, list[tuple[int, int, ExportCitation]]] = defaultdict(list)
    for citation in citations:
        index = (citation.paragraph or 0) - 1
        if not 0 <= index < len(texts) or not citation.anchor_text:
            continue
        text = texts[index]
        anchor = citation.anchor_text
        shift = text.find(citation.context or "\0")
        start = shift + (citation.start or 0)
        if shift < 0 or text[start : start + len(anchor)] != anchor:
            after = spans[index][-1][1] if spans[index] else 0
            start = text.find(anchor, after)
        if start >= 0 and (not spans[index] or start >= spans[index][-1][1]):
            spans[index].append((start, start + len(anchor), citation))
    return [(text, spans[index]) for index, text in enumerate(texts)]


def _linked(text: str, spans: Sequence[tuple[int, int, ExportCitation]], prefix: str) -> str:
    """``text`` escaped, with each span of a resolved citation as a Robust Link."""
    out, at = [], 0
    for start, end, citation in spans:
        if not citation.url:
            continue
        out.append(escape(text[at:start], quote=False))
        attributes = {"href": citation.url, "data-originalurl": citation.url}
        version = version_of(citation, prefix)
        if version:
            attributes["data-versiondate"], attributes["data-versionurl"] = version
        rendered = " ".join(f'{name}="{escape(value)}"' for name, value in attributes.items())
        out.append(f"<a {rendered}>{escape(text[start:end], quote=False)}</a>")
        at = end
    out.append(escape(text[at:], quote=False))
    return "".join(out)


def version_of(citation: ExportCitation, replay_prefix: str) -> tuple[str, str] | None:
    """(YYYY-MM-DD, URL) of the version a Robust Link points at: the web-archive snapshot,
    else the local capture as replayed at ``replay_prefix``; None when there is neither."""
    if citation.memento_url and citation.memento_datetime:
        return citation.memento_datetime[:10], citation.memento_url
    if citation.capture_id is not None and citation.captured_at and citation.url:
        timestamp = re.sub(r"\D", "", citation.captured_at)[:14]
        return citation.captured_at[:10], f"{replay_prefix}{timestamp}/{citation.url}"
    return None


# -- WACZ ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Record:
    """Where one WARC record of a file is, and what ties it to a capture."""

    offset: int
    length: int
    record_type: str
    record_id: str
    concurrent_to: str | None
    target_uri: str
    date: str


@dataclass(frozen=True)
class WaczSummary:
    """What ``write_wacz`` packaged."""

    path: Path
    captures: int
    records: int
    pages: int


def write_wacz(db: Database, output: Path, article_ids: Iterable[int] = ()) -> WaczSummary:
    """Package the captures of the cited pages of the articles (all when none given) as a WACZ.

    The records of each capture (its final response and request, and the redirects before
    it) are copied byte for byte, in capture order, into one WARC file; py-wacz indexes it
    (CDXJ) and lists one page per capture (``pages/pages.jsonl``, id ``capture-<id>``). The
    zip entries get the newest capture's time, so only ``created`` in ``datapackage.json``
    (and its digest) changes from one export of the same archive to the next.

    Raises:
        ExportError: no capture to package, a WARC file or record is missing, or py-wacz failed.
    """
    ids = list(article_ids)
    captures = export_captures(db, ids)
    if not captures:
        raise ExportError("no captured page to package: run 'archiver archive' first")
    titles = {source.url: source.title for source in export_sources(db, ids)}
    articles = export_articles(db, ids)
    title = articles[0].title if len(articles) == 1 and articles[0].title else "Citations"
    output = Path(output)
    with tempfile.TemporaryDirectory(prefix="archiver-wacz-") as folder:
        warc = Path(folder) / WACZ_WARC_NAME
        pages, records = _copy_records(db, captures, warc, titles)
        pages_file = Path(folder) / "pages.jsonl"
        header = {"format": "json-pages-1.0", "id": "pages", "title": "Pages"}
        lines = [json.dumps(line) + "\n" for line in [header, *pages]]
        pages_file.write_text("".join(lines), encoding="utf-8")
        made = Path(folder) / "made.wacz"
        _run_py_wacz(
            ["create", "-o", str(made), "--pages", str(pages_file), "--title", title, str(warc)]
        )
        moment = max(capture.captured_at for capture in captures)
        partial = output.with_name(output.name + ".partial")
        _restamp(made, partial, moment)
        os.replace(partial, output)
    return WaczSummary(path=output, captures=len(captures), records=records, pages=len(pages))


def _run_py_wacz(args: list[str]) -> None:
    """``wacz ARGS`` in this process; what it prints is chatter, logged rather than on stdout."""
    from wacz.main import main as wacz_main

    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        code = wacz_main(args)
    LOGGER.debug("py-wacz: %s", said.getvalue())
    if code:
        raise ExportError(f"py-wacz could not make the package: {said.getvalue().strip()}")


def _copy_records(
    db: Database, captures: Sequence[ExportCapture], warc: Path, titles: dict[str, str | None]
) -> tuple[list[dict[str, str]], int]:
    """Copy each capture's records into ``warc``; the page of each capture (id, its final URL,
    the time of its final response, and the cited page's title) and the number of records
    copied."""
    scans: dict[str, list[_Record]] = {}
    pages: list[dict[str, str]] = []
    copied: set[tuple[str, int]] = set()
    with open(warc, "wb") as out:
        for capture in captures:
            path = warc_file(db, capture.warc_path)
            if capture.warc_path not in scans:
                if not path.is_file():
                    raise ExportError(f"{path}: WARC file of capture {capture.id} not found")
                scans[capture.warc_path] = _scan(path)
            records = scans[capture.warc_path]
            chosen = _records_of(capture, records)
            with open(path, "rb") as source:
                for record in chosen:
                    if (capture.warc_path, record.offset) in copied:
                        continue
                    copied.add((capture.warc_path, record.offset))
                    source.seek(record.offset)
                    _copy(source, out, record.length)
            final = next(r for r in chosen if r.offset == capture.warc_offset)
            pages.append(
                {
                    "id": f"capture-{capture.id}",
                    "url": final.target_uri,
                    "ts": final.date,
                    "title": titles.get(capture.url) or final.target_uri,
                }
            )
    return pages, len(copied)


def _scan(path: Path) -> list[_Record]:
    """Every record of a WARC file, in file order."""
    found = []
    with open(path, "rb") as handle:
        iterator = ArchiveIterator(handle)
        for record in iterator:
            headers = record.rec_headers
            while record.raw_stream.read(_CHUNK):
                pass
            found.append(
                _Record(
                    offset=iterator.get_record_offset(),
                    length=iterator.get_record_length(),
                    record_type=headers.get_header("WARC-Type"),
                    record_id=headers.get_header("WARC-Record-ID"),
                    concurrent_to=headers.get_header("WARC-Concurrent-To"),
                    target_uri=headers.get_header("WARC-Target-URI") or "",
                    date=headers.get_header("WARC-Date") or "",
                )
            )
    return found


def _records_of(capture: ExportCapture, records: Sequence[_Record]) -> list[_Record]:
    """The capture's records, in file order: the redirect hops the fetcher wrote just before its
    final response (a response and a request each), the final response, and its request."""
    index = next((i for i, r in enumerate(records) if r.offset == capture.warc_offset), None)
    if index is None or records[index].record_type != "response":
        raise ExportError(
            f"capture {capture.id}: no response record at offset {capture.warc_offset} "
            f"of {capture.warc_path}"
        )
    hops = {hop["url"] for hop in json.loads(capture.redirects or "[]")}
    first = index
    while first > 0 and index - first < 2 * len(hops) and records[first - 1].target_uri in hops:
        first -= 1
    last = index + 1
    while last < len(records) and records[last].concurrent_to == records[index].record_id:
        last += 1
    return list(records[first:last])


def _copy(source: Any, out: Any, length: int) -> None:
    """Copy ``length`` bytes from the current position of ``source``."""
    while length > 0:
        chunk = source.read(min(_CHUNK, length))
        if not chunk:
            raise ExportError(f"{source.name}: ends inside a record")
        out.write(chunk)
        length -= len(chunk)


def _restamp(made: Path, output: Path, moment: str) -> None:
    """Rewrite the zip with every entry dated ``moment`` (py-wacz dates them now) and the same
    content, order and compression: WARC and index stay stored, for random access."""
    digits = [int(part) for part in re.findall(r"\d+", moment)[:6]]
    date_time = tuple(digits + [0] * (6 - len(digits)))
    if date_time[0] < 1980:  # the earliest date a zip entry can carry
        date_time = (1980, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(made) as source, zipfile.ZipFile(output, "w") as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=date_time)  # type: ignore[arg-type]
            entry.compress_type = info.compress_type
            entry.external_attr = 0o644 << 16
            large = info.file_size > zipfile.ZIP64_LIMIT
            with source.open(info) as data, target.open(entry, "w", force_zip64=large) as copy:
                shutil.copyfileobj(data, copy, _CHUNK)
