"""Sentence spans of long paragraphs: pysbd's own boundaries, in time linear in the text."""

from __future__ import annotations

import random
from pathlib import Path

import pysbd
import pytest

import archiver.ingest.claims as claims
from archiver.ingest.article import load_article
from archiver.ingest.claims import LinkSpan, context_for, sentence_spans
from archiver.store import open_db, save_article

WORDS = (
    "the ministry said that exports rose by a third in 2019 while U.S. imports fell as Dr. Smith "
    "noted in a report of 4.5 per cent growth"
).split()


def long_paragraph(chars: int, seed: int = 7) -> str:
    """Generated prose with abbreviations and decimals, the cases pysbd exists for."""
    rng = random.Random(seed)
    sentences: list[str] = []
    while sum(len(s) + 1 for s in sentences) < chars:
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 30))]
        sentences.append(" ".join(words).capitalize() + rng.choice([".", ".", "!", "?"]))
    return " ".join(sentences)


@pytest.mark.parametrize("window", [200, 500, 1000])
def test_windows_find_the_sentences_pysbd_finds_in_the_whole_text(
    window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = long_paragraph(6_000)
    whole = claims._pysbd_spans(text)
    monkeypatch.setattr(claims, "SEGMENT_WINDOW", window)
    assert sentence_spans(text) == whole


def test_pysbd_never_reads_more_than_one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """pysbd's time is quadratic in its input: a 1 MB paragraph took minutes (issue 11)."""
    seen: list[int] = []
    real = claims._pysbd_spans

    def measured(text: str) -> list[tuple[int, int]]:
        seen.append(len(text))
        return real(text)

    monkeypatch.setattr(claims, "_pysbd_spans", measured)
    text = long_paragraph(40_000)
    spans = sentence_spans(text)
    assert max(seen) <= claims.SEGMENT_WINDOW
    assert sum(seen) < 2 * len(text)  # each character read about once
    assert spans[-1][1] == len(text.rstrip())


def test_a_sentence_longer_than_a_window_is_cut_not_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claims, "SEGMENT_WINDOW", 100)
    text = "word " * 100 + "end. Next sentence here."
    spans = sentence_spans(text)
    assert spans[0][0] == 0 and text[spans[-1][0] : spans[-1][1]] == "Next sentence here."
    covered = {i for s, e in spans for i in range(s, e)}
    assert all(i in covered for i, char in enumerate(text) if not char.isspace())


def test_context_of_a_short_paragraph_is_the_paragraph() -> None:
    text = "Exports rose by a third. The ministry said so in May. Imports fell."
    link = LinkSpan(text.index("ministry"), text.index("ministry") + 8, "https://gov.example/")
    context, offset = context_for(text, sentence_spans(text), link)
    assert (context, offset) == (text, 0)


def test_context_of_a_long_paragraph_is_the_claim_and_its_neighbours() -> None:
    """Each citation of a 300 KB paragraph held all of it: 4,000 links made 795 MB (issue 11)."""
    text = long_paragraph(50_000)
    spans = sentence_spans(text)
    middle = spans[len(spans) // 2]
    link = LinkSpan(middle[0], middle[0] + 10, "https://gov.example/")
    context, offset = context_for(text, spans, link)
    assert len(context) <= claims.MAX_CONTEXT
    assert text[middle[0] : middle[1]] in context
    assert text[offset : offset + len(context)] == context
    assert context.count(".") + context.count("!") + context.count("?") >= 2  # neighbours too


def test_an_article_with_many_links_in_one_paragraph_stays_small(tmp_path: Path) -> None:
    words = long_paragraph(100_000).split(" ")
    linked = " ".join(
        f"[{word}](https://site.example/{i})" if i % 15 == 0 else word
        for i, word in enumerate(words)
    )
    article = tmp_path / "dense.md"
    article.write_text(f"# Dense\n\n{linked}\n", encoding="utf-8")
    db_path = tmp_path / "citations.db"
    saved = save_article(open_db(db_path), load_article(str(article)))
    assert saved.citations > 1_000
    stored = sum(path.stat().st_size for path in tmp_path.glob("citations.db*"))
    assert stored < 30 * article.stat().st_size  # was about 1,000 times


ABBREVIATION_WORDS = (
    "Dr. Mr. No. 5 the U.S. govt. Inc. vs. e.g. i.e. a.m. p.m. St. Jan. Fig. 3 art. no not now "
    "now. Prof. Gen. Capt. approx. etc. It said it. Then he left! Why? He asked. NO. no. Dr Jr. "
    "sr. (a) b. c. (Dr. ex-gov. Mt.Everest"
).split()


@pytest.mark.parametrize("seed", range(40))
def test_abbreviations_are_handled_as_pysbd_handles_them(seed: int) -> None:
    """The linear abbreviation pass makes the same replacements as pysbd's quadratic one."""
    rng = random.Random(seed)
    text = " ".join(rng.choice(ABBREVIATION_WORDS) for _ in range(rng.randint(20, 200)))
    stock = pysbd.Segmenter(language="en", clean=False, char_span=True)
    expected = [(s.start, s.end) for s in stock.segment(text)]
    ours = [(s.start, s.end) for s in claims._segmenter().segment(text)]
    assert ours == expected
