"""Evidence: facts, ranking and labels as pure functions, then annotate on a real archive."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from datasette.app import Datasette
from sqlite_utils import Database
from webserver import Handler, WebServer

from archiver.capture.extract import extract
from archiver.cli import cli
from archiver.evidence import find as evidence
from archiver.evidence.find import (
    CitedClaim,
    PassageIndex,
    evidence_for,
    facts,
    find_evidence,
    highlight,
    number_spans,
    numbers,
    passages,
    rank,
    split_sentences,
    terms,
)
from archiver.ingest.article import load_article
from archiver.run.annotate import annotate, label_counts
from archiver.store import migrations, open_db, save_article

REPO = Path(__file__).resolve().parents[1]
METADATA: dict[str, Any] = json.loads((REPO / "metadata.json").read_text(encoding="utf-8"))

PORT_TEXT = (
    "The port authority published its annual report on Monday.\n"
    "Container traffic through the port rose by 12 per cent in 2020, the authority reported. "
    "The new terminal cost US$1.2 billion and was built in three years by Harbour Works.\n"
    "Ships now wait less than a day at anchor. "
    "The authority does not expect traffic to fall next year."
)
PORT_PAGE = (
    "<html><head><title>Port report</title></head><body><article><h1>Port traffic</h1>"
    + "".join(f"<p>{line}</p>" for line in PORT_TEXT.split("\n"))
    + "</article></body></html>"
)


# -- facts ----------------------------------------------------------------------------------


def test_amounts_agree_however_written() -> None:
    assert numbers("US$30 billion") == numbers("$30bn") == numbers("30,000 million") == {3e10}


def test_facts_of_a_claim() -> None:
    claim = (
        "In 2018 Beijing pledged US$30 billion, 12 per cent more, Xi Jinping told the U.S. Senate."
    )
    found = facts(claim)
    assert found.numbers == {2018.0: "2018", 3e10: "US$30 billion", 12.0: "12"}
    assert found.years == ["2018"]
    assert set(found.names.values()) == {"Beijing", "U.S.", "Xi", "Jinping", "Senate"}
    assert found.negations == 0


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("US$30 billion", 3e10, "usd"),
        ("USD 30 bn", 3e10, "usd"),
        ("$30bn", 3e10, "$"),
        ("€30bn", 3e10, "eur"),
        ("60,000₩", 6e4, "krw"),
        ("twenty-eight people", 28.0, None),
    ],
)
def test_an_amount_is_one_fact_with_its_currency(
    text: str, value: float, currency: str | None
) -> None:
    assert [(n.value, n.currency) for n in number_spans(text)] == [(value, currency)]


def test_us_dollars_and_dollars_are_the_same_amount() -> None:
    """Issue 10: "US$30 billion" against "$30bn" was partial, missing "US"."""
    index = PassageIndex("Beijing pledged $30bn to the fund in 2018, the ministry said.")
    evidence = find_evidence("In 2018 Beijing pledged US$30 billion to the fund.", index)
    assert (evidence.label, evidence.missing) == ("supported", None)


def test_euros_are_not_dollars() -> None:
    index = PassageIndex("Beijing pledged $30bn to the fund in 2018, the ministry said.")
    assert find_evidence("In 2018 Beijing pledged €30bn to the fund.", index).label == "partial"


def test_number_words_and_negations() -> None:
    found = facts("The agency did not hire nine engineers and won't hire three million more.")
    assert set(found.numbers) == {9.0, 3e6}
    assert found.negations == 2


@pytest.mark.parametrize(
    ("claim", "names"),
    [
        ("Officials said the port was busy.", set()),  # sentence case is not a name
        ("NASA said the port was busy.", {"NASA"}),
        ("Home Depot said sales rose.", {"Home", "Depot"}),
    ],
)
def test_first_word_is_a_name_only_when_it_must_be(claim: str, names: set[str]) -> None:
    assert set(facts(claim).names.values()) == names


# -- passages and ranking -------------------------------------------------------------------


def test_sentences_survive_abbreviations_and_decimals() -> None:
    text = "Gov. Kristi Noem paid $2.53 to the U.S. agency. It said no. Next line\nNew paragraph"
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Gov. Kristi Noem paid $2.53 to the U.S. agency.",
        "It said no.",
        "Next line",
        "New paragraph",
    ]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Dr. Who spoke. Mr. Smith left.", ["Dr. Who spoke.", "Mr. Smith left."]),
        (
            "J. R. Smith met U.S. and U.K. officials. Then",
            ["J. R. Smith met U.S. and U.K. officials.", "Then"],
        ),
        (
            "It launches in the mid-2020s. Clipper will",
            ["It launches in the mid-2020s.", "Clipper will"],
        ),
        ("It runs in native 4K. Google said so.", ["It runs in native 4K.", "Google said so."]),
        ('"Go!" he said. "Now?" she asked.', ['"Go!" he said.', '"Now?" she asked.']),
        ("Plan B. Then plan C… Done.", ["Plan B. Then plan C…", "Done."]),
    ],
)
def test_sentence_ends_after_initials_abbreviations_and_numbers(
    text: str, sentences: list[str]
) -> None:
    assert [text[s:e] for s, e in split_sentences(text)] == sentences


LATIN_SAMPLES = [
    "The U.S. and the E.U. agreed; A.B.C. and a.b. too, U.S.A without the last dot.",
    "Prices: $2,300.50, 4K, 60fps, 1,2,3, 2020s, mid-2020s, 10.7 teraflop, v2.0.1.",
    "snake_case_words, x²y, naïve café STRASSE Straße, Ünïcödé — “quotes” and 'single'.",
    "Он сказал, что экспорт вырос на 12 процентов. Não há nada. Ça ne marche pas.",
    "Companies' arrested arresting planes flies studies e.g. i.e. a.m. p.m.",
]


ASCII_SAMPLES = [
    "The U.S. and the E.U. agreed; A.B.C. and a.b. too, U.S.A without the last dot.",
    "Prices: $2,300.50, 4K, 60fps, 1,2,3, 2020s, mid-2020s, 10.7 teraflop, v2.0.1, 3.x, 1.",
    "snake_case_words, CamelCase, O'Brien's, co-op, x86_64, e.g. i.e. a.m. p.m. U.S.-led",
    "Companies' arrested arresting planes flies studies YOURSELVES Its ITS said SAYS",
]


@pytest.mark.parametrize("text", LATIN_SAMPLES)
def test_the_fast_tokenizer_gives_the_general_one_s_terms(text: str) -> None:
    assert evidence._latin_terms(text) == evidence._any_terms(text)


@pytest.mark.parametrize("text", ASCII_SAMPLES)
def test_the_ascii_tokenizer_gives_the_general_one_s_terms(text: str) -> None:
    assert evidence._ascii_terms(text.lower()) == evidence._any_terms(text)
    assert evidence.terms(text) == evidence._any_terms(text)


@pytest.mark.parametrize(
    "text",
    [
        "Exports ROSE by 12 percent in 2023. The U.S. said so.\nNext: 2,300.50 units.",
        "See example.com, or end.The U.S.-led talks (e.g., in 1,2,3 rounds) cost $3.5m... x,y",
        "A.B.C. and a.b. met at 10.30, then 4K TVs, 2020s hits, ...,, and 'quoted' words!",
    ],
)
def test_the_index_gives_each_ascii_sentence_the_general_tokenizer_s_terms(text: str) -> None:
    index = PassageIndex(text)
    assert index.terms == [evidence._any_terms(text[s:e]) for s, e in index.spans]


def test_the_fast_tokenizers_agree_on_every_corpus_page(corpus_pages: list[dict[str, Any]]) -> None:
    checked = ascii_checked = 0
    for page in corpus_pages:
        text = extract(
            page["html"].encode(), content_type="text/html", url=page["original_url"]
        ).text
        for start, end in split_sentences(text or ""):
            sentence = text[start:end]  # type: ignore[index]
            if evidence._HAS_CJK.search(sentence) is None:
                assert evidence._latin_terms(sentence) == evidence._any_terms(sentence), sentence
                checked += 1
            if sentence.isascii():
                assert evidence.terms(sentence) == evidence._any_terms(sentence), sentence
                ascii_checked += 1
        if text and text.isascii():  # the index's own split of a whole ASCII source
            index = PassageIndex(text)
            assert index.terms == [evidence._any_terms(index.text[s:e]) for s, e in index.spans]
    assert checked > 1000
    assert ascii_checked > 500


def test_cjk_text_is_cut_into_character_pairs() -> None:
    assert terms("東京都 2020") == ["東京", "京都", "2020"]


def test_evidence_for_claims_from_text_in_hand() -> None:
    claims = [
        CitedClaim(7, "The terminal cost US$1.2 billion.", "terminal", None),
        CitedClaim(8, "Container traffic through the port rose by 15 per cent.", None, None),
        CitedClaim(9, None),
    ]
    found = dict(evidence_for(PORT_TEXT, claims))
    assert found[7].label == "supported" and "US$1.2 billion" in (found[7].passage or "")
    assert found[8].label == "partial" and found[8].missing == "15"
    assert found[9].label == "unavailable"
    assert [e.label for _, e in evidence_for(None, claims)] == ["unavailable"] * 3
    assert evidence_for(PORT_TEXT, []) == []


def test_a_passage_is_a_sentence_with_its_neighbours() -> None:
    found = passages(PORT_TEXT)
    assert len(found) == 5
    assert found[2].sentence.startswith("The new terminal cost")
    assert found[2].text.startswith("Container traffic") and found[2].text.endswith("at anchor.")
    assert found[0].text.startswith("The port authority") and found[-1].text.endswith("next year.")


def test_ranking_picks_the_sentence_that_says_it() -> None:
    index = PassageIndex(PORT_TEXT)
    ranked = rank("Harbour Works spent three years building a terminal costing $1.2bn.", index)
    assert ranked[0].passage.sentence.startswith("The new terminal cost US$1.2 billion")
    assert ranked[0].score > ranked[1].score


def test_anchor_words_break_a_tie() -> None:
    text = "The port grew fast. The airport grew fast."
    index = PassageIndex(text)
    claim = "Both grew fast, the port and the airport."
    assert rank(claim, index, anchor="the airport")[0].passage.sentence == "The airport grew fast."
    assert rank(claim, index, anchor="the port")[0].passage.sentence == "The port grew fast."


@pytest.mark.parametrize(
    ("claim", "label", "missing"),
    [
        ("Container traffic through the port rose by 12 per cent in 2020.", "supported", None),
        ("Harbour Works built the $1.2bn terminal in three years.", "partial", None),
        ("Container traffic through the port rose by 15 per cent in 2020.", "partial", "15"),
        ("Container traffic through the port rose by 12 per cent in 2019.", "partial", "2019"),
        (
            "The new terminal was built in three years by Dock Builders.",
            "partial",
            "Dock; Builders",
        ),
        ("The authority expects traffic to fall next year.", "partial", "negation"),
        ("Wheat prices in Kansas doubled after the drought of 1956.", "not_found", None),
    ],
    ids=["quote", "paraphrase", "number", "year", "name", "negation", "unrelated"],
)
def test_labels(claim: str, label: str, missing: str | None) -> None:
    evidence = find_evidence(claim, PassageIndex(PORT_TEXT))
    assert (evidence.label, evidence.missing) == (label, missing)
    assert (evidence.passage is None) == (label == "not_found")


# -- what the passage has in the place of each fact (issue 10) -------------------------------

SWAP_TEXT = (
    "The surgeon removed both kidneys of the patient in March. "
    "The tower is the second-tallest building in the city. "
    "The home team won the first game of the season on Sunday. "
    "The bridge opened before the election, the council said. "
    "The company hired 300 workers and opened 12 stores in 2020."
)


@pytest.mark.parametrize(
    ("claim", "missing"),
    [
        ("The surgeon removed one kidney of the patient in March.", "one (passage: both)"),
        ("The tower is the tallest building in the city.", "tallest (passage: second)"),
        ("The home team won the last game of the season on Sunday.", "last (passage: first)"),
        ("The bridge opened after the election, the council said.", "after (passage: before)"),
        ("The company hired 12 workers in 2020.", "12 (passage: 300)"),
    ],
    ids=["one-both", "tallest-second-tallest", "first-last", "before-after", "other-clause"],
)
def test_a_fact_swapped_for_its_neighbour_is_not_supported(claim: str, missing: str) -> None:
    """Every word of these claims is in the passage; the word in the fact's place differs."""
    evidence = find_evidence(claim, PassageIndex(SWAP_TEXT))
    assert (evidence.label, evidence.missing) == ("partial", missing)


