"""From paragraphs with link spans to citations with the sentence each link supports.

Both article parsers (Markdown and HTML) reduce an article to ``Paragraph`` objects: plain text
plus the character spans of its links. This module repairs paragraphs broken mid-sentence, splits
them into sentences with pysbd (which copes with "Dr.", "U.S.", "US$30.5" and quotes), and gives
every link the full sentence it sits in as its claim.

A link that is not a citation is kept aside with the reason, never dropped unseen (issue 10).
Besides what ``classify_href`` refuses (mail, in-page jumps, the article itself, social
profiles), two shapes of the web are provably not citations: a block made only of links to the
site's own other pages (a "Related:" teaser), and a link to the site's own sign-up page or one
whose anchor is the action ("Subscribe", "Sign up", "Follow us").
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pysbd
from pysbd.lang.english import English
from pysbd.utils import TextSpan

from archiver.ingest.urls import HrefKind, classify_href, same_site

#: Characters that may close a finished sentence (before any closing quotes or brackets).
SENTENCE_END = frozenset(".!?…:;")
CLOSERS = "\"'”’»)]*_"
#: Characters of a paragraph given to pysbd at once (its time is quadratic in its input).
SEGMENT_WINDOW = 4_000
#: Longest paragraph kept whole as a citation's context (``context_for``).
MAX_CONTEXT = 600
#: An anchor that is the action it names: following it signs the reader up, it cites nothing.
CALL_TO_ACTION = re.compile(
    r"(?:subscribe|sign (?:up|in)|log ?in|donate|follow (?:us|me|him|her|them)|"
    r"register (?:now|here|today|for free))\b",
    re.I,
)
#: Host labels and path segments (extension aside) of a site's sign-up and subscription pages.
SIGN_UP_PAGES = frozenset(
    "subscribe subscription subscriptions newsletter newsletters signup sign-up register login "
    "donate".split()
)
#: What a teaser block may hold before its first link: a label ("Related:", "READ MORE:").
TEASER_LABEL = re.compile(r"\W*(?:[^\W\d_][\w ]*:)?\W*")
#: Blocks a teaser comes in; a table cell linking to the site's own page is data, not a teaser.
TEASER_KINDS = frozenset({"p", "heading", "item"})


@dataclass(frozen=True)
class LinkSpan:
    """A link inside a paragraph: ``text[start:end]`` is its anchor text."""

    start: int
    end: int
    href: str | None


@dataclass
class Paragraph:
    """One block of the article's main text. ``kind`` is "p", "heading", "item", "quote", "cell"."""

    text: str
    links: list[LinkSpan] = field(default_factory=list)
    kind: str = "p"


@dataclass
class ParsedArticle:
    """What an article parser (Markdown or HTML) hands on: metadata and main-text paragraphs."""

    title: str | None = None
    author: str | None = None
    publisher: str | None = None
    published: str | None = None  # ISO date
    published_from: str | None = None  # where it was read: "metadata", "url", "byline"...
    base_url: str | None = None  # what relative links resolve against
    paragraphs: list[Paragraph] = field(default_factory=list)


@dataclass
class Citation:
    """One link of the article and the claim it supports; shaped like a ``citations`` row."""

    position: int
    anchor_text: str
    href: str | None
    url: str | None
    href_status: str  # "http", "placeholder", "relative", "invalid"
    claim: str
    context: str
    paragraph: int
    start: int
    end: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "anchor_text": self.anchor_text,
            "href": self.href,
            "url": self.url,
            "href_status": self.href_status,
            "claim": self.claim,
            "context": self.context,
            "paragraph": self.paragraph,
            "start": self.start,
            "end": self.end,
        }


@dataclass
class SkippedLink:
    """A link of the article that is not a citation, and why; shaped like a ``skipped_links`` row.

    ``reason`` is ``classify_href``'s ("in_page", "self", "scheme:mailto", "social_profile"...),
    "site_teaser" or "call_to_action"; ``sentence`` is the sentence that holds the link.
    """

    position: int
    paragraph: int
    anchor_text: str
    href: str | None
    reason: str
    sentence: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ArticleLinks(NamedTuple):
    """Every link of an article, sorted: the citations, and the links left out with a reason."""

    citations: list[Citation]
    skipped: list[SkippedLink]


def ends_mid_sentence(text: str) -> bool:
    """True when a paragraph stops without closing punctuation (copy-paste breaks do that)."""
    stripped = text.rstrip().rstrip(CLOSERS)
    return bool(stripped) and stripped[-1] not in SENTENCE_END


