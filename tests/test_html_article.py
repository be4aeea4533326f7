"""HTML articles: only the main content's links are citations, hrefs kept as written."""

from __future__ import annotations

import re
from typing import Any

import pytest

from archiver.errors import ArticleError
from archiver.ingest.article import Article, build_article
from archiver.ingest.claims import ArticleLinks, citations_from, join_broken_paragraphs
from archiver.ingest.html import parse_html

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ports and power | The Gazette</title>
<base href="https://gazette.example/world/">
<meta name="author" content="Ana Lima">
<meta property="article:published_time" content="2021-06-15T08:00:00Z">
<meta property="og:site_name" content="The Gazette">
</head><body>
<header><a href="/">The Gazette</a> <a href="/login">Log in</a></header>
<nav><ul><li><a href="/world/">World</a></li><li><a href="/business/">Business</a></li></ul></nav>
<main><article>
<h1>Ports and power in the Indian Ocean</h1>
<p>Container traffic through the port rose by 12 per cent in 2020, according to
<a href="https://stats.example.org/ports/2020?utm_source=gazette&amp;year=2020">the port authority</a>.
Dr. K. Rao of the U.N. said the figures were &#8220;remarkable&#8221;.</p>
<p>The new terminal cost US$1.2 billion, <a href="../data/terminal.html">official filings show</a>,
and was built in three years.</p>
<p>An older <a href="#">study</a> that went missing, an <a href="">empty link</a>,
a <a href="mailto:desk@gazette.example">mail link</a>, a <a href="tel:+15550100">phone</a>,
a <a href="#footnote-2">footnote jump</a> and a <a href="javascript:share()">script</a>.</p>
<p>Analysts expect growth to continue for a decade, as <a href="https://think.example.net/report">a report by the Ocean Institute</a> argues in detail.</p>
<p>The shipping line has announced two new routes, <a href="https://line.example.com/news">its press office said</a>.</p>
<p>Follow us on <a href="https://twitter.com/gazette">Twitter</a> for more news.</p>
<p><a href="https://gazette.example/newsletters">Subscribe to our newsletter</a> for the week's top stories.</p>
<p>Related: <a href="https://gazette.example/world/port-strike">Dockers strike over pay</a></p>
</article></main>
<aside><h2>Related</h2><ul><li><a href="https://gazette.example/world/other-story">Another story</a></li>
<li><a href="https://gazette.example/world/third">A third story</a></li></ul></aside>
<footer><a href="https://share.example/?u=x">Share</a> <a href="/privacy">Privacy</a> © The Gazette</footer>
<div class="comments"><p>Great article! See <a href="https://spam.example/">my site</a>.</p></div>
</body></html>"""

URL = "https://gazette.example/world/ports-and-power"


@pytest.fixture(scope="module")
def article() -> Article:
    return build_article(PAGE.encode(), "html", source_key=URL, url=URL)


def test_body_links_are_citations_and_chrome_links_are_not(article: Article) -> None:
    anchors = [c.anchor_text for c in article.citations]
    assert anchors == [
        "the port authority",
        "official filings show",
        "study",
        "empty link",
        "a report by the Ocean Institute",
        "its press office said",
    ]


@pytest.mark.parametrize(
    ("anchor", "reason"),
    [
        ("Twitter", "social_profile"),
        ("Subscribe to our newsletter", "call_to_action"),
        ("Dockers strike over pay", "site_teaser"),
        ("mail link", "scheme:mailto"),
        ("phone", "scheme:tel"),
        ("footnote jump", "in_page"),
        ("script", "scheme:javascript"),
    ],
)
def test_links_that_are_not_citations_are_kept_with_their_reason(
    article: Article, anchor: str, reason: str
) -> None:
    assert (anchor, reason) in [(s.anchor_text, s.reason) for s in article.skipped]


def _article_with(block: str) -> Article:
    """The test page with one more block in the middle of its article."""
    page = PAGE.replace("<p>Analysts expect", f"{block}\n<p>Analysts expect")
    return build_article(page.encode(), "html", source_key=URL, url=URL)


@pytest.mark.parametrize(
    "claim",
    [
        "More than 200 people died in the floods, {link}.",
        "Get-out-the-vote drives reached 40,000 homes in the district, {link}.",
        "Watch lists of suspected smugglers doubled in length last year, {link}.",
        "Join requests from neighbouring ports rose to eleven, {link}.",
        "Listen to the recordings and the timeline changes by two hours, {link}.",
        "Related charges against the harbour master were dropped in 2019, {link}.",
    ],
    ids=["More", "Get", "Watch", "Join", "Listen", "Related"],
)
def test_claims_keep_their_citation_whatever_their_first_word(claim: str) -> None:
    link = '<a href="https://gov.example/report">the ministry said</a>'
    article = _article_with(f"<p>{claim.format(link=link)}</p>")
    cited = {c.anchor_text: c.claim for c in article.citations}
    assert cited["the ministry said"] == claim.format(link="the ministry said")


def test_a_heading_that_is_only_a_link_to_another_site_is_a_citation() -> None:
    article = _article_with(
        '<h3><a href="https://ocean.example/atlas">The Ocean Atlas 2021</a></h3>'
    )
    assert "The Ocean Atlas 2021" in [c.anchor_text for c in article.citations]


def test_a_link_to_the_site_itself_within_a_sentence_is_a_citation() -> None:
    article = _article_with(
        '<p>Cargo volumes fell in 2019, <a href="/world/port-figures">as we reported</a>.</p>'
    )
    assert "as we reported" in [c.anchor_text for c in article.citations]


def test_hrefs_kept_as_written_urls_normalised_and_resolved(article: Article) -> None:
    by_anchor = {c.anchor_text: c for c in article.citations}
    authority = by_anchor["the port authority"]
    assert authority.href == "https://stats.example.org/ports/2020?utm_source=gazette&year=2020"
    assert authority.url == "https://stats.example.org/ports/2020?year=2020"
    filings = by_anchor["official filings show"]
    assert filings.href == "../data/terminal.html"
    assert filings.url == "https://gazette.example/data/terminal.html"  # against <base href>


def test_placeholders_are_unresolved_citations(article: Article) -> None:
    by_anchor = {c.anchor_text: c for c in article.citations}
    assert (by_anchor["study"].href, by_anchor["study"].url) == ("#", None)
    assert (by_anchor["empty link"].href, by_anchor["empty link"].url) == ("", None)
    assert by_anchor["study"].href_status == "placeholder"


def test_claim_sentence_copes_with_abbreviations(article: Article) -> None:
    assert article.citations[0].claim == (
        "Container traffic through the port rose by 12 per cent in 2020, according to the port "
        "authority."
    )
    assert article.citations[1].claim == (
        "The new terminal cost US$1.2 billion, official filings show, and was built in three years."
    )


def test_page_metadata(article: Article) -> None:
    assert article.title == "Ports and power in the Indian Ocean"
    assert article.author == "Ana Lima"
    assert article.published == "2021-06-15"
    assert article.publisher == "The Gazette"


def test_relative_links_resolve_against_page_url_without_base() -> None:
    page = PAGE.replace('<base href="https://gazette.example/world/">', "")
    article = build_article(page.encode(), "html", source_key=URL, url=URL)
    filings = next(c for c in article.citations if c.href == "../data/terminal.html")
    assert filings.url == "https://gazette.example/data/terminal.html"


def test_link_to_the_article_itself_is_not_a_citation() -> None:
    page = PAGE.replace("https://line.example.com/news", URL + "#top")
    article = build_article(page.encode(), "html", source_key=URL, url=URL)
    assert "its press office said" not in [c.anchor_text for c in article.citations]


def test_html_without_main_text_is_refused() -> None:
    with pytest.raises(ArticleError, match="no article text"):
        build_article(
            b"<html><head><title>t</title></head><body></body></html>",
            "html",
            source_key="t",
            url=URL,
        )


def _words(text: str) -> str:
    return re.sub(r"\s+", "", text)


#: Claims outside the text the benchmark's annotators marked, each checked by hand:
#: vox.com: the annotators' text stops mid-sentence ("...the air quality "), the page does not;
#: space.com: the author's bio under the article, which the annotators left out;
#: bbc.com: "Listen to Newsbeat live ... or listen back here", links to bbc.co.uk, another
#: registrable domain, so not provably the site's own promotion (issue 10);
#: phys.org: a headline of its sister site medicalxpress.com, likewise another site.
KNOWN_OUTSIDE = {
    ("16c30add7e96", "US Embassy"),
    ("686bb170effe", "Out There"),
    ("686bb170effe", "Karl Tate"),
    ("70cb2d5bca75", "live"),
    ("70cb2d5bca75", "here"),
    ("e1c7023ee214", "Unravelling the neural network of torpor"),
}


@pytest.fixture(scope="module")
def corpus_links(corpus_pages: list[dict[str, Any]]) -> list[tuple[dict[str, Any], ArticleLinks]]:
    """Each corpus page with its citations and skipped links, read as ``archive`` reads it."""
    read = []
    for page in corpus_pages:
        html = parse_html(page["html"], url=page["original_url"])
        links = citations_from(
            join_broken_paragraphs(html.paragraphs),
            base_url=html.base_url,
            article_url=page["original_url"],
        )
        read.append((page, links))
    return read


@pytest.mark.corpus
def test_corpus_claims_lie_in_the_marked_main_text(
    corpus_links: list[tuple[dict[str, Any], ArticleLinks]],
) -> None:
    outside, total = set(), 0
    for page, (citations, _) in corpus_links:
        truth = _words(page["ground_truth_text"])
        total += len(citations)
        outside |= {(page["id"], c.anchor_text) for c in citations if _words(c.claim) not in truth}
    assert total > 200  # the corpus pages cite plenty: a parser that drops links must fail here
    assert outside == KNOWN_OUTSIDE


#: The one link of the marked main text that a site rule leaves out, checked by hand: phys.org's
#: "Provided by European Space Agency" credit, whose link is phys.org's page of ESA stories.
KNOWN_SKIPPED_INSIDE = {("e1c7023ee214", "European Space Agency", "site_teaser")}


@pytest.mark.corpus
def test_corpus_site_rules_leave_the_marked_main_text_alone(
    corpus_links: list[tuple[dict[str, Any], ArticleLinks]],
) -> None:
    site_rules = {"social_profile", "site_teaser", "call_to_action"}
    skipped_inside = {
        (page["id"], link.anchor_text, link.reason)
        for page, (_, skipped) in corpus_links
        for link in skipped
        if link.reason in site_rules and _words(link.sentence) in _words(page["ground_truth_text"])
    }
    assert skipped_inside == KNOWN_SKIPPED_INSIDE
