"""Link rot, told apart: soft 404s, blocked pages, drift, and a link's status from its history.

Small pure functions, so each rule can be tested on its own and reused by other front ends;
``check.py`` does the fetching and calls them.

Drift measure. The text of a page now is compared with the text the claim was archived from
(trafilatura's main text, so menus and footers are mostly gone already) as the share of the
archived text's word 5-shingles still found in the new text: its *containment*, not the Jaccard
index. Why containment: the question a citation asks is "does the page still say what was
cited?". A page that grew (an update note, a comment thread trafilatura kept, a longer "related"
list) still says it, and Jaccard would call it changed; a page that lost a paragraph does not,
and containment drops by that paragraph's share. Shingles are taken within paragraphs, so moving
paragraphs around changes nothing, and words are case-folded with punctuation dropped, so a
re-rendered page (other quotes, other spacing) is the same text. On the 30 pages of the developer
corpus (medians; bench/README.md, "Link checking", reproduced by ``bench/linkcheck_bench.py
drift``): a date line added, paragraphs reordered or comments appended (+50%) give 1.0 (Jaccard
gives 0.71 for the comments); one word changed 0.99, three numbers changed 0.98; one paragraph
of about twenty removed 0.95; the first 30% removed 0.75; half replaced by another article 0.49;
another article 0.0. Hence ``unchanged`` at 0.95 and up (typo fixes and counters pass, a
paragraph gone from a typical article is at the edge, from a shorter one it is ``changed``),
``replaced`` under 0.3 (less than a third of what was cited is left), ``changed`` in between.
Exact sets are used rather than MinHash: a 750-word text shingles in about 0.2 ms, and
the archive never compares more than two texts at a time.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

__all__ = [
    "ALIVE_OUTCOMES",
    "BLOCKED_OUTCOMES",
    "CheckEvent",
    "PageSignals",
    "app_shell",
    "challenge_reason",
    "containment",
    "drift_for",
    "error_page_reason",
    "jaccard",
    "link_status",
    "nearly_empty",
    "page_signals",
    "redirect_reason",
    "same_template",
    "shingles",
    "similarity",
]

#: Words per shingle for drift: long enough that common phrases do not match by chance.
SHINGLE_WORDS = 5
#: Containment at or above this: ``unchanged``; below ``REPLACED_BELOW``: ``replaced``.
UNCHANGED_AT = 0.95
REPLACED_BELOW = 0.3
#: Two pages with word 3-shingle Jaccard at or above this are one template (soft-404 probe).
TEMPLATE_AT = 0.9
#: Texts whose word counts differ more than this ratio cannot be one template (a cheap test).
TEMPLATE_LENGTH_RATIO = 0.7
#: Below this many visible words a page with a captcha widget is a challenge, not an article.
CHALLENGE_MAX_WORDS = 150
#: At most this many visible words, and scripts: a JavaScript app's shell (content comes later).
SHELL_MAX_WORDS = 60
#: Extracted text of at most this many words ("Loading...", "Enable JavaScript to run this
#: app.") says nothing of the page: two such texts cannot tell two pages apart.
NEARLY_EMPTY_WORDS = 12
#: Start of a check's ``error`` when it answered but cannot say whether the page is there.
CANNOT_TELL = "cannot tell: "

#: Outcomes of a check that reached the page (a body too large to keep is still a live page).
ALIVE_OUTCOMES = frozenset({"ok", "redirected", "too_large"})
#: The page may be alive, the archiver was kept out: never evidence of rot.
BLOCKED_OUTCOMES = frozenset(
    {"blocked", "blocked_by_robots", "rate_limited", "blocked_private_address"}
)

_WORD = re.compile(r"\w+")


# -- drift ---------------------------------------------------------------------------------------


def shingles(text: str | None, size: int = SHINGLE_WORDS, *, drop: Iterable[str] = ()) -> set[str]:
    """Word ``size``-shingles of each paragraph (line), case-folded, punctuation dropped.

    A paragraph shorter than ``size`` words is one shingle of its own, so short texts compare too.
    ``drop``: words to leave out first (the request path a "not found" template echoes).
    """
    dropped = set(drop)
    out: set[str] = set()
    for line in (text or "").splitlines():
        words = [w for w in _WORD.findall(line.casefold()) if w not in dropped]
        if not words:
            continue
        if len(words) <= size:
            out.add(" ".join(words))
            continue
        out.update(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))
    return out


def containment(old: set[str], new: set[str]) -> float:
    """Share of ``old`` found in ``new`` (1.0 when ``old`` is empty: nothing was lost)."""
    return len(old & new) / len(old) if old else 1.0


def jaccard(a: set[str], b: set[str]) -> float:
    """|a & b| / |a | b| (1.0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def similarity(cited: str | None, current: str | None) -> float | None:
    """How much of the cited text the current text still says, 0..1 (see the module docstring).

    None when there is no cited text to compare with (the URL was never archived).
    """
    if not cited or not cited.strip():
        return None
    return round(containment(shingles(cited), shingles(current)), 4)


def drift_for(value: float | None) -> str | None:
    """``unchanged`` / ``changed`` / ``replaced`` for a similarity; None without one."""
    if value is None:
        return None
    if value >= UNCHANGED_AT:
        return "unchanged"
    return "replaced" if value < REPLACED_BELOW else "changed"


def same_template(page: str | None, probe: str | None, *, drop: Iterable[str] = ()) -> bool:
    """Is ``page`` the page the host serves for a made-up path (``probe``)?

    Word 3-shingles (error pages are short), words of the two request paths left out, since
    "/a/b was not found" templates echo them; texts of very different lengths are not compared.
    """
    if not page or not probe:
        return False
    dropped = set(drop)
    page_words = [w for w in _WORD.findall(page.casefold()) if w not in dropped]
    probe_words = [w for w in _WORD.findall(probe.casefold()) if w not in dropped]
    if not page_words or not probe_words:
        return False
    shorter, longer = sorted((len(page_words), len(probe_words)))
    if shorter / longer < TEMPLATE_LENGTH_RATIO:
        return False
    return jaccard(shingles(page, 3, drop=dropped), shingles(probe, 3, drop=dropped)) >= TEMPLATE_AT


def nearly_empty(text: str | None) -> bool:
    """Does ``text`` hold next to nothing (see ``NEARLY_EMPTY_WORDS``)?"""
    return len(_WORD.findall(text or "")) <= NEARLY_EMPTY_WORDS


def path_words(*urls: str | None) -> set[str]:
    """Words of the paths and queries of ``urls`` (what an error template may echo)."""
    words: set[str] = set()
    for url in urls:
        if url:
            parts = urlsplit(url)
            words.update(_WORD.findall(f"{parts.path} {parts.query}".casefold()))
    return words


# -- what a page says about itself ---------------------------------------------------------------

_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_HIDDEN = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.I | re.S)
#: The same, also when the element runs past the bytes read (a shell's inline bundle may).
_HIDDEN_TO_END = re.compile(r"<(script|style|noscript|template)\b.*?(?:</\1\s*>|\Z)", re.I | re.S)