@pytest.mark.parametrize(
    ("claim", "label"),
    [
        ("The surgeon removed both kidneys of the patient in March.", "supported"),
        ("In March the surgeon removed both of the patient's kidneys.", "partial"),
        ("The company opened 12 stores and hired 300 workers in 2020.", "partial"),
        ("In 2020 the company hired 300 workers.", "supported"),
    ],
)
def test_facts_in_their_own_places_are_not_contradicted(claim: str, label: str) -> None:
    """Reordered clauses are no contradiction. Word for word, all but one word in five in the
    passage's order, a claim is ``supported``; more reordered, ``partial``: a person reads it."""
    evidence = find_evidence(claim, PassageIndex(SWAP_TEXT))
    assert (evidence.label, evidence.missing) == (label, None)


def test_a_claim_the_passage_calls_a_rumour_is_not_supported() -> None:
    text = (
        "The ministry said on Friday that reports the minister will resign next week are "
        "an unsubstantiated rumour."
    )
    claim = "The ministry said on Friday that the minister will resign next week."
    evidence = find_evidence(claim, PassageIndex(text))
    assert (evidence.label, evidence.missing) == ("partial", "negation")


def test_a_japanese_compound_swapped_for_another_is_not_supported() -> None:
    text = "何が困るかといえば、パスワード管理ソフトの起動ショートカットキーと同じなのです。"
    claim = "何が困るかといえば、画像編集ソフトの起動ショートカットキーと同じなのです。"
    assert find_evidence(claim, PassageIndex(text)).label == "partial"
    assert find_evidence(text, PassageIndex(text)).label == "supported"


