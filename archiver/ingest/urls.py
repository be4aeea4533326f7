"""Which hrefs are citations, and the normalised URL each one points at.

``href`` keeps what the author wrote; ``url`` is the absolute, normalised form used as the key of
a source, so that two spellings of one page share one fetch.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from courlan import extract_domain, normalize_url

LOGGER = logging.getLogger(__name__)

#: Schemes that are never citations: they do not point at a document that can be archived.
NON_DOCUMENT_SCHEMES = frozenset(
    {"mailto", "tel", "sms", "javascript", "data", "file", "ftp", "about", "blob", "callto"}
)


#: The path of a bare profile page on each social network (no trailing "/"). A post, a photo or a
#: video has a longer path (twitter.com/NAME/status/ID) or another first segment, and stays a
#: citation: only "follow us" links go (issue 10).
SOCIAL_PROFILES: dict[str, re.Pattern[str]] = {
    "twitter.com": re.compile(r"/@?\w+"),
    "x.com": re.compile(r"/@?\w+"),
    "facebook.com": re.compile(r"/[\w.-]+"),
    "instagram.com": re.compile(r"/[\w.]+"),
    "threads.net": re.compile(r"/@[\w.]+"),
    "tiktok.com": re.compile(r"/@[\w.]+"),
    "youtube.com": re.compile(r"/@[\w.-]+|/(?:c|channel|user)/[\w.-]+"),
    "linkedin.com": re.compile(r"/(?:in|company)/[^/]+"),
    "bsky.app": re.compile(r"/profile/[^/]+"),
}
#: One-segment paths of those networks that are features or posts, not somebody's profile.
SOCIAL_FEATURES = frozenset(
    "explore hashtag home i intent login messages notifications permalink.php photo.php search "
    "settings share share.php sharer sharer.php signup story.php video.php watch".split()
)
#: Host prefixes under which a network serves the same profile pages.
SOCIAL_HOST_PREFIXES = ("www.", "m.", "mobile.")


@dataclass(frozen=True)
class HrefKind:
    """How one href is treated: a citation (resolved or not) or something to skip."""

    is_citation: bool
    url: str | None  # normalised absolute URL, None when unresolved or skipped
    reason: str  # "http", "placeholder", "self", "in_page", "scheme:<name>", "invalid",
    # "social_profile"


def normalise_url(url: str) -> str | None:
    """Absolute http(s) URL in canonical form: lower-case scheme and host, no default port, no
    fragment, tracking parameters (utm_*, fbclid, gclid, ...) removed, query sorted.

    Returns None when the URL is not a valid http(s) URL.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        if not _valid_host(parts.hostname):
            return None
        parts.port  # noqa: B018 - raises ValueError on a bad port
        normalised = normalize_url(url)
    except ValueError:
        return None
    return urldefrag(normalised)[0]


def _valid_host(host: str) -> bool:
    """A host DNS could hold: labels of letters (any script), digits, ``-`` and ``_``, or an IP.

    Anything else ("exa mple.com", "exa%20mple.com") would be percent-encoded and looked up.
    """
    if ":" in host:  # an IPv6 literal; urlsplit has checked its brackets
        return True
    labels = host.rstrip(".").split(".")
    return all(label and all(c.isalnum() or c in "-_" for c in label) for label in labels)


def classify_href(href: str | None, *, base_url: str | None, article_url: str | None) -> HrefKind:
    """Decide whether an href is a citation and resolve it against ``base_url``.

    A bare ``#`` or an empty href is a placeholder whose target was lost: still a citation, since
    the claim is there, but with no URL. ``#section-2`` jumps inside the page and is not, nor is
    a bare social-network profile (``is_social_profile``).
    """
    raw = (href or "").strip()
    if raw in ("", "#"):
        return HrefKind(True, None, "placeholder")
    if raw.startswith("#"):
        return HrefKind(False, None, "in_page")
    try:
        scheme = urlsplit(raw).scheme.lower()
    except ValueError:  # e.g. "http://[::1" - the author meant a link, the target is broken
        return HrefKind(True, None, "invalid")
    if scheme in NON_DOCUMENT_SCHEMES:
        return HrefKind(False, None, f"scheme:{scheme}")
    if scheme and scheme not in ("http", "https"):
        return HrefKind(False, None, f"scheme:{scheme}")
    if not scheme and not base_url:
        # A relative link in a file with no known address: keep the claim, mark unresolved.
        return HrefKind(True, None, "relative")
    try:
        absolute = urljoin(base_url, raw) if base_url else raw
    except ValueError:
        return HrefKind(True, None, "invalid")
    url = normalise_url(absolute)
    if url is None:
        return HrefKind(True, None, "invalid")
    if article_url and url == normalise_url(article_url):
        return HrefKind(False, None, "self")
    if is_social_profile(url):
        return HrefKind(False, None, "social_profile")
    return HrefKind(True, url, "http")


def is_social_profile(url: str) -> bool:
    """True for the bare profile page of a person or outlet on a social network
    (``https://twitter.com/nytimes``): a "follow us" link, not a source of any claim."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    for prefix in SOCIAL_HOST_PREFIXES:
        host = host.removeprefix(prefix)
    profile = SOCIAL_PROFILES.get(host)
    path = unquote(parts.path).rstrip("/")  # normalised URLs spell "@" as "%40"
    return (
        profile is not None
        and profile.fullmatch(path) is not None
        and path.lower().lstrip("/") not in SOCIAL_FEATURES
    )


def same_site(url: str, other: str) -> bool:
    """True when two absolute URLs belong to one site: the same registrable domain by the
    Public Suffix List (``subscription.nj.com`` and ``www.nj.com``; not ``a.github.io`` and
    ``b.github.io``), or the same host, ``www.`` aside, for hosts the list does not know."""
    domain, other_domain = extract_domain(url), extract_domain(other)
    if domain or other_domain:
        return domain == other_domain
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    return bool(host) and host == (urlsplit(other).hostname or "").removeprefix("www.")