@dataclass(frozen=True)
class PageSignals:
    """What the start of an HTML body says cheaply, without trafilatura."""

    title: str | None
    h1: str | None
    head: str  # the decoded start of the body, lower case, for markers

    def visible_words(self) -> int:
        """Words outside tags, scripts and styles (only asked for when a captcha shows up)."""
        visible = _TAG.sub(" ", _HIDDEN.sub(" ", self.head))
        return len(_WORD.findall(html.unescape(visible)))


def app_shell(signals: PageSignals) -> bool:
    """Is the page the shell of a single-page app: scripts, and next to no text of its own?

    Such sites serve one HTML page for every path and build the page in the browser, so the
    answer for a made-up path is the very page served for a real one: without running the
    scripts, a check cannot tell whether the page asked for exists.
    """
    if "<script" not in signals.head:
        return False
    visible = _TAG.sub(" ", _HIDDEN_TO_END.sub(" ", signals.head))
    return len(_WORD.findall(html.unescape(visible))) <= SHELL_MAX_WORDS


def _clean(fragment: str | None) -> str | None:
    if fragment is None:
        return None
    text = " ".join(html.unescape(_TAG.sub(" ", fragment)).split())
    return text or None


def page_signals(head: bytes, charset: str | None = None) -> PageSignals:
    """Title, first heading and visible word count of the start of an HTML body.

    Two regex searches over at most the bytes given (the caller passes the first 64 KB): error
    and challenge pages say what they are in their title or heading, and this costs microseconds,
    so it runs on every new payload, even when nothing else needs extracting.
    """
    try:
        decoded = head.decode(charset or "utf-8", "replace")
    except LookupError:
        decoded = head.decode("utf-8", "replace")
    title = _TITLE.search(decoded)
    h1 = _H1.search(decoded)
    return PageSignals(
        title=_clean(title.group(1)) if title else None,
        h1=_clean(h1.group(1)) if h1 else None,
        head=decoded.lower(),
    )


