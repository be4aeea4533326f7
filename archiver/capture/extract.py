"""Main text and metadata out of a captured body: HTML with trafilatura, PDF with pypdf.

``extract`` never raises on bad input: a broken PDF, an image, an empty body or a page in an
unexpected encoding all give an ``Extracted`` (with ``text=None`` when there is nothing to read),
because one odd source must not stop an archive run.

Pages are decoded by ``net.charset.decode_html``.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from archiver.ingest.dates import STATED_DATE_PARAMS, date_source
from archiver.net.charset import BOMS, PRESCAN_BYTES, decode_html

if TYPE_CHECKING:
    from pypdf import PdfReader

LOGGER = logging.getLogger(__name__)

__all__ = ["Extracted", "extract", "read_extractable", "sniff_kind"]

#: HTML handed to trafilatura is cut here: a worker's memory grows with the HTML it parses
#: (bench/README.md, "Where the memory goes"), real article pages are well under it, and a page
#: cut in the middle still parses (lxml recovers), so only text past the cap is lost.
MAX_HTML_BYTES = 2_000_000
#: How trafilatura is asked (the benchmark's bare-trafilatura floor uses the same). ``fast``:
#: without its readability and jusText fallbacks, which on the developer corpus change no text
#: but cost CPU and each worker the memory of jusText's stoplists; ``_extract_html``'s baseline
#: check still rescues an article trafilatura's main pass lost. Dates: only stated ones
#: (archiver/ingest/dates.py).
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "with_metadata": True,
    "include_comments": False,
    "include_tables": True,
    "favor_recall": True,
    "fast": True,
    "date_extraction_params": STATED_DATE_PARAMS,
}
#: PDFs must be read whole to be parsed; larger ones are captured without text.
MAX_PDF_BYTES = 20_000_000
#: Below this share of the baseline's text, trafilatura's main text is taken to have lost the
#: article (measured on the developer corpus: 0.4 lifts the worst page from 0.35 to 1.0 token
#: recall and costs 0.3 points of mean precision; 0.5 and up start replacing good extractions).
BASELINE_RATIO = 0.4
#: PDF text stops after this many pages or characters, so a 2,000-page report cannot stall a run.
MAX_PDF_PAGES = 2_000
MAX_TEXT_CHARS = 5_000_000

_HTML_TYPES = {"text/html", "application/xhtml+xml", "application/vnd.wap.xhtml+xml"}
_TEXT_TYPES = {"text/plain", "text/markdown", "text/x-markdown", "text/csv"}
#: Declared types that say nothing about the bytes, so sniffing decides.
_VAGUE_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}
#: Start of the WHATWG MIME-sniffing HTML patterns, each followed by a space or ">".
_HTML_SIGNATURES = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
    b"<!--",
    b"<meta",
)
_BINARY_MAGIC = (
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"RIFF",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"\x00\x00\x01\x00",
    b"wOFF",
    b"wOF2",
    b"OggS",
    b"\x1a\x45\xdf\xa3",
)
_XML_DECL_STR = re.compile(r"^\s*<\?xml[^>]*\?>")
_HTML_LANG = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?\s*([A-Za-z]{2,3})\b", re.I)
_META_LANG = re.compile(
    r"<meta[^>]+(?:http-equiv|name|property)\s*=\s*[\"']?(?:content-language|language|"
    r"dc\.language|og:locale)[\"']?[^>]*?content\s*=\s*[\"']?\s*([A-Za-z]{2,3})\b",
    re.I,
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Extracted:
    """Text and metadata of one body, shaped like the ``sources`` columns.

    ``kind`` ("html", "pdf", "text" or "other") and ``encoding`` (the codec the text was decoded
    with) are diagnostics, not columns, so ``as_dict`` leaves them out.
    """

    title: str | None = None
    author: str | None = None
    published: str | None = None  # ISO date, "2018-03-29"
    published_from: str | None = (
        None  # where the page states it (archiver.ingest.dates.date_source)
    )
    sitename: str | None = None
    language: str | None = None  # ISO 639-1 primary subtag, "en"
    text: str | None = None
    kind: str = "other"
    encoding: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The ``sources`` columns this fills."""
        return {
            "title": self.title,
            "author": self.author,
            "published": self.published,
            "published_from": self.published_from,
            "sitename": self.sitename,
            "language": self.language,
            "text": self.text,
        }