def test_a_wrong_fact_with_the_pages_names_is_not_supported() -> None:
    """Issue 10: every name and most words of the passage, another statement: word matching
    cannot verify it, so a person must read it."""
    text = (
        "Thanks to new GaN charging bricks, you can find MacBook Pro wall chargers that are "
        "more compact than what Apple includes in the box."
    )
    claim = "Apple includes a GaN charging brick in the box with the MacBook Pro."
    assert find_evidence(claim, PassageIndex(text)).label == "partial"


def test_number_words_and_digits_are_the_same_words() -> None:
    """Issue 10: "five million masks" against "5 million masks" was not found (0.27)."""
    assert terms("five million masks") == terms("5 million masks")
    index = PassageIndex("The government distributed 5 million face masks to schoolchildren.")
    assert find_evidence("Authorities handed out five million masks to pupils.", index).label == (
        "partial"
    )


@pytest.mark.parametrize(
    ("text", "claim"),
    [
        (
            "The researchers observed Europa for 17 nights. On one of those nights, April 26, "
            "2016, they got a strong signal of water vapor.",
            "On the last of those nights, April 26, 2016, they got a strong signal of water vapor.",
        ),
        (
            "Emirates is the number one buyer of the A380, the world's largest airliner, with "
            "123 of the planes in its fleet.",
            "Emirates is the number one buyer of the A380, the world's second-largest airliner, "
            "with 123 of the planes in its fleet.",
        ),
        (
            "Доктор Аткинс требует воздержание от лекарств в период первых двух недель диеты.",
            "Доктор Аткинс требует воздержание от лекарств в период последних двух недель диеты.",
        ),
    ],
    ids=["one-of-against-last-of", "ordinal-the-claim-adds", "russian-ordinal"],
)
def test_an_ordinal_the_passage_does_not_say_is_not_supported(text: str, claim: str) -> None:
    evidence = find_evidence(claim, PassageIndex(text))
    assert evidence.label == "partial" and evidence.missing