#: Titles and headings of "not found" pages. Anchored or specific, so an article *about*
#: 404 errors ("Why 404 pages matter") does not match.
_ERROR_TITLES = [
    re.compile(p, re.I)
    for p in (
        r"^\W*(error\W*)?404\b",
        r"\b404\W*(error|not found|page)\b",
        r"\b(page|file|article|document|content|resource|story|url)s?\s+(was\s+|is\s+)?"
        r"(not|cannot be|can't be|could not be|couldn't be)\s+(be\s+)?found\b",
        r"^\W*not found\W*$",
        r"\bpage (does not|doesn't|no longer) exists?\b",
        r"\b(page|article|content) you (are|were|'re) looking for\b",
        r"\bpage you requested\b.*\b(not|no longer)\b",
        r"\b(we|i) (can't|cannot|could not|couldn't) find (that|the|this) page\b",
        r"^\W*(oops|sorry)\W.{0,40}\b(not found|can't find|cannot find|missing)\b",
        r"\bseite nicht gefunden\b",
        r"\bpage (introuvable|non trouv[ée]e)\b",
        r"\bp[áa]gina no encontrada\b",
        r"\bpagina non trovata\b",
    )
]


def error_page_reason(signals: PageSignals) -> str | None:
    """Why the page is an error page (its title or first heading says so), or None."""
    for label, value in (("title", signals.title), ("heading", signals.h1)):
        if value and len(value) <= 120 and any(p.search(value) for p in _ERROR_TITLES):
            return f"soft 404: error-page {label} {value!r}"
    return None


#: Challenge (interstitial) pages of bot protection services, by title.
_CHALLENGE_TITLES = re.compile(
    r"^(just a moment|attention required|please wait|one more step|checking your browser|"
    r"ddos-guard|access denied|pardon our interruption|are you a robot|robot or human|"
    r"human verification|verify you are (a )?human|security check|bot verification|"
    r"you have been blocked|request unsuccessful)\b",
    re.I,
)
#: Markup only challenge pages carry.
_CHALLENGE_MARKERS = (
    "/cdn-cgi/challenge-platform/",
    "cf-browser-verification",
    "cf_chl_opt",
    "challenges.cloudflare.com/turnstile",
    "_incapsula_resource",
    "captcha-delivery.com",
    "px-captcha",
    "sucuri_cloudproxy",
    "awswafintegration",
    "checking your browser before accessing",
)
#: Captcha widgets: also on ordinary pages (comment forms), so only a sign on a near-empty page.
_CAPTCHA_WIDGETS = ("g-recaptcha", "h-captcha", "hcaptcha.com/1/api.js", "recaptcha/api.js")


def challenge_reason(signals: PageSignals, headers: dict[str, str]) -> str | None:
    """Why the page is a bot challenge rather than the page asked for, or None.

    Args:
        signals: from ``page_signals`` of the final response body.
        headers: final response headers, names in lower case.
    """
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return "blocked: bot challenge (cf-mitigated header)"
    if signals.title and _CHALLENGE_TITLES.search(signals.title):
        return f"blocked: challenge page {signals.title!r}"
    marker = next((m for m in _CHALLENGE_MARKERS if m in signals.head), None)
    if marker is not None:
        return f"blocked: challenge page ({marker})"
    widget = next((m for m in _CAPTCHA_WIDGETS if m in signals.head), None)
    if widget is not None and signals.visible_words() < CHALLENGE_MAX_WORDS:
        return f"blocked: captcha page ({widget})"
    return None