def extract(
    body: bytes, *, content_type: str | None, url: str, charset: str | None = None
) -> Extracted:
    """Main text and metadata of a captured body.

    Args:
        body: the decoded entity (content-encoding undone), possibly empty.
        content_type: the media type from the response, if any ("text/html"); parameters ignored.
        url: the URL the body came from (resolves relative metadata, helps trafilatura).
        charset: the charset declared in the Content-Type header, if any.

    Returns:
        An ``Extracted``; ``text`` is None when nothing readable was found. Never raises for bad
        input.
    """
    kind = sniff_kind(body, content_type)
    if not body:
        return Extracted(kind=kind)
    try:
        if kind == "html":
            return _extract_html(body, url=url, charset=charset)
        if kind == "pdf":
            return _extract_pdf(body)
        if kind == "text":
            text, encoding = decode_html(body[:MAX_TEXT_CHARS], charset, look_for_meta=False)
            return Extracted(kind="text", text=text.strip() or None, encoding=encoding)
    except Exception:  # a library bug on one odd page must not stop the run
        LOGGER.warning("extraction failed for %s", url, exc_info=True)
        return Extracted(kind=kind)
    return Extracted(kind=kind)


def read_extractable(stream: IO[bytes], content_type: str | None) -> bytes:
    """The part of a captured body that ``extract`` will use, and no more.

    HTML and text past MAX_HTML_BYTES would be cut anyway, so a 50 MB page never sits in memory
    (or crosses to a worker process) whole; a PDF is read whole up to MAX_PDF_BYTES.
    """
    head = stream.read(MAX_HTML_BYTES)
    if sniff_kind(head, content_type) != "pdf":
        return head
    rest = stream.read(MAX_PDF_BYTES - len(head) + 1)
    return b"" if len(head) + len(rest) > MAX_PDF_BYTES else head + rest


def sniff_kind(body: bytes, content_type: str | None) -> str:
    """ "html", "pdf", "text" or "other", from the bytes first and the declared type second.

    Magic bytes win over the header: servers label error pages ``application/pdf`` and PDFs
    ``application/octet-stream``, and the archive wants what the bytes are.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    head = body[:1024]
    if b"%PDF-" in head:  # the PDF spec lets the header start anywhere in the first 1024 bytes
        return "pdf"
    if head.startswith(_BINARY_MAGIC):
        return "other"
    if _looks_like_html(head):
        return "html"
    if media in _HTML_TYPES:
        return "html"
    texty = media in _TEXT_TYPES or media in _VAGUE_TYPES or media.startswith("text/")
    if texty and media != "text/css" and head and _is_text(head):
        return "text"
    return "other"


def _looks_like_html(head: bytes) -> bool:
    for bom, codec in BOMS:
        if head.startswith(bom):
            head = head[len(bom) :].decode(codec, "replace").encode("ascii", "replace")
            break
    start = head.lstrip(b" \t\r\n\x0c").lower()
    if start.startswith(b"<?xml"):
        return b"<html" in start or b"xhtml" in start
    return any(
        start.startswith(sig) and start[len(sig) : len(sig) + 1] in (b" ", b">", b"\n", b"\t")
        for sig in _HTML_SIGNATURES
    )


def _is_text(head: bytes) -> bool:
    """No NUL and few control bytes: text in some ASCII-compatible encoding."""
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return b"\x00" not in head and controls <= len(head) // 100


# -- HTML ----------------------------------------------------------------------------------------
def _extract_html(body: bytes, *, url: str, charset: str | None) -> Extracted:
    # Imported here: the coordinator of a large run never extracts (worker processes do), and
    # trafilatura with lxml would cost it 25 MB of resident memory for nothing.
    from trafilatura import bare_extraction
    from trafilatura.baseline import baseline, html2txt
    from trafilatura.metadata import extract_metadata
    from trafilatura.settings import Document
    from trafilatura.utils import load_html

    if len(body) > MAX_HTML_BYTES:
        LOGGER.info("%s: HTML of %d bytes cut to %d", url, len(body), MAX_HTML_BYTES)
        body = body[:MAX_HTML_BYTES]
    html, encoding = decode_html(body, charset)
    # lxml refuses a str that still carries an XML encoding declaration, and trafilatura would
    # then re-encode to bytes and let the (possibly wrong) declaration decide again.
    html = _XML_DECL_STR.sub("", html, count=1)
    result = Extracted(kind="html", encoding=encoding)
    tree = load_html(html)
    if tree is None and html.strip():  # a bare fragment: trafilatura wants a whole document
        tree = load_html(f"<html><body>{html}</body></html>")
    if tree is None:
        return result

    document = bare_extraction(tree, url=url, **TRAFILATURA_OPTIONS)
    main = document.text or "" if isinstance(document, Document) else ""
    if not isinstance(document, Document):
        # Too little main text for trafilatura, which then drops the metadata too.
        document = extract_metadata(tree, url, STATED_DATE_PARAMS)
    # trafilatura's boilerplate filter sometimes cuts an article split across containers or
    # one whose body also sits in JSON-LD; when it keeps under BASELINE_RATIO of what the
    # baseline finds (JSON-LD articleBody, <article>, <p> text), the baseline is the better text.
    # The baseline costs a fifth of an extraction: skip it when the main text already holds
    # BASELINE_RATIO of all the page's text, since the baseline can then not be 1/ratio larger.
    text = main
    if len(main) < BASELINE_RATIO * len(tree.text_content()):
        fallback = baseline(tree)[1]
        text = main if len(main) >= BASELINE_RATIO * len(fallback) else fallback
    if not text.strip():
        text = html2txt(tree)  # a short page still has the text a reader sees
    result.title = _clean(document.title)
    result.author = _clean(document.author)
    result.sitename = _clean(document.sitename)
    result.published = document.date if document.date and _ISO_DATE.match(document.date) else None
    result.published_from = date_source(tree, document.url or url, result.published)
    result.text = text.strip()[:MAX_TEXT_CHARS] or None
    result.language = _language(html, result.text)
    return result


def _language(html: str, text: str | None) -> str | None:
    """Language of the text when py3langid is installed, else the page's declaration."""
    from trafilatura.utils import LANGID_FLAG, language_classifier  # see _extract_html

    if LANGID_FLAG and text:
        detected = language_classifier(text, "")
        if detected:
            return detected.lower()
    head = html[:PRESCAN_BYTES]
    match = _HTML_LANG.search(head) or _META_LANG.search(head)
    return match.group(1).lower() if match else None


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