@pytest.mark.parametrize(
    ("text", "claim"),
    [
        (
            "The Chronicle says police are looking into whether the victim was a good Samaritan "
            "who tried to stop the theft.",
            "The Chronicle says the victim was a good Samaritan who tried to stop the theft.",
        ),
        (
            "Officials said the fire may have started in the kitchen of the restaurant.",
            "Officials said the fire started in the kitchen of the restaurant.",
        ),
        (
            "The senator reportedly met the lobbyists at the hotel on Friday.",
            "The senator met the lobbyists at the hotel on Friday.",
        ),
    ],
    ids=["looking-into-whether", "may-have", "reportedly"],
)
def test_a_claim_the_passage_only_hedges_is_not_supported(text: str, claim: str) -> None:
    """Issue 10: a passage that leaves it open does not state what the claim states as certain."""
    evidence = find_evidence(claim, PassageIndex(text))
    assert (evidence.label, evidence.missing) == ("partial", "hedged")
    assert find_evidence(text, PassageIndex(text)).label == "supported"  # its own words


def test_the_month_may_is_no_hedge() -> None:
    text = "In May the agency tapped three companies to send robotic landers next year."
    assert find_evidence(text, PassageIndex(text)).label == "supported"
    claim = "The agency tapped three companies to send robotic landers next year."
    assert find_evidence(claim, PassageIndex(text)).missing is None


