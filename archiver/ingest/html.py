"""HTML articles: the links of the main content only, with the href as the author wrote it.

trafilatura decides what the main content is (navigation, header, footer, sidebars, share
buttons, related articles and comments are left out). It also rewrites hrefs on its way (``#``
becomes the site's home page), so before handing the page over every ``<a href>`` is replaced by
a numbered token URL; the tokens in trafilatura's output lead back to the original hrefs.

What chrome trafilatura keeps ("Follow us on Twitter", "Related: ...") is sorted out with every
other link in ``claims.citations_from``, which records why a link is not a citation.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urljoin

import lxml.etree
import lxml.html
import trafilatura

from archiver.errors import ArticleError
from archiver.ingest.claims import LinkSpan, Paragraph, ParsedArticle
from archiver.ingest.dates import STATED_DATE_PARAMS, date_source

LOGGER = logging.getLogger(__name__)

TOKEN_PREFIX = "https://citation-archiver.invalid/link/"
TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"(\d+)$")
BLOCK_KINDS = {"p": "p", "head": "heading", "item": "item", "quote": "quote", "cell": "cell"}
CONTAINERS = {"list", "table", "row", "div", "main", "figure", "code"}


def _base_url(tree: lxml.html.HtmlElement, url: str | None) -> str | None:
    """``<base href>`` resolved against the page address, or the page address itself."""
    for base in tree.iter("base"):
        href: str | None = base.get("href")
        if href:
            return urljoin(url, href.strip()) if url else href.strip()
    return url


def _tokenise_links(tree: lxml.html.HtmlElement) -> list[str]:
    """Swap every href for a numbered token; return the original hrefs by number."""
    hrefs: list[str] = []
    for anchor in tree.iter("a"):
        href = anchor.get("href")
        if href is not None:
            anchor.set("href", f"{TOKEN_PREFIX}{len(hrefs)}")
            hrefs.append(href)
    return hrefs


class _BlockWriter:
    """Accumulates the text and link spans of one block of trafilatura's XML."""

    def __init__(self, hrefs: list[str]):
        self.hrefs = hrefs
        self.parts: list[str] = []
        self.links: list[LinkSpan] = []
        self.length = 0

    def add(self, text: str | None) -> None:
        if text:
            self.parts.append(text)
            self.length += len(text)

    def add_inline(self, element: lxml.etree._Element) -> None:
        start = self.length
        if element.tag == "lb":
            self.add("\n")
        else:
            self.add(element.text)
            for child in element:
                self.add_inline(child)
                self.add(child.tail)
        if element.tag == "ref":
            match = TOKEN.match(element.get("target") or "")
            href = self.hrefs[int(match.group(1))] if match else element.get("target")
            self.links.append(LinkSpan(start, self.length, href))

    def paragraph(self, kind: str) -> Paragraph | None:
        raw = "".join(self.parts)
        text = re.sub(r"\s", " ", raw)  # same length, so link spans stay valid
        stripped = text.strip()
        if not stripped:
            return None
        lead = len(text) - len(text.lstrip())
        links = [
            LinkSpan(max(0, s.start - lead), min(len(stripped), s.end - lead), s.href)
            for s in self.links
        ]
        return Paragraph(stripped, links, kind)


def _blocks(element: lxml.etree._Element, kind: str, hrefs: list[str]) -> list[Paragraph]:
    """Paragraphs of one XML element; nested blocks (a list inside an item) become their own."""
    paragraphs: list[Paragraph] = []
    writer = _BlockWriter(hrefs)

    def flush() -> None:
        nonlocal writer
        para = writer.paragraph(kind)
        if para is not None:
            paragraphs.append(para)
        writer = _BlockWriter(hrefs)

    writer.add(element.text)
    for child in element:
        if child.tag in BLOCK_KINDS or child.tag in CONTAINERS:
            flush()
            paragraphs.extend(_blocks(child, BLOCK_KINDS.get(child.tag, kind), hrefs))
        else:
            writer.add_inline(child)
        writer.add(child.tail)
    flush()
    return paragraphs


def parse_html(html: str, *, url: str | None) -> ParsedArticle:
    """Main-content paragraphs with their links, and the page's metadata.

    Raises:
        ArticleError: when the document is not HTML or has no main text.
    """
    try:
        tree = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError) as error:
        raise ArticleError(f"not an HTML document: {error}", url=url) from error
    # React pages put <!-- --> between text runs; trafilatura drops a comment with its tail text.
    lxml.etree.strip_tags(tree, lxml.etree.Comment)
    base_url = _base_url(tree, url)
    hrefs = _tokenise_links(tree)
    xml = trafilatura.extract(
        tree,
        url=url,
        output_format="xml",
        include_links=True,
        include_comments=False,
        include_tables=True,
        with_metadata=True,
        deduplicate=False,
        date_extraction_params=STATED_DATE_PARAMS,
    )
    if not xml:
        raise ArticleError("no article text found in the HTML page", url=url)
    doc = lxml.etree.fromstring(xml.encode("utf-8"))
    main = doc.find("main")
    paragraphs = _blocks(main, "p", hrefs) if main is not None else []
    return ParsedArticle(
        title=doc.get("title") or None,
        author=doc.get("author") or None,
        publisher=doc.get("sitename") or None,
        published=doc.get("date") or None,
        published_from=date_source(tree, doc.get("url") or url, doc.get("date") or None),
        base_url=base_url,
        paragraphs=paragraphs,
    )
