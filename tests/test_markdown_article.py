"""The example article and the Markdown features real pasted articles use."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.ingest.article import Article, load_article
from archiver.ingest.markdown import parse_markdown


@pytest.fixture(scope="module")
def article() -> Article:
    return load_article(
        str(Path(__file__).resolve().parents[1] / "examples" / "china-russia-central-asia.md")
    )


def test_example_has_25_citations_all_unresolved(article: Article) -> None:
    assert len(article.citations) == 25
    assert [c.position for c in article.citations] == list(range(1, 26))
    assert all(c.url is None and c.href == "#" for c in article.citations)
    assert {c.href_status for c in article.citations} == {"placeholder"}
    assert article.unresolved == 25


def test_example_metadata(article: Article) -> None:
    assert article.title == "China and Russia's uneasy partnership in Central Asia"
    assert article.author == "Paul Stronski"
    assert article.publisher == "East Asia Forum"
    assert article.published == "2018-03-29"


def test_byline_and_title_are_not_body_text(article: Article) -> None:
    assert article.text.startswith("Bound by common resentment")
    assert "Originally published" not in article.text


CLAIMS = {
    1: "Both seek to limit the presence of the West, particularly any Western military activity, "
    "in their immediate backyards — Eastern Europe for Russia, the South China Sea for China "
    "and Central Asia for both.",
    4: "But their relationship is marked by historic insecurity and mistrust that only deepens as "
    "the imbalance of power between Beijing and Moscow grows.",
    5: "Chinese trade with the five Central Asian states ballooned over the past decade, exceeding "
    "US$30 billion in 2016, a figure that dwarfs Russia's US$18 billion.",
    6: "Despite the hype about a new 'great game' between Russia and Europe in Eurasia, it was "
    "China — not the West — that broke Russia's monopoly over Central Asia's oil and gas exports.",
    7: "China's clout continues to grow with the Belt and Road Initiative (BRI), President Xi "
    "Jinping's vast vision to build transportation infrastructure across Eurasia to support his "
    "country's export flows.",
    8: "BRI is a highly ambitious scheme, albeit one with lingering questions over its economic "
    "viability.",
    10: "Central Asian leaders warmly embrace the BRI, hoping it will jumpstart stagnating "
    "economies, enhance socioeconomic stability and bring an influx of follow-on investment.",
    11: "It welcomes China's engagement as a way to help modernise ageing infrastructure and "
    "diversify its economy.",
    13: "Russia's stagnant economy limits its ability to compete with China.",
    15: "Unlike former US president Barack Obama, who famously dismissed Russia as a 'regional' "
    "power, President Xi recognises Russian President Vladimir Putin's desire to be taken "
    "seriously as a global leader.",
    16: "To keep public frictions to a minimum, Xi offers Putin multiple summits per year.",
    17: "Often they end with vague promises to coordinate BRI with Russia's Eurasian Economic "
    "Union initiative (EEU).",
    20: "Compared to Beijing's inclusive BRI framework, the EEU is an unhappy union of coerced "
    "members and frequent trade spats.",
    21: "China is reportedly building a military base on the Tajik-Afghan border, which will give "
    "it a security presence in both countries.",
    24: "It quietly increased security assistance to Kyrgyzstan after the 2016 bombing of the "
    "Chinese embassy in Bishkek and sells weapons to Turkmenistan.",
    25: "Three of them border China, while Turkmenistan is heavily indebted to Beijing and is "
    "China's main supplier of gas.",
}


@pytest.mark.parametrize("position", sorted(CLAIMS))
def test_example_claim_is_the_whole_sentence(article: Article, position: int) -> None:
    assert article.citations[position - 1].claim == CLAIMS[position]


def test_three_links_in_one_sentence_share_it(article: Article) -> None:
    first_three = article.citations[:3]
    assert [c.anchor_text for c in first_three] == [
        "Eastern Europe",
        "South China Sea",
        "Central Asia",
    ]
    assert {c.claim for c in first_three} == {CLAIMS[1]}


def test_same_anchor_twice_gives_two_citations_with_different_claims(article: Article) -> None:
    turkmenistan = [c for c in article.citations if c.anchor_text == "Turkmenistan"]
    assert [c.position for c in turkmenistan] == [24, 25]
    assert turkmenistan[0].claim != turkmenistan[1].claim


def test_escapes_are_undone(article: Article) -> None:
    assert article.citations[6].anchor_text == "Belt and Road Initiative (BRI)"
    assert (
        "US$30 billion" in article.text and "\\$" not in article.text and "\\(" not in article.text
    )


def test_paragraph_broken_mid_sentence_is_joined(article: Article) -> None:
    welcomes = article.citations[10]
    assert welcomes.anchor_text == "welcomes"
    assert (
        "Kazakhstan stands to benefit most from BRI given its geographic location as the key "
        "transit state." in welcomes.context
    )
    assert welcomes.paragraph == article.citations[8].paragraph  # same paragraph as "embrace"


def test_anchor_offsets_point_into_context(article: Article) -> None:
    for citation in article.citations:
        assert citation.context[citation.start : citation.end] == citation.anchor_text


MIXED = """\
# A heading title

