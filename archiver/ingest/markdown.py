"""Markdown articles: paragraphs with link spans, and the title/byline/publication lines.

Parsed with markdown-it-py (CommonMark plus tables and strikethrough), so escapes such as
``US\\$30`` and ``\\(BRI\\)`` come out as the reader sees them and emphasis markers disappear.
Metadata comes from the lines people actually write at the top of a pasted article: a title line,
"By NAME, AFFILIATION" and "Originally published by PUBLISHER, DATE".
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

from archiver.ingest.claims import CLOSERS, SENTENCE_END, LinkSpan, Paragraph, ParsedArticle
from archiver.ingest.dates import parse_date

BLOCK_KINDS = {
    "paragraph_open": "p",
    "heading_open": "heading",
    "th_open": "cell",
    "td_open": "cell",
}

BYLINE = re.compile(r"^by\s+(?P<author>[^,|\n]+?)\s*(?:[,|–—-]\s*(?P<affiliation>.+))?$", re.I)
ORIGINALLY_PUBLISHED = re.compile(
    r"^(?:this (?:article|piece) was )?(?:originally|first) (?:published|appeared)\s+"
    r"(?:by|in|on|at)\s+(?:the\s+)?(?P<publisher>.+?)"
    r"(?:\s*(?:,|\bon\b)\s*(?P<date>[^,]*\d[^,]*))?\s*\.?$",
    re.I,
)
MAX_TITLE_WORDS = 25


def _inline_paragraph(inline: Token, kind: str) -> Paragraph:
    """Plain text of one inline token with the spans of its links (soft breaks become "\\n")."""
    parts: list[str] = []
    links: list[LinkSpan] = []
    open_link: tuple[int, str | None] | None = None
    length = 0
    for child in inline.children or []:
        piece = ""
        if child.type in ("text", "code_inline"):
            piece = child.content
        elif child.type in ("softbreak", "hardbreak"):
            piece = "\n"
        elif child.type == "image":
            piece = child.content  # the alt text
        elif child.type == "link_open":
            href = child.attrs.get("href")
            open_link = (length, str(href) if href is not None else None)
        elif child.type == "link_close" and open_link is not None:
            links.append(LinkSpan(open_link[0], length, open_link[1]))
            open_link = None
        parts.append(piece)
        length += len(piece)
    return _strip(Paragraph("".join(parts), links, kind))


def _strip(para: Paragraph) -> Paragraph:
    """Trim surrounding whitespace, shifting link spans so they still point at the anchors."""
    leading = len(para.text) - len(para.text.lstrip())
    text = para.text.strip()
    links = [
        LinkSpan(max(0, s.start - leading), min(len(text), s.end - leading), s.href)
        for s in para.links
    ]
    return Paragraph(text, links, para.kind)


def markdown_paragraphs(source: str) -> list[Paragraph]:
    """Every text block of the document in reading order, list items and quotes included."""
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    tokens = md.parse(source)
    paragraphs: list[Paragraph] = []
    kind_stack: list[str] = []
    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open"):
            kind_stack.append("item")
        elif token.type == "blockquote_open":
            kind_stack.append("quote")
        elif token.type in ("bullet_list_close", "ordered_list_close", "blockquote_close"):
            kind_stack.pop()
        elif token.type in BLOCK_KINDS:
            kind = BLOCK_KINDS[token.type]
            if kind == "p" and kind_stack:
                kind = kind_stack[-1]
            kind_stack.append(kind)
        elif token.type in ("paragraph_close", "heading_close", "th_close", "td_close"):
            kind_stack.pop()
        elif token.type == "inline" and kind_stack:
            para = _inline_paragraph(token, kind_stack[-1])
            if para.text:
                paragraphs.append(para)
        elif token.type in ("code_block", "fence") and token.content.strip():
            paragraphs.append(Paragraph(token.content.strip(), [], "code"))
    return paragraphs


def _looks_like_title(para: Paragraph) -> bool:
    text = para.text.rstrip(CLOSERS)
    return (
        not para.links
        and "\n" not in para.text
        and len(para.text.split()) <= MAX_TITLE_WORDS
        and bool(text)
        and text[-1] not in SENTENCE_END
    )


def _read_front_matter(lines: list[str], article: ParsedArticle) -> bool:
    """Fill author/publisher/date from byline-like lines; True if every line was one."""
    recognised = True
    for line in (raw.strip() for raw in lines):
        if not line:
            continue
        if byline := BYLINE.match(line):
            article.author = article.author or byline["author"].strip()
        elif published := ORIGINALLY_PUBLISHED.match(line):
            article.publisher = article.publisher or published["publisher"].strip(" ,.")
            if published["date"]:
                article.published = article.published or parse_date(published["date"])
                article.published_from = "byline" if article.published else None
        else:
            recognised = False
    return recognised


def parse_markdown(source: str) -> ParsedArticle:
    """Split a Markdown article into metadata and body paragraphs.

    The title is the first heading, or a short first line with no closing punctuation (pasted
    articles lose their ``#``). Byline and "Originally published" paragraphs near the top are
    metadata, not body text.
    """
    article = ParsedArticle()
    body: list[Paragraph] = []
    for index, para in enumerate(markdown_paragraphs(source)):
        at_top = not any(p.links or p.kind == "p" for p in body)
        if at_top and index < 4:
            if article.title is None and (para.kind == "heading" or _looks_like_title(para)):
                article.title = para.text.replace("\n", " ")
                continue
            if not para.links and _read_front_matter(para.text.split("\n"), article):
                continue
        body.append(Paragraph(para.text.replace("\n", " "), para.links, para.kind))
    article.paragraphs = body
    return article
