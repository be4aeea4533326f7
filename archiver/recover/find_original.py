"""Find the original of a pasted article in a web archive, by what the article says of itself
(issue 13, ``archiver resolve --find``).

A copy without hrefs still has its title, its publisher's site and its date. The web archive's
CDX index lists the pages it captured under the site from that date on; the pages whose address
looks most like the title are fetched (a few, through the guarded fetcher) and each is aligned
with our copy, as ``--from`` does. A candidate is used only when it clearly is the article: it
matches at least half of our citations, and no candidate that would fill other URLs comes near.
A wrong original fills wrong URLs that look right, which is worse than none.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from statistics import fmean
from typing import Any
from urllib.parse import urlsplit

import requests

from archiver.errors import ArticleError
from archiver.ingest.article import MAX_ARTICLE_BYTES, Article, build_article
from archiver.ingest.claims import Citation
from archiver.ingest.urls import normalise_url
from archiver.net.fetch import FetchConfig, fetch, make_session
from archiver.net.result import CAPTURED
from archiver.net.robots import RobotsCache
from archiver.recover.resolve import MIN_CONFIDENCE, Match, align, words
from archiver.recover.wayback import WAYBACK_MACHINE, Capture, Endpoints, find_captures

LOGGER = logging.getLogger(__name__)

DEFAULT_CANDIDATES = 10
#: Days after the article's date in which a capture of the original is looked for.
DEFAULT_WINDOW_DAYS = 365
#: The least share of our citations the original must match: a related article of the same
#: site (a follow-up quoting a few of the same sentences) matches some, the original most.
MIN_SHARE = 0.5
#: How much the title adds to a candidate's score; the links and claims weigh the rest.
WEIGHT_TITLE = 0.2
#: How far the chosen candidate must score above any candidate that would fill other URLs.
MARGIN = 0.1
#: Files a CDX prefix query lists that are not articles.
NOT_ARTICLES = re.compile(
    r"\.(?:css|js|json|xml|rss|atom|png|jpe?g|gif|svg|webp|ico|pdf|zip|woff2?|ttf|mp[34])$|"
    r"/robots\.txt$|/feed/?$",
    re.IGNORECASE,
)
#: A link the archive rewrote to its replay of the page: /web/<timestamp>[flag_]/<original>
#: (URL normalisation has made the inner "//" one slash).
REPLAYED = re.compile(r"/web/\d{14}(?:[a-z]{2}_)?/(https?):/+(.+)$", re.IGNORECASE)


class FindError(ValueError):
    """``--find`` cannot search: the archive did not answer, or no site is known."""


@dataclass(frozen=True)
class Candidate:
    """One snapshot that may be the original, and how well it aligns with our copy."""

    original: str  # the captured page's URL
    memento_url: str  # where the archive replays it
    captured_at: str
    citations: int  # ours
    matched: int = 0  # ours paired with one of its links
    mean_confidence: float = 0.0  # of those pairs
    title_similarity: float = 0.0  # share of our title's words in its title
    title: str | None = None
    error: str | None = None  # why it could not be read
    matches: tuple[Match, ...] = field(default=(), repr=False)

    @property
    def share(self) -> float:
        return self.matched / self.citations if self.citations else 0.0

    @property
    def score(self) -> float:
        """0..1: share matched times mean confidence, with the title's similarity."""
        aligned = self.share * self.mean_confidence
        return round((1 - WEIGHT_TITLE) * aligned + WEIGHT_TITLE * self.title_similarity, 3)

    def fills(self) -> dict[int, str]:
        return {m.position: m.url for m in self.matches if m.url is not None}

    def as_dict(self) -> dict[str, Any]:
        return {
            "original": self.original,
            "memento_url": self.memento_url,
            "captured_at": self.captured_at,
            "title": self.title,
            "matched": self.matched,
            "citations": self.citations,
            "mean_confidence": self.mean_confidence,
            "title_similarity": self.title_similarity,
            "score": self.score,
            "error": self.error,
        }


@dataclass(frozen=True)
class FindResult:
    """The candidates, best first, and the one chosen (None: no candidate is clearly it)."""

    url_prefix: str
    candidates: list[Candidate]
    chosen: Candidate | None
    reason: str  # one line: why it was chosen, or why none was


def site_prefix(site: str | None, article_url: str | None) -> str:
    """The CDX URL prefix to search: ``--site`` (a domain, optionally with a path), else the host
    of the URL the article was archived from.

    Raises:
        FindError: when neither is known (a pasted article names its publisher, not a domain).
    """
    if site:
        prefix = re.sub(r"^[a-z]+://", "", site.strip(), flags=re.IGNORECASE)
        return prefix if "/" in prefix else prefix + "/"
    host = urlsplit(article_url).hostname if article_url else None
    if not host:
        raise FindError(
            "the article was not archived from a URL, so its site is unknown: give the "
            "publisher's domain with --site (e.g. --site eastasiaforum.org)"
        )
    return host + "/"


