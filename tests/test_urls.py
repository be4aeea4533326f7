"""Which hrefs are citations, and their normalised URLs."""

from __future__ import annotations

import pytest

from archiver.ingest.urls import classify_href, normalise_url, same_site

BASE = "https://news.example/section/story.html"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM:80/a?b=1", "http://example.com/a?b=1"),
        ("https://example.com:443/", "https://example.com/"),
        ("https://example.com/p?utm_source=x&utm_medium=y&id=3", "https://example.com/p?id=3"),
        ("https://example.com/p?fbclid=abc&gclid=1&q=1", "https://example.com/p?q=1"),
        ("https://example.com/page#section", "https://example.com/page"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("ftp://example.com/file", None),
        ("https://", None),
        ("https://example.com:99999/", None),
    ],
)
def test_normalise_url(url: str, expected: str | None) -> None:
    assert normalise_url(url) == expected


@pytest.mark.parametrize(
    ("href", "is_citation", "url", "reason"),
    [
        ("#", True, None, "placeholder"),
        ("", True, None, "placeholder"),
        ("  ", True, None, "placeholder"),
        ("#section-2", False, None, "in_page"),
        ("mailto:desk@news.example", False, None, "scheme:mailto"),
        ("tel:+15550100", False, None, "scheme:tel"),
        ("javascript:void(0)", False, None, "scheme:javascript"),
        ("ftp://files.example/x", False, None, "scheme:ftp"),
        ("../data.html", True, "https://news.example/data.html", "http"),
        ("/about", True, "https://news.example/about", "http"),
        ("//cdn.example/x", True, "https://cdn.example/x", "http"),
        ("https://news.example/section/story.html#comments", False, None, "self"),
        ("http://[::1", True, None, "invalid"),
        ("https://twitter.com/nytimes", False, None, "social_profile"),
        ("https://m.facebook.com/nytimes/", False, None, "social_profile"),
        ("https://www.youtube.com/@nytimes", False, None, "social_profile"),
        ("https://www.linkedin.com/in/jane-doe", False, None, "social_profile"),
    ],
)
def test_classify_href(href: str, is_citation: bool, url: str | None, reason: str) -> None:
    kind = classify_href(href, base_url=BASE, article_url=BASE)
    assert (kind.is_citation, kind.url, kind.reason) == (is_citation, url, reason)


def test_relative_href_without_base_is_an_unresolved_citation() -> None:
    kind = classify_href("notes.html", base_url=None, article_url=None)
    assert (kind.is_citation, kind.url, kind.reason) == (True, None, "relative")


@pytest.mark.parametrize(
    "href",
    [
        "https://x.com/nytimes/status/1190000000000000000",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://www.instagram.com/p/Cx1/",
        "https://twitter.com/search?q=port",
        "https://developers.facebook.com/docs",
    ],
)
def test_a_post_or_page_of_a_social_network_is_a_citation(href: str) -> None:
    kind = classify_href(href, base_url=BASE, article_url=BASE)
    assert (kind.is_citation, kind.reason) == (True, "http")


@pytest.mark.parametrize(
    ("url", "other", "expected"),
    [
        ("http://subscription.nj.com/", "https://www.nj.com/entertainment/story.html", True),
        ("https://www.bbc.co.uk/sounds", "https://www.bbc.com/news/story", False),
        ("https://alice.github.io/notes", "https://bob.github.io/blog", False),
        ("https://www.gazette.example/news", "https://gazette.example/world/story", True),
        ("https://other.example/news", "https://gazette.example/world/story", False),
    ],
)
def test_same_site_is_the_registrable_domain(url: str, other: str, expected: bool) -> None:
    assert same_site(url, other) is expected