_HOME_PATH = re.compile(
    r"^/?((index|default|home|start|main)(\.[a-z0-9]+)?|[a-z]{2}([-_][a-z]{2})?|home/?index)?/?$",
    re.I,
)
_ERROR_PATH = re.compile(
    r"(^|/)(404|410|not[-_]?found|page[-_]?not[-_]?found|pagenotfound|error|errors|"
    r"error[-_]?404|404[-_]?error|missing|gone)(\.[a-z0-9]+)?/?$",
    re.I,
)
_ERROR_QUERY = re.compile(r"(^|&)(404|error=404|status=404|notfound)(&|=|$)", re.I)
_LOGIN_PATH = re.compile(
    r"(^|/)(login|log-in|signin|sign-in|sign_in|auth/login|account/login|sso|accounts/login|"
    r"users/sign_in|subscribe|paywall)(\.[a-z0-9]+)?/?$",
    re.I,
)


def redirect_reason(url: str, final_url: str | None) -> tuple[str, str] | None:
    """(outcome, reason) when a redirect gives the page away: soft 404 or a login wall.

    A deep link redirected to the site's home page or to a ``/404``-like page is a page that is
    gone (servers do this instead of a 404); redirected to a login or subscription page, the page
    may be alive but the archiver is kept out.
    """
    if not final_url or final_url == url:
        return None
    start, end = urlsplit(url), urlsplit(final_url)
    if _LOGIN_PATH.search(end.path) and not _LOGIN_PATH.search(start.path):
        return "blocked", f"blocked: redirected to a login page {final_url}"
    if _ERROR_PATH.search(end.path) or _ERROR_QUERY.search(end.query):
        return "soft_404", f"soft 404: redirected to an error page {final_url}"
    if _HOME_PATH.match(end.path) and not end.query and not _HOME_PATH.match(start.path):
        return "soft_404", f"soft 404: redirected to the home page {final_url}"
    return None


# -- link status ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckEvent:
    """One check of a URL, as ``link_status`` needs it."""

    checked_at: datetime
    outcome: str
    drift: str | None = None
    #: The ``checks`` row id: it orders two checks stamped in the same second.
    id: int = 0


def link_status(
    history: Sequence[CheckEvent],
    *,
    now: datetime,
    min_failures: int = 3,
    min_days: float = 3.0,
) -> str | None:
    """A link's status from its checks: ``alive``, ``drifted``, ``blocked``, ``suspect``, ``dead``.

    One failed check never makes a link dead (servers have bad days): ``dead`` needs the latest
    ``min_failures`` or more failing checks in a row, the first and last of them at least
    ``min_days`` apart, as Wikipedia's InternetArchiveBot does. A check that was kept out
    (blocked, robots, rate limited) neither proves the link alive nor counts as a failure. 404,
    410, soft 404s, DNS failures and timeouts are failures alike.

    Args:
        history: the URL's checks, in any order (by ``checked_at``, then ``id``); those after
            ``now`` are ignored, so a status can be computed "as of" a date.
        now: the clock (injected, so tests need not wait three days).

    Returns:
        The status, or None when the URL has no check yet.
    """
    events = sorted((e for e in history if e.checked_at <= now), key=lambda e: (e.checked_at, e.id))
    if not events:
        return None
    latest = events[-1]
    if latest.outcome in ALIVE_OUTCOMES:
        return "drifted" if latest.drift in ("changed", "replaced") else "alive"
    if latest.outcome in BLOCKED_OUTCOMES:
        return "blocked"
    failures: list[CheckEvent] = []
    for event in reversed(events):
        if event.outcome in ALIVE_OUTCOMES:
            break
        if event.outcome not in BLOCKED_OUTCOMES:
            failures.append(event)
    span = failures[0].checked_at - failures[-1].checked_at
    if len(failures) >= min_failures and span >= timedelta(days=min_days):
        return "dead"
    return "suspect"
