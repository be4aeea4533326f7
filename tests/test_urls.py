"""Which hrefs are citations, and their normalised URLs."""

from __future__ import annotations

import pytest

from archiver.urls import classify_href, normalise_url

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
    ],
)
def test_classify_href(href: str, is_citation: bool, url: str | None, reason: str) -> None:
    kind = classify_href(href, base_url=BASE, article_url=BASE)
    assert (kind.is_citation, kind.url, kind.reason) == (is_citation, url, reason)


def test_relative_href_without_base_is_an_unresolved_citation() -> None:
    kind = classify_href("notes.html", base_url=None, article_url=None)
    assert (kind.is_citation, kind.url, kind.reason) == (True, None, "relative")