# -- PDF -----------------------------------------------------------------------------------------
def _extract_pdf(body: bytes) -> Extracted:
    """Text of the pages (bounded) and the info dictionary; nothing from an unreadable file."""
    from pypdf import PdfReader  # imported here for the reason given in _extract_html

    result = Extracted(kind="pdf")
    try:
        reader = PdfReader(io.BytesIO(body), strict=False)
        if reader.is_encrypted and not _decrypt(reader):
            LOGGER.info("PDF is encrypted with a password: no text")
            return result
    except Exception as err:  # pypdf raises many kinds on broken files
        LOGGER.info("unreadable PDF: %s", err)
        return result
    _pdf_metadata(reader, result)
    parts: list[str] = []
    size = 0
    try:
        for number, page in enumerate(reader.pages):
            if number >= MAX_PDF_PAGES or size >= MAX_TEXT_CHARS:
                LOGGER.info("PDF text stopped at page %d (%d chars)", number, size)
                break
            try:
                page_text = page.extract_text() or ""
            except Exception as err:  # one bad page should not lose the others
                LOGGER.info("PDF page %d unreadable: %s", number + 1, err)
                continue
            parts.append(page_text.strip())
            size += len(page_text)
    except Exception as err:  # a broken page tree
        LOGGER.info("PDF page tree unreadable: %s", err)
    text = "\n\n".join(part for part in parts if part)[:MAX_TEXT_CHARS]
    result.text = text or None
    return result


def _decrypt(reader: PdfReader) -> bool:
    """Open a PDF encrypted with an empty user password (only the owner's rights are locked)."""
    try:
        return bool(reader.decrypt(""))
    except Exception as err:  # e.g. AES without the cryptography package
        LOGGER.info("PDF decryption failed: %s", err)
        return False


def _pdf_metadata(reader: PdfReader, result: Extracted) -> None:
    try:
        info = reader.metadata
        if info is not None:
            result.title = _clean(info.title)
            result.author = _clean(info.author)
            try:
                created = info.creation_date
            except Exception:  # malformed date strings are common
                created = None
            if created:
                result.published, result.published_from = created.date().isoformat(), "metadata"
    except Exception as err:
        LOGGER.info("PDF metadata unreadable: %s", err)
    try:
        lang = reader.root_object.get("/Lang")
        if isinstance(lang, str) and re.match(r"^[A-Za-z]{2,3}\b", lang):
            result.language = re.split(r"[-_]", lang)[0].lower()
    except Exception as err:
        LOGGER.info("PDF catalog unreadable: %s", err)
