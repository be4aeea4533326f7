"""archiver resolve's core: lost hrefs filled from another copy of the article, or from a map."""

from __future__ import annotations

import io
import itertools
import random
import re
from dataclasses import replace
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from webserver import WebServer, text

from archiver.ingest.article import Article, build_article, load_article
from archiver.ingest.claims import Citation
from archiver.net.fetch import FetchConfig
from archiver.recover.resolve import MIN_CONFIDENCE, MapError, Match, align, from_copy, from_map

#: Our copy: pasted as Markdown, every href lost, one paragraph broken mid-sentence.
OURS = r"""Water, rail and rivalry on the Caspian steppe

*By Mira Tanaka, Institute for Steppe Studies
Originally published by the Caspian Review, 14th May 2019*

Three powers now compete for the steppe's attention. Moscow offers [security guarantees](#), Beijing offers [railway loans](#) and Brussels offers [governance grants](#) to the same five capitals.

Chinese [trade](#) with the region reached US\$41 billion in 2018, twice the figure of 2010. The [Caspian pipeline](#) \(CPC\) carries most of Kazakhstan's oil westward.

Kazakhstan has [courted investors](#) from every direction, and its leaders say the country

can serve as a [bridge](#) between East and West. Critics call this [multi-vector diplomacy](#) a balancing act that cannot last.

China sells drones and armoured cars to [Turkmenistan](#), according to arms-transfer records. Gas is another matter: [Turkmenistan](#) owes Beijing more than it earns from its pipelines each year.

Water is the quieter dispute. Upstream dams in [Kyrgyzstan](#) anger farmers downstream, and a [2021 border clash](#) left dozens dead.

Russia still trains most of the region's officers, a [recent survey](#) found. How long that lasts is the open question.

Mira Tanaka is a fellow of the Institute for Steppe Studies.
"""