def join_broken_paragraphs(paragraphs: list[Paragraph]) -> list[Paragraph]:
    """Join a paragraph that ends mid-sentence to the next one when that starts in lower case."""
    joined: list[Paragraph] = []
    for para in paragraphs:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and previous.kind == para.kind == "p"
            and ends_mid_sentence(previous.text)
            and para.text.lstrip()[:1].islower()
        ):
            head = previous.text.rstrip()
            tail = para.text.lstrip()
            shift = len(head) + 1 - (len(para.text) - len(tail))
            links = previous.links + [
                LinkSpan(link.start + shift, link.end + shift, link.href) for link in para.links
            ]
            joined[-1] = replace(previous, text=f"{head} {tail}", links=links)
        else:
            joined.append(para)
    return joined


class _Abbreviations(English.AbbreviationReplacer):  # type: ignore[misc]
    """pysbd's abbreviation pass, the same replacements with less work.

    For each abbreviation that occurs as a substring ("no" in "not"), pysbd runs one ``re.sub``
    over the whole text per occurrence of the abbreviation at a word start: time that grows
    with the square of the text, and most of pysbd's time on any text. Every replacement turns
    the period after a literal abbreviation into a marker, so an abbreviation with no period
    after it anywhere is skipped, and one ``re.sub`` per distinct spelling does what the
    repeated identical ones did (each is idempotent).
    """

    def search_for_abbreviations_in_string(self, text: str) -> str:
        lowered = text.lower()
        followed_by_period = {word.lower() for word in _WORD_BEFORE_PERIOD.findall(text)}
        for abbr in self.lang.Abbreviation.ABBREVIATIONS:
            stripped = abbr.strip()
            if "." in stripped:  # pysbd matches these as patterns: keep its own test
                if stripped not in lowered:
                    continue
            elif stripped not in followed_by_period:
                continue
            pattern = rf"(?:^|\s|\r|\n){stripped}"  # pysbd's, unescaped as there
            for spelling in dict.fromkeys(re.findall(pattern, text, flags=re.IGNORECASE)):
                text = self.scan_for_replacements(text, spelling, 0, [])
        return text


#: A word at the start of a token with a period right after it: where an abbreviation can be.
_WORD_BEFORE_PERIOD = re.compile(r"(?<!\S)([^\s.]+)\.")


class _English(English):  # type: ignore[misc]
    AbbreviationReplacer = _Abbreviations


class _Segmenter(pysbd.Segmenter):  # type: ignore[misc]
    """pysbd with linear abbreviation handling, locating its sentences with ``str.find``.

    pysbd compiles a regular expression per sentence to find where it is (and Python's cache
    of 512 patterns does not keep them): 0.6 of the 1.0 s it takes to read a 2,000-citation
    article. This gives the same spans: the first occurrence, with its trailing whitespace,
    that ends after the previous sentence's, as pysbd's ``re.finditer`` does.
    """

    def __init__(self) -> None:
        super().__init__(language="en", clean=False, char_span=True)
        self.language_module = _English

    def sentences_with_char_spans(self, sentences: list[str]) -> list[TextSpan]:
        text: str = self.original_text
        spans, prior_end = [], 0
        for sentence in sentences:
            at = text.find(sentence) if sentence else -1
            while at >= 0:
                end = at + len(sentence)
                while end < len(text) and text[end].isspace():
                    end += 1
                if end > prior_end:
                    spans.append(TextSpan(text[at:end], at, end))
                    prior_end = end
                    break
                at = text.find(sentence, end)
        return spans


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return _Segmenter()


def _pysbd_spans(text: str) -> list[tuple[int, int]]:
    """pysbd's sentence spans of ``text``, surrounding whitespace excluded."""
    spans = []
    for sentence in _segmenter().segment(text):
        start, end = sentence.start, sentence.end
        while end > start and text[end - 1].isspace():
            end -= 1
        while start < end and text[start].isspace():
            start += 1
        if end > start:
            spans.append((start, end))
    return spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text``, trailing whitespace excluded.

    pysbd's time grows with the square of its input (its abbreviation pass), so a long paragraph
    is read in windows of ``SEGMENT_WINDOW`` characters: each window's last sentence may be cut
    by the window's edge, so the next window starts where that sentence starts. A sentence longer
    than a window is cut at the window's edge.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + SEGMENT_WINDOW)
        found = _pysbd_spans(text[start:end])
        if end < len(text) and len(found) > 1:
            found.pop()  # read again, whole, at the start of the next window
        spans.extend((start + s, start + e) for s, e in found)
        start = start + found[-1][1] if found else end
    return spans


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def claim_for(text: str, spans: list[tuple[int, int]], link: LinkSpan) -> str:
    """The sentence (or sentences, if the anchor crosses a boundary) that holds the link."""
    covering = [(s, e) for s, e in spans if s < link.end and e > link.start]
    if not covering:
        return _collapse(text)
    return _collapse(text[covering[0][0] : covering[-1][1]])