@pytest.mark.parametrize(
    ("text", "claim"),
    [
        (
            "Kindle for PCの設定画面から、このショートカットキーの設定を変更することができません。",
            "Kindle for PCの設定画面から、このショートカットキーの設定を変更することができます。",
        ),
        (
            "Condicionamos o amor às nossas necessidades e não acabamos com ele.",
            "Condicionamos o amor às nossas necessidades e acabamos com ele.",
        ),
        (
            "На сочетание белки и жиры этого ограничения нет.",
            "На сочетание белки и жиры этого ограничения есть.",
        ),
    ],
    ids=["japanese", "portuguese", "russian"],
)
def test_negations_in_other_languages(text: str, claim: str) -> None:
    assert find_evidence(claim, PassageIndex(text)).missing == "negation"


def test_negation_is_counted_in_the_sentence_that_says_it() -> None:
    """Not in the sentence BM25 ranked first when the claim is its neighbour."""
    text = (
        "The port is not open on Sundays. The port handled 12 million containers in 2020. "
        "The port has cranes."
    )
    claim = "The port handled 12 million containers in 2020."
    assert find_evidence(claim, PassageIndex(text)).label == "supported"


def test_names_swapped_between_clauses_are_a_contradiction() -> None:
    text = (
        "Like Instagram head Adam Mosseri, Twitter CEO Jack Dorsey has spoken out about the "
        "toxic consequences of like counts."
    )
    claim = (
        "Like Instagram head Jack Dorsey, Twitter CEO Adam Mosseri has spoken out about the "
        "toxic consequences of like counts."
    )
    evidence = find_evidence(claim, PassageIndex(text))
    assert evidence.label == "partial" and "Jack (passage: Adam)" in (evidence.missing or "")


def test_names_of_one_list_may_come_in_any_order() -> None:
    text = "Blue Origin, SpaceX and Sierra Nevada joined the lunar delivery program on Monday."
    claim = "SpaceX, Blue Origin and Sierra Nevada joined the lunar delivery program on Monday."
    assert find_evidence(claim, PassageIndex(text)).missing is None


def test_a_short_source_is_not_penalised_for_being_short() -> None:
    """Issue 10: a claim nearly the first sentence of a two-sentence page was not_found (0.29):
    BM25's IDF on two sentences weighs the words the page lacks 2.6 times those it has."""
    text = (
        "Harbour Works said its new container terminal in Mombasa opened on Monday. "
        "Harbour Works said the container terminal in Mombasa cost less than planned."
    )
    claim = (
        "Harbour Works said its new container terminal in Mombasa officially opened to ships "
        "on Monday, the company announced."
    )
    evidence = find_evidence(claim, PassageIndex(text))  # found; it adds words, so read it
    assert (evidence.label, evidence.missing) == ("partial", None)