def find_original(
    ours: list[Citation],
    *,
    title: str | None,
    published: str | None,
    url_prefix: str,
    config: FetchConfig,
    endpoints: Endpoints = WAYBACK_MACHINE,
    article_url: str | None = None,
    candidates: int = DEFAULT_CANDIDATES,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> FindResult:
    """Look for the original of an article among the archive's captures under ``url_prefix``.

    Args:
        ours: our copy's citations, in order.
        title, published: what the article says of itself (ISO date; None: any date).
        url_prefix: from ``site_prefix``.
        config: the fetch options; every request goes through the guarded fetcher.
        endpoints: the archive's CDX and replay addresses.
        article_url: the URL the article was archived from, looked at first when captured.
        candidates: most snapshots fetched.
        window_days: how long after ``published`` a capture counts.

    Returns:
        A ``FindResult``; ``chosen`` is None when no candidate clearly aligns.

    Raises:
        FindError: the CDX index could not be asked.
    """
    start, end = _window(published, window_days)
    listing = find_captures(
        url_prefix, from_date=start, to_date=end, config=config, endpoints=endpoints
    )
    if listing.status == "not_looked_up":
        raise FindError(f"the web archive could not be asked: {listing.error}")
    shortlist = _shortlist(listing.captures, title, article_url)[:candidates]
    if not shortlist:
        span = f"between {start} and {end}"
        return FindResult(url_prefix, [], None, f"no page captured under {url_prefix} {span}")
    robots = None if config.ignore_robots else RobotsCache(config)
    session = make_session(config)
    try:
        found = [_candidate(c, ours, title, config, endpoints, session, robots) for c in shortlist]
    finally:
        session.close()
    found.sort(key=lambda c: c.score, reverse=True)
    chosen, reason = _choose(found)
    return FindResult(url_prefix, found, chosen, reason)


def _window(published: str | None, window_days: int) -> tuple[date, date]:
    """Capture dates to search: from the day before publication (time zones) on."""
    today = datetime.now(UTC).date()
    try:
        day = date.fromisoformat((published or "")[:10])
    except ValueError:
        return date(1996, 1, 1), today  # the Wayback Machine's first captures
    return day - timedelta(days=1), min(day + timedelta(days=window_days), today)


def _shortlist(
    captures: list[Capture], title: str | None, article_url: str | None
) -> list[Capture]:
    """Captures of pages that may be articles, the ones whose address shares most of the
    title's words first (a slug such as /2019/05/water-rail-rivalry)."""
    title_words = set(words(title or ""))
    wanted = normalise_url(article_url) if article_url else None

    def rank(capture: Capture) -> tuple[bool, float]:
        shared = title_words & set(words(urlsplit(capture.original).path))
        same = wanted is not None and normalise_url(capture.original) == wanted
        return same, len(shared) / len(title_words) if title_words else 0.0

    pages = [
        c
        for c in captures
        if (c.mimetype is None or "html" in c.mimetype) and not NOT_ARTICLES.search(c.original)
    ]
    return sorted(pages, key=rank, reverse=True)


def _candidate(
    capture: Capture,
    ours: list[Citation],
    title: str | None,
    config: FetchConfig,
    endpoints: Endpoints,
    session: requests.Session,
    robots: RobotsCache | None,
) -> Candidate:
    """Fetch one snapshot as the archive captured it and align it with our copy."""
    base = Candidate(capture.original, capture.memento_url, capture.captured_at, len(ours))
    # id_ asks for the page as captured, without the archive's banner and rewritten links.
    raw = f"{endpoints.replay}{capture.timestamp}id_/{capture.original}"
    result = fetch(raw, session=session, config=config, robots=robots)
    try:
        if result.outcome not in CAPTURED or result.body is None:
            return replace(base, error=f"{result.outcome} ({result.error or result.status_code})")
        body, charset = result.body.read(MAX_ARTICLE_BYTES), result.charset
    finally:
        result.close()
    try:
        copy = build_article(
            body, "html", source_key=capture.original, url=capture.original, charset=charset
        )
    except ArticleError as error:
        return replace(base, error=error.message)
    matches = align(ours, _unreplayed(copy).citations, source=f"find:{capture.memento_url}")
    paired = [m.confidence for m in matches if m.method != "unmatched"]
    return replace(
        base,
        matched=len(paired),
        mean_confidence=round(fmean(paired), 3) if paired else 0.0,
        title_similarity=_title_similarity(title, copy.title),
        title=copy.title,
        matches=tuple(matches),
    )


def _unreplayed(copy: Article) -> Article:
    """The copy with links the archive rewrote to its replay pointing at the pages again."""
    citations = []
    for citation in copy.citations:
        if citation.url and (found := REPLAYED.search(citation.url)):
            citation = replace(citation, url=normalise_url(f"{found[1]}://{found[2]}"))
        citations.append(citation)
    return replace(copy, citations=citations)


def _title_similarity(ours: str | None, theirs: str | None) -> float:
    """Share of our title's words in theirs ("| Publisher" suffixes cost nothing)."""
    mine = set(words(ours or ""))
    if not mine or not theirs:
        return 0.0
    return round(len(mine & set(words(theirs))) / len(mine), 3)


def _choose(ranked: list[Candidate]) -> tuple[Candidate | None, str]:
    """The best candidate when it clearly is the original, with the reason in one line."""
    best = next(iter(ranked), None)
    if best is None or best.matched == 0:
        return None, "no candidate shares a link with the article"
    said = (
        f"{best.memento_url}: {best.matched} of {best.citations} citations matched "
        f"(mean confidence {best.mean_confidence:.2f}), score {best.score:.2f}"
    )
    if best.share < MIN_SHARE or best.mean_confidence <= MIN_CONFIDENCE:
        return None, f"no candidate matches half of the citations; the best, {said}"
    fills = best.fills()
    rivals = [
        c
        for c in ranked[1:]
        if any(fills.get(position, url) != url for position, url in c.fills().items())
    ]
    if rivals and best.score - rivals[0].score < MARGIN:
        rival = rivals[0]
        return None, (
            f"two candidates fill different URLs and score alike: {said}; "
            f"{rival.memento_url}, score {rival.score:.2f}"
        )
    return best, said