#: The original page: real hrefs, plus a paragraph ours lacks, minus the pipeline link, a
#: longer anchor for "trade" and the survey sentence reworded.
ORIGINAL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Water, rail and rivalry on the Caspian steppe | Caspian Review</title>
<meta name="author" content="Mira Tanaka">
</head><body>
<nav><a href="/">Caspian Review</a> <a href="/regions/">Regions</a></nav>
<article>
<h1>Water, rail and rivalry on the Caspian steppe</h1>
<p>Three powers now compete for the steppe&#8217;s attention. Moscow offers
<a href="https://defence.example/guarantees">security guarantees</a>, Beijing offers
<a href="https://bank.example/loans?utm_source=review">railway loans</a> and Brussels offers
<a href="https://eu.example/grants">governance grants</a> to the same five capitals.</p>
<p><a href="https://stats.example/trade/2018">Chinese trade with the region</a> reached
US$41 billion in 2018, twice the figure of 2010. The Caspian pipeline (CPC) carries most of
Kazakhstan&#8217;s oil westward.</p>
<p>Russia&#8217;s own <a href="https://customs.example/exports">exports to the steppe</a> grew
far more slowly, <a href="https://customs.example/annual-report">customs figures</a> show, and
Moscow&#8217;s banks lend less each year.</p>
<p>Kazakhstan has <a href="https://invest.example/kz">courted investors</a> from every direction,
and its leaders say the country can serve as a <a href="https://speeches.example/bridge">bridge</a>
between East and West. Critics call this
<a href="https://journal.example/multi-vector">multi-vector diplomacy</a> a balancing act that
cannot last.</p>
<p>China sells drones and armoured cars to <a href="https://arms.example/tm">Turkmenistan</a>,
according to arms-transfer records. Gas is another matter:
<a href="https://debt.example/tm-gas">Turkmenistan</a> owes Beijing more than it earns from its
pipelines each year.</p>
<p>Water is the quieter dispute. Upstream dams in
<a href="https://water.example/kyrgyz-dams">Kyrgyzstan</a> anger farmers downstream, and a
<a href="https://news.example/2021/border-clash">2021 border clash</a> left dozens dead.</p>
<p>Most of the region&#8217;s officers are still trained in Russia, according to a
<a href="https://survey.example/officers">recent survey</a>. How long that lasts is the open
question.</p>
<p>Mira Tanaka is a fellow of the Institute for Steppe Studies.</p>
</article>
<footer><a href="/about">About us</a></footer>
</body></html>
"""
ORIGINAL_URL = "https://review.example/2019/05/water-rail-rivalry"

#: Where each of our links really points, by position; None: the original has no such link.
EXPECTED = [
    "https://defence.example/guarantees",
    "https://bank.example/loans",
    "https://eu.example/grants",
    "https://stats.example/trade/2018",
    None,  # Caspian pipeline
    "https://invest.example/kz",
    "https://speeches.example/bridge",
    "https://journal.example/multi-vector",
    "https://arms.example/tm",
    "https://debt.example/tm-gas",
    "https://water.example/kyrgyz-dams",
    "https://news.example/2021/border-clash",
    "https://survey.example/officers",
]
EXTRA = {"https://customs.example/exports", "https://customs.example/annual-report"}


def ours_article() -> Article:
    return build_article(OURS.encode(), "markdown", source_key="test:ours")


def original_article(html: str = ORIGINAL) -> Article:
    return build_article(html.encode(), "html", source_key=ORIGINAL_URL, url=ORIGINAL_URL)


@pytest.fixture(scope="module")
def ours() -> list[Citation]:
    return ours_article().citations


@pytest.fixture(scope="module")
def matches(ours: list[Citation]) -> list[Match]:
    return align(ours, original_article().citations, source=f"from:{ORIGINAL_URL}")


def by_anchor(ours: list[Citation], matches: list[Match], anchor: str) -> list[Match]:
    return [m for c, m in zip(ours, matches, strict=True) if c.anchor_text == anchor]


def test_the_copies_are_shaped_as_the_tests_need(ours: list[Citation]) -> None:
    their = original_article().citations
    assert len(ours) == 13 and all(c.href == "#" and c.url is None for c in ours)
    assert [c.anchor_text for c in ours].count("Turkmenistan") == 2
    assert ours[6].claim.startswith("Kazakhstan has courted investors")  # the broken paragraph
    assert len({c.claim for c in ours[:3]}) == 1  # three links in one sentence
    assert len(their) == 14 and EXTRA <= {c.url for c in their}


def test_every_link_goes_to_its_place(ours: list[Citation], matches: list[Match]) -> None:
    assert [m.position for m in matches] == [c.position for c in ours]
    assert [m.url for m in matches] == EXPECTED


def test_a_link_the_original_lacks_stays_unmatched(
    ours: list[Citation], matches: list[Match]
) -> None:
    (pipeline,) = by_anchor(ours, matches, "Caspian pipeline")
    assert (pipeline.url, pipeline.confidence, pipeline.method) == (None, 0.0, "unmatched")
    assert not pipeline.resolved


def test_the_extra_paragraph_is_ignored(matches: list[Match]) -> None:
    assert not EXTRA & {m.url for m in matches}
    assert {m.their_position for m in matches} == {1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 14, None}


def test_links_with_the_same_anchor_follow_their_claims(
    ours: list[Citation], matches: list[Match]
) -> None:
    arms, gas = by_anchor(ours, matches, "Turkmenistan")
    assert (arms.url, gas.url) == ("https://arms.example/tm", "https://debt.example/tm-gas")
    assert arms.method == gas.method == "anchor+claim"


def test_a_link_the_original_lacks_does_not_take_its_namesake(ours: list[Citation]) -> None:
    """Without the arms link, our first "Turkmenistan" must not take the gas one."""
    html = ORIGINAL.replace('<a href="https://arms.example/tm">Turkmenistan</a>', "Turkmenistan")
    arms, gas = by_anchor(ours, align(ours, original_article(html).citations), "Turkmenistan")
    assert (arms.url, arms.method) == (None, "unmatched")
    assert gas.url == "https://debt.example/tm-gas"


def test_confidence_follows_the_evidence(ours: list[Citation], matches: list[Match]) -> None:
    exact = by_anchor(ours, matches, "Kyrgyzstan")[0]
    reworded = by_anchor(ours, matches, "recent survey")[0]
    claim_only = by_anchor(ours, matches, "trade")[0]
    assert exact.method == "anchor+claim" and exact.confidence > 0.95
    assert reworded.method.startswith("anchor")
    assert claim_only.method == "claim"
    assert exact.confidence > reworded.confidence > claim_only.confidence > MIN_CONFIDENCE


def test_a_matching_link_without_a_target_gives_no_url(ours: list[Citation]) -> None:
    html = ORIGINAL.replace("https://water.example/kyrgyz-dams", "#")
    (kyrgyzstan,) = by_anchor(ours, align(ours, original_article(html).citations), "Kyrgyzstan")
    assert (kyrgyzstan.url, kyrgyzstan.method, kyrgyzstan.their_position) == (None, "no_url", 12)
    assert kyrgyzstan.confidence > 0.95


def test_ours_is_left_as_written(ours: list[Citation]) -> None:
    before = [replace(c) for c in ours]
    align(ours, original_article().citations)
    assert ours == before  # href "#" and url None: the caller fills url, href stays


def test_match_is_a_resolutions_row(matches: list[Match]) -> None:
    assert matches[0].as_dict() == {
        "position": 1,
        "url": "https://defence.example/guarantees",
        "source": f"from:{ORIGINAL_URL}",
        "confidence": matches[0].confidence,
        "method": "anchor+claim",
    }


def test_nothing_to_align_against(ours: list[Citation]) -> None:
    assert {(m.url, m.method) for m in align(ours, [])} == {(None, "unmatched")}
    assert align([], original_article().citations) == []


def test_the_original_can_be_a_url(ours: list[Citation], web_server: WebServer) -> None:
    web_server.routes["/2019/05/water-rail-rivalry"] = text(ORIGINAL, content_type="text/html")
    url = web_server.url("/2019/05/water-rail-rivalry")
    copy = load_article(url, fetch_config=FetchConfig(allow_private_addresses=True, delay=0))
    matches = from_copy(ours, copy)
    assert [m.url for m in matches] == EXPECTED
    assert {m.source for m in matches} == {f"from:{url}"}


def test_the_example_article_against_an_original_with_less(example_article: Path) -> None:
    """The bundled article against an HTML original rendered from it with a URL per link, one
    paragraph (two links) cut and the first "Turkmenistan" link unlinked."""
    numbers = itertools.count(1)
    source = example_article.read_text(encoding="utf-8")
    filled = re.sub(r"\]\(#\)", lambda _: f"](https://src.example/{next(numbers)})", source)
    cut = next(p for p in filled.split("\n\n") if p.startswith("Russia seems unconcerned"))
    filled = filled.replace(cut, "").replace(
        "[Turkmenistan](https://src.example/24)", "Turkmenistan"
    )
    html = f"<html><body><article>{MarkdownIt('commonmark').render(filled)}</article></body></html>"
    ours = load_article(str(example_article)).citations
    matches = align(ours, original_article(html).citations)
    lost = {13, 14, 24}
    assert [m.url for m in matches] == [
        None if n in lost else f"https://src.example/{n}" for n in range(1, 26)
    ]


def _citation(position: int, anchor: str, claim: str, url: str | None = None) -> Citation:
    return Citation(position, anchor, url or "#", url, "http" if url else "placeholder",
                    claim, claim, position, 0, len(anchor))  # fmt: skip


def test_a_big_article_of_here_links_aligns() -> None:
    """2,000 links all anchored "here" (every pair shares an anchor word), 40 dropped, 40 new
    ones added, 100 claims reworded: every kept link still finds its URL."""
    rng = random.Random(13)
    vocabulary = [f"w{n}" for n in range(5_000)] + ["the", "of", "and", "to"] * 50

    def sentence() -> list[str]:
        return rng.sample(vocabulary, 14)

    claims = [sentence() for _ in range(2_000)]
    ours = [_citation(i + 1, "here", " ".join(c)) for i, c in enumerate(claims)]
    kept = [i for i in range(2_000) if not 900 <= i < 940]
    theirs: list[tuple[int | None, list[str]]] = [(i, claims[i]) for i in kept[:1_200]]
    theirs += [(None, sentence()) for _ in range(40)] + [(i, claims[i]) for i in kept[1_200:]]
    for j in range(0, len(theirs), 20):  # reword: two words of fourteen changed
        theirs[j] = (theirs[j][0], theirs[j][1][:12] + ["the", "w5001"])
    their_citations = [
        _citation(j + 1, "here", " ".join(c), f"https://s.example/{i}/{j}")
        for j, (i, c) in enumerate(theirs)
    ]
    urls = {i: f"https://s.example/{i}/{j}" for j, (i, _) in enumerate(theirs) if i is not None}
    assert [m.url for m in align(ours, their_citations)] == [urls.get(i) for i in range(2_000)]


def test_a_moved_paragraph_loses_only_its_own_link() -> None:
    """Alignment keeps order: of a paragraph moved up, only its link goes unmatched."""
    sentences = [f"Sentence {name} cites the {name} report on rail." for name in "abcde"]
    ours = [_citation(k + 1, "report", claim) for k, claim in enumerate(sentences)]
    order = [0, 3, 1, 2, 4]
    theirs = [
        _citation(j + 1, "report", sentences[k], f"https://r.example/{k}")
        for j, k in enumerate(order)
    ]
    assert [m.url for m in align(ours, theirs)] == [
        "https://r.example/0",
        "https://r.example/1",
        "https://r.example/2",
        None,
        "https://r.example/4",
    ]


MAP_OURS = [
    _citation(1, "trade", "Chinese trade with the region grew."),
    _citation(2, "Turkmenistan", "China sells arms to Turkmenistan."),
    _citation(3, "Turkmenistan", "Turkmenistan owes Beijing money."),
    _citation(4, "Belt and Road Initiative (BRI)", "China's clout grows with the BRI."),
]


def test_map_by_position_and_by_anchor_text() -> None:
    rows = io.StringIO(
        "position,anchor_text,url,note\n"
        "3,,https://debt.example/tm-gas#top,checked by hand\n"
        ",Belt and Road Initiative \\(BRI\\),HTTPS://BRI.example/plan?utm_source=x,\n"
        "\n"
        '1,"Trade",https://stats.example/trade,\n'
    )
    matches = from_map(MAP_OURS, rows, source="map:found.csv")
    assert [m.as_dict() for m in matches] == [
        {"position": 3, "url": "https://debt.example/tm-gas", "source": "map:found.csv",
         "confidence": 1.0, "method": "position"},
        {"position": 4, "url": "https://bri.example/plan", "source": "map:found.csv",
         "confidence": 1.0, "method": "anchor_text"},
        {"position": 1, "url": "https://stats.example/trade", "source": "map:found.csv",
         "confidence": 1.0, "method": "position"},
    ]  # fmt: skip


def test_map_refuses_an_ambiguous_anchor_text() -> None:
    rows = ["anchor_text,url", "Turkmenistan,https://arms.example/tm"]
    with pytest.raises(MapError) as caught:
        from_map(MAP_OURS, rows, source="map:found.csv")
    assert caught.value.problems == [
        (2, "the anchor text 'Turkmenistan' is ambiguous (positions 2, 3): give a position")
    ]


def test_map_reports_every_bad_row_by_line() -> None:
    rows = io.StringIO(
        "position,anchor_text,url\n"
        "1,,https://stats.example/trade\n"
        "9,,https://x.example/\n"
        "two,,https://x.example/\n"
        "2,,ftp://arms.example/tm\n"
        "2,,not a url\n"
        ",Silk Road,https://x.example/\n"
        ",,https://x.example/\n"
        "2,trade,https://x.example/\n"
        "1,,https://other.example/\n"
    )
    with pytest.raises(MapError) as caught:
        from_map(MAP_OURS, rows, source="map:found.csv")
    assert caught.value.problems == [
        (3, "position '9' is not between 1 and 4"),
        (4, "position 'two' is not between 1 and 4"),
        (5, "'ftp://arms.example/tm' is not an http(s) URL"),
        (6, "'not a url' is not an http(s) URL"),
        (7, "no citation has the anchor text 'Silk Road'"),
        (8, "neither a position nor an anchor_text"),
        (9, "position 2 has the anchor text 'Turkmenistan', not 'trade'"),
        (10, "position 1 was given another URL"),
    ]
    assert str(caught.value).startswith("map:found.csv: 8 row(s) cannot be used:\n  line 3: ")


@pytest.mark.parametrize(
    "header",
    ["url\n", "position,link\n", "", "anchor,url\n"],
    ids=["no key", "no url", "empty", "typo"],
)
def test_map_needs_its_columns(header: str) -> None:
    with pytest.raises(MapError) as caught:
        from_map(MAP_OURS, io.StringIO(header + "1,https://x.example/\n"))
    assert caught.value.problems == [
        (1, "the header needs a url column and position or anchor_text")
    ]
