"""Sentence spans of long paragraphs: pysbd's own boundaries, in time linear in the text."""

from __future__ import annotations

import random

import pytest

import archiver.claims as claims
from archiver.claims import sentence_spans

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