def _pdf_text(sentence: str) -> str:
    """A long report as pypdf gives it: printed lines of 70 characters, words hyphenated at
    line ends, and the report's title as a running header on every page."""
    filler = (
        "Section {n} reviews the baseline data gathered by the consultants on the site. "
        "The survey teams recorded rainfall, soil samples and traffic counts during the "
        "dry season, and the results are tabulated in the annex to this chapter. "
    )
    pages = []
    for n in range(1, 41):
        body = filler.format(n=n) * 4 + (sentence if n == 21 else "")
        lines, line = [], ""
        for word in body.split():
            if len(line) + len(word) + 1 <= 70:
                line = f"{line} {word}".strip()
            elif len(word) > 7:
                lines.append(f"{line} {word[:4]}-")
                line = word[4:]
            else:
                lines.append(line)
                line = word
        lines.append(line)
        header = "Environmental and Social Impact Assessment: Lamu Coal Power Plant"
        pages.append("\n".join([header, *lines, f"Page {n}"]))
    return "\n\n".join(pages)


def test_a_long_pdf_with_hyphenated_lines_still_has_the_passage() -> None:
    """Issue 10: a PDF containing the anchor text word for word was not_found (0.094)."""
    sentence = (
        "The consultants found that the Lamu coal power plant would emit 8.8 million tonnes "
        "of carbon dioxide a year, more than the whole of Kenya emits today."
    )
    text = _pdf_text(sentence)
    assert "-\n" in text
    claim = "The plant would emit 8.8 million tonnes of carbon dioxide a year, the study found."
    evidence = find_evidence(
        claim, PassageIndex(text), anchor="Environmental and Social Impact Assessment"
    )
    assert evidence.label == "supported"
    assert "8.8 million tonnes of carbon dioxide" in (evidence.passage or "")


def test_hard_wrapped_lines_are_joined_and_paragraphs_kept() -> None:
    text = "The plant would emit 8.8 million\ntonnes of carbon di-\noxide a year.\nNext one"
    index = PassageIndex(text)
    assert [index.passage(i).sentence for i in range(len(index))] == [
        "The plant would emit 8.8 million tonnes of carbon dioxide a year.",
        "Next one",
    ]


def test_highlight_marks_shared_words_and_escapes_the_rest() -> None:
    html = highlight("<b>Ports</b> rose 12 per cent & more", {"port", "rose"}, {12.0})
    assert html == (
        "&lt;b&gt;<mark>Ports</mark>&lt;/b&gt; <mark>rose</mark> <mark>12</mark> per cent &amp; more"
    )


# -- annotate on an archive made by the real pipeline ----------------------------------------

CLAIMS = {
    "supported": "Container traffic through the port rose by 12 per cent in 2020, the [authority reported]({page}).",
    "paraphrase": "Harbour Works built the [$1.2bn terminal]({page}) in three years.",
    "number": "Container traffic through the port rose by [15 per cent]({page}) in 2020.",
    "unrelated": "Wheat prices in Kansas doubled after the [drought of 1956]({page}).",
    "dead": "The minister resigned, [the agency said]({dead}).",
    "image": "A photo showed the [new terminal]({image}).",
    "lost": "The figure was [confirmed later](#).",
}
EXPECTED = {
    "supported": "supported",
    "paraphrase": "partial",
    "number": "partial",
    "unrelated": "not_found",
    "dead": "unavailable",
    "image": "unavailable",
    "lost": "unavailable",
}


def _port_page(h: Handler) -> None:
    h.respond(200, PORT_PAGE.encode())