By Jane Roe | Example Institute

Published in *The Review* with [a report](https://Example.org/Report?utm_source=feed#p2),
a [relative page](other.html), mail [me](mailto:x@example.org), jump [down](#notes)
and an autolink <https://auto.example.net/page>.

- A list item citing [the data](https://data.example.com/set).

> A quote citing [the speech](https://speech.example.com/).
"""


def test_markdown_heading_title_and_pipe_byline() -> None:
    article = parse_markdown(MIXED)
    assert article.title == "A heading title"
    assert article.author == "Jane Roe"


def test_markdown_links_classified() -> None:
    article = load_article_from_text(MIXED)
    got = [(c.anchor_text, c.url, c.href_status) for c in article.citations]
    assert got == [
        ("a report", "https://example.org/Report", "http"),
        ("relative page", None, "relative"),
        ("https://auto.example.net/page", "https://auto.example.net/page", "http"),
        ("the data", "https://data.example.com/set", "http"),
        ("the speech", "https://speech.example.com/", "http"),
    ]


def test_markdown_soft_breaks_joined_in_claim() -> None:
    article = load_article_from_text(MIXED)
    assert article.citations[0].claim.startswith(
        "Published in The Review with a report, a relative"
    )
    assert "\n" not in article.citations[0].claim


def load_article_from_text(text: str) -> Article:
    from archiver.ingest.article import build_article

    return build_article(text.encode(), "markdown", source_key="test")


def test_sentences_are_located_as_pysbd_locates_them(article: Article) -> None:
    """The segmenter finds each sentence with str.find instead of a regex per sentence; the
    spans must be pysbd's own, repeated sentences and runs of whitespace included."""
    import pysbd

    from archiver.ingest.claims import _segmenter

    reference = pysbd.Segmenter(language="en", clean=False, char_span=True)
    texts = [para for para in article.text.split("\n") if para.strip()]
    texts += [
        "Same. Same. Same.\nSame.",
        "Dr. Smith went to the U.S. on Monday.  It cost US$3.5 m.   Then he left.   ",
        "a a a. a a a. a a a.",
        "Hi.\u00a0\u00a0Hi. Hi.",
    ]
    for text in texts:
        ours = [(span.sent, span.start, span.end) for span in _segmenter().segment(text)]
        theirs = [(span.sent, span.start, span.end) for span in reference.segment(text)]
        assert ours == theirs, text
    assert len(texts) > 10


def test_markdown_links_that_are_not_citations_are_kept_with_their_reason() -> None:
    article = load_article_from_text(
        "Exports rose by a third, [the ministry said](https://gov.example/trade). Write to "
        "[the desk](mailto:desk@news.example) or follow [the author](https://twitter.com/ana)."
    )
    assert [(s.anchor_text, s.reason, s.paragraph) for s in article.skipped] == [
        ("the desk", "scheme:mailto", 1),
        ("the author", "social_profile", 1),
    ]