def _is_sign_up_page(url: str) -> bool:
    """True for a subscription, newsletter, sign-up or log-in address (by host or path)."""
    parts = urlsplit(url)
    host_label = (parts.hostname or "").split(".")[0]
    segments = {segment.rsplit(".", 1)[0] for segment in parts.path.lower().split("/")}
    return host_label in SIGN_UP_PAGES or not SIGN_UP_PAGES.isdisjoint(segments)


def _is_teaser(para: Paragraph, own_site: list[bool]) -> bool:
    """True for a block that is nothing but links to the site's own pages ("Related: ..."):
    a label before them and punctuation between them at most."""
    if para.kind not in TEASER_KINDS or not all(own_site):
        return False
    edges = [0] + [i for link in para.links for i in (link.start, link.end)] + [len(para.text)]
    label, *between = [para.text[edges[i] : edges[i + 1]] for i in range(0, len(edges), 2)]
    return bool(TEASER_LABEL.fullmatch(label)) and not any(re.search(r"\w", p) for p in between)


def _why_not_cited(para: Paragraph, kinds: list[HrefKind], site: str | None) -> list[str]:
    """For each link of a block, the reason it is not a citation, or "" when it is one.

    Beyond what ``classify_href`` refuses, only a link to the article's own site can be left out:
    another site's page is always a source.
    """
    own_site = [bool(site and kind.url and same_site(kind.url, site)) for kind in kinds]
    teaser = _is_teaser(para, own_site)
    reasons = []
    for link, kind, own in zip(para.links, kinds, own_site, strict=True):
        anchor = para.text[link.start : link.end].strip()
        if not kind.is_citation:
            reasons.append(kind.reason)
        elif teaser:
            reasons.append("site_teaser")
        elif own and (CALL_TO_ACTION.match(anchor) or _is_sign_up_page(kind.url or "")):
            reasons.append("call_to_action")
        else:
            reasons.append("")
    return reasons


def context_for(text: str, spans: list[tuple[int, int]], link: LinkSpan) -> tuple[str, int]:
    """A citation's context, and where it starts in the paragraph ``text``.

    The paragraph itself, up to ``MAX_CONTEXT`` characters; in a longer one (a document pasted
    without breaks) the claim and as many sentences around it as fit, so that the archive grows
    with the article and not with links times paragraph length.
    """
    if len(text) <= MAX_CONTEXT:
        return text.strip(), len(text) - len(text.lstrip())
    covering = [i for i, (s, e) in enumerate(spans) if s < link.end and e > link.start]
    if not covering:
        lo = max(0, min(link.start - MAX_CONTEXT // 2, len(text) - MAX_CONTEXT))
        return text[lo : lo + MAX_CONTEXT], lo
    first, last = covering[0], covering[-1]
    lo, hi = spans[first][0], spans[last][1]
    grew = True
    while grew:  # a sentence before, then one after, while they fit
        grew = False
        if first > 0 and hi - spans[first - 1][0] <= MAX_CONTEXT:
            first, lo, grew = first - 1, spans[first - 1][0], True
        if last + 1 < len(spans) and spans[last + 1][1] - lo <= MAX_CONTEXT:
            last, hi, grew = last + 1, spans[last + 1][1], True
    return text[lo:hi], lo


def citations_from(
    paragraphs: list[Paragraph], *, base_url: str | None, article_url: str | None
) -> ArticleLinks:
    """Every citation of the article in reading order, numbered from 1, and every other link
    with the reason it is not one (numbered apart, so positions count citations only).
    """
    citations: list[Citation] = []
    skipped: list[SkippedLink] = []
    for number, para in enumerate(paragraphs, start=1):
        if not para.links:
            continue
        spans = sentence_spans(para.text)
        kinds = [
            classify_href(link.href, base_url=base_url, article_url=article_url)
            for link in para.links
        ]
        reasons = _why_not_cited(para, kinds, article_url or base_url)
        for link, kind, reason in zip(para.links, kinds, reasons, strict=True):
            anchor_text = _collapse(para.text[link.start : link.end])
            claim = claim_for(para.text, spans, link)
            if reason:
                skipped.append(
                    SkippedLink(len(skipped) + 1, number, anchor_text, link.href, reason, claim)
                )
                continue
            context, offset = context_for(para.text, spans, link)
            citations.append(
                Citation(
                    position=len(citations) + 1,
                    anchor_text=anchor_text,
                    href=link.href,
                    url=kind.url,
                    href_status=kind.reason,
                    claim=claim,
                    context=context,
                    paragraph=number,
                    start=link.start - offset,
                    end=link.end - offset,
                )
            )
    return ArticleLinks(citations, skipped)