def _archive(server: WebServer, tmp: Path, *extra: str) -> Path:
    article = tmp / "article.md"
    if not article.exists():
        urls = {"page": server.url("/port"), "dead": server.url("/status/404")}
        urls["image"] = server.url("/png")
        body = "\n\n".join(claim.format(**urls) for claim in CLAIMS.values())
        article.write_text(f"# Ports and prices\n\n{body}\n", encoding="utf-8")
    db_path = tmp / "db" / "citations.db"
    result = CliRunner().invoke(
        cli,
        ["archive", str(article), "--db", str(db_path), "--warc-dir", str(tmp / "warc")]
        + ["--allow-private-addresses", "--delay", "0", "--timeout", "5", "--silent", *extra],
    )
    assert result.exit_code == 0, result.output
    return db_path


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One archive of the port article for the read-only tests, annotated once."""
    with WebServer("127.0.0.1", {"/port": _port_page}) as server:
        db_path = _archive(server, tmp_path_factory.mktemp("evidence"))
    annotate(open_db(db_path))
    yield db_path


def _labels(db_path: Path) -> dict[int, str]:
    return {
        row["position"]: row["label"]
        for row in open_db(db_path).query(
            "select position, label from evidence_view order by position"
        )
    }


def test_annotate_labels_every_citation(archived: Path) -> None:
    assert _labels(archived) == {i: label for i, label in enumerate(EXPECTED.values(), 1)}


def test_annotate_stores_the_passage_and_its_capture(archived: Path) -> None:
    db = open_db(archived)
    row = next(db.query("select * from evidence where citation_id = 3"))
    assert row["capture_id"] is not None and row["missing"] == "15"
    assert "rose by 12 per cent in 2020" in row["passage"]
    lost = next(db.query("select * from evidence where citation_id = 7"))
    assert lost["capture_id"] is None and lost["passage"] is None


def _copy(archived: Path, tmp_path: Path) -> Path:
    """A private copy of the shared archive (the SQLite backup API: it is in WAL mode)."""
    db_path = tmp_path / "citations.db"
    with sqlite3.connect(archived) as source, sqlite3.connect(db_path) as target:
        source.backup(target)
    return db_path


def test_annotate_again_changes_nothing(tmp_path: Path, archived: Path) -> None:
    db = open_db(_copy(archived, tmp_path))
    before = list(db.query("select * from evidence order by citation_id, capture_id"))
    stats = annotate(db)
    assert stats.citations == len(CLAIMS) and stats.sources == 3
    assert list(db.query("select * from evidence order by citation_id, capture_id")) == before


def test_missing_only_skips_citations_with_current_evidence(tmp_path: Path, archived: Path) -> None:
    db = open_db(_copy(archived, tmp_path))
    assert annotate(db, missing_only=True).citations == 0
    db.execute("delete from evidence where citation_id = 2")
    assert annotate(db, missing_only=True).citations == 1
    assert label_counts(db, article_ids=[1]).citations == len(CLAIMS)


def test_annotate_only_the_given_citations(tmp_path: Path, archived: Path) -> None:
    db = open_db(_copy(archived, tmp_path))
    db.execute("delete from evidence")
    assert annotate(db, citation_ids=[1, 4]).labels == {
        "supported": 1,
        "partial": 0,
        "not_found": 1,
        "unavailable": 0,
    }
    assert db["evidence"].count == 2


def test_annotate_command_prints_labels(archived: Path) -> None:
    result = CliRunner().invoke(cli, ["annotate", "--db", str(archived), "--json", "--silent"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["citations"], summary["sources"]) == (7, 3)
    assert summary["labels"] == {"supported": 1, "partial": 2, "not_found": 1, "unavailable": 3}


def test_annotate_command_for_one_article(archived: Path) -> None:
    args = ["annotate", "--db", str(archived), "--json", "--silent", "--article"]
    assert json.loads(CliRunner().invoke(cli, [*args, "1"]).stdout)["citations"] == 7
    missing = CliRunner().invoke(cli, [*args, "2"])  # no such article: a usage error (issue 11)
    assert missing.exit_code == 2 and f"no article 2 in {archived}" in missing.stderr


def test_annotate_command_needs_an_archive(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["annotate", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "no archive yet" in result.output


def test_evidence_goes_with_a_citation_the_article_drops(tmp_path: Path, archived: Path) -> None:
    db = open_db(_copy(archived, tmp_path))
    source_key = next(db.query("select source_key from articles"))["source_key"]
    shorter = tmp_path / "shorter.md"
    shorter.write_text("# Ports and prices\n\nThe figure was [confirmed later](#).\n", "utf-8")
    parsed = load_article(str(shorter))
    parsed.source_key = source_key  # the same article, edited
    save_article(db, parsed)
    assert db["citations"].count == 1
    assert [row["citation_id"] for row in db.query("select citation_id from evidence")] == [1]


def test_migration_keeps_existing_evidence(tmp_path: Path) -> None:
    db = Database(tmp_path / "old.db")
    migrations.apply(db, stop_before="m004_evidence_highlight")
    db["evidence"].insert({"citation_id": 1, "capture_id": 2, "label": "supported", "score": 1.0})
    migrations.apply(db)
    assert list(db["evidence"].rows) == [
        {"citation_id": 1, "capture_id": 2, "passage": None, "score": 1.0, "label": "supported"}
        | {"method": None, "missing": None, "passage_html": None, "claim_html": None}
    ]


class _ChangingPage:
    """The port page, until the second request: then the traffic figure changes."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, h: Handler) -> None:
        self.calls += 1
        body = PORT_PAGE if self.calls == 1 else PORT_PAGE.replace("12 per cent", "9 per cent")
        h.respond(200, body.encode())


