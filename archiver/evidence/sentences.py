"""Sentences of an extracted source text: where each one starts and ends.

Split out of ``evidence`` (which ranks and labels passages) because it is its own job: a
punctuation split that knows abbreviations and initials, and the joining of hard-wrapped PDF
lines, both on the hot path of ``annotate``.
"""

from __future__ import annotations

import re
from collections import defaultdict

__all__ = ["ABBREVIATIONS", "split_sentences", "unwrapped"]

#: Words whose full stop does not end a sentence (single letters neither: "J. Smith").
ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof gov sen rep gen col lt sgt capt cmdr adm st jr sr co corp inc ltd vs
    jan feb mar apr jun jul aug sep sept oct nov dec figs vol eds pp ca approx dept est mt ft al
    e.g i.e u.s u.k u.n a.m p.m calif fla ariz colo conn mich minn tenn""".split()
)


def _not_after_abbreviation() -> str:
    """Lookbehinds that refuse a full stop ending an initial or an abbreviation.

    One lookbehind per word length (Python's must have a fixed width), placed after the
    full stop so the pattern still starts with a literal that the scan can jump to.
    """
    by_length: dict[int, list[str]] = defaultdict(list)
    for word in sorted(ABBREVIATIONS):
        by_length[len(word)].append(re.escape(word))
    behinds = [r"(?<![^\w.][^\W\d_]\.)"]
    behinds += [rf"(?<![^\w.](?i:{'|'.join(words)})\.)" for _, words in sorted(by_length.items())]
    return "".join(behinds)


#: A sentence ends at . ! ? … before a space and a capital, digit or opening quote (a full stop
#: only when it does not end an abbreviation); at 。！？; and at a line break (extracted text
#: has one paragraph per line). Closing quotes and brackets stay with the sentence. The leading
#: lookahead names every alternative's first character, so the scan jumps from one to the next
#: (three times faster).
_BOUNDARY = re.compile(
    r"(?=[.!?…。！？\n])(?:"
    rf"(?:\.{_not_after_abbreviation()}\.*|[!?…]+)"
    r"[\"'”’»)\]]*(?=\s+[\"'“‘«(\[]?[^\W_a-z])|[。！？]+[」』）)\"”’]*|\n+)"
)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text``: a punctuation split that knows abbreviations.

    pysbd (which splits claims) takes about 15 ms for a 4,000-character page, 95 % of
    ``annotate``'s time then; this takes 0.25 ms and agrees on 95 % of the corpus's sentence ends
    (it also splits inside quoted speech, which pysbd keeps whole, and that the window mends).
    """
    padded = " " + text  # the abbreviation lookbehinds need a character before the first word
    spans, start = [], 1
    for match in _BOUNDARY.finditer(padded):
        spans.append(_trimmed(padded, start, match.end()))
        start = match.end()
    spans.append(_trimmed(padded, start, len(padded)))
    return [(s - 1, e - 1) for s, e in spans if e > s]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    leading = len(piece) - len(piece.lstrip())
    return start + leading, start + len(piece.rstrip())


def unwrapped(text: str) -> str:
    """``text`` with the line breaks of hard-wrapped lines (PDF) taken out, so a sentence that
    runs over three printed lines is one sentence and a hyphenated word one word (issue 10).

    A line break stays unless the next line goes on in lower case after a line that does not
    end a sentence; a hyphen before such a break, after a letter, splits a word and goes too.
    """
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    out = [lines[0]]
    for line in lines[1:]:
        previous = out[-1].rstrip()
        going_on = line.lstrip()[:1].islower() and previous[-1:] not in ("", ".", "!", "?", ":")
        if going_on and previous.endswith("-") and previous[-2:-1].isalpha():
            out[-1] = previous[:-1] + line.lstrip()
        elif going_on:
            out[-1] = previous + " " + line.lstrip()
        else:
            out.append(line)
    return "\n".join(out)