def test_a_new_capture_gets_its_own_evidence(tmp_path: Path) -> None:
    with WebServer("127.0.0.1", {"/port": _ChangingPage()}) as server:
        db_path = _archive(server, tmp_path)
        annotate(open_db(db_path))
        _archive(server, tmp_path, "--refresh")
        url = server.url("/port")
    db = open_db(db_path)
    annotate(db, urls=[url])
    rows = list(db.query("select capture_id, label from evidence where citation_id = 1"))
    assert [row["label"] for row in sorted(rows, key=lambda r: r["capture_id"])] == [
        "supported",
        "partial",
    ]
    assert _labels(db_path)[1] == "partial"  # the view shows the latest capture's


# -- Datasette ------------------------------------------------------------------------------


@pytest.fixture
async def datasette(archived: Path) -> Datasette:
    ds = Datasette([str(archived)], metadata=METADATA)
    await ds.invoke_startup()
    return ds


async def test_canned_query_lists_unsupported_claims(datasette: Datasette) -> None:
    response = await datasette.client.get("/citations/unsupported_citations.json?_shape=array")
    assert response.status_code == 200
    rows = response.json()
    assert [(row["position"], row["label"], row["missing"]) for row in rows] == [
        (4, "not_found", None),
        (3, "partial", "15"),
        (2, "partial", None),  # a paraphrase: found, for a person to read
    ]


async def test_view_shows_claim_and_passage_highlighted(datasette: Datasette) -> None:
    response = await datasette.client.get("/citations/evidence_view?label=partial")
    assert response.status_code == 200
    page = response.text
    assert "by <mark>12</mark> per cent" not in page  # 12 is not the claim's number
    assert "<mark>Container</mark> <mark>traffic</mark>" in page  # rendered, not escaped
    assert "&lt;mark&gt;" not in page
    assert "rose by 15 per cent" in page.replace("<mark>", "").replace("</mark>", "")


async def test_view_shows_claims_without_evidence_escaped(datasette: Datasette) -> None:
    response = await datasette.client.get("/citations/evidence_view.json?_shape=array")
    claims = {row["position"]: (row["label"], row["claim"]) for row in response.json()}
    assert claims[4] == ("not_found", "Wheat prices in Kansas doubled after the drought of 1956.")
    assert claims[7] == ("unavailable", "The figure was confirmed later.")


async def test_label_facet_on_the_view(datasette: Datasette) -> None:
    response = await datasette.client.get("/citations/evidence_view.json?_facet=label")
    facets = response.json()["facet_results"]["label"]["results"]
    assert {item["value"]: item["count"] for item in facets} == {
        "supported": 1,
        "partial": 2,
        "not_found": 1,
        "unavailable": 3,
    }


async def test_arbitrary_sql_is_not_rendered_as_html(datasette: Datasette) -> None:
    response = await datasette.client.get(
        "/citations?sql=select+'<b>x</b>'+as+passage,+'<i>y</i>'+as+claim"
    )
    assert "<b>x</b>" not in response.text and "&lt;b&gt;x&lt;/b&gt;" in response.text
