"""Evidence: the passage of each archived source that backs its citation's claim, and a label.

A fact-checker asks "does the source really say US$30 billion?". For every citation the source's
extracted text is split into passages (a sentence with one neighbour on each side, so the reader
sees it in context), the passages are ranked against the claim with Okapi BM25 (the claim's
words, the anchor text weighted up, the claim's neighbouring sentences weighted down, as Meta's
SIDE verifier reads a claim in its context), and the best one is checked for what matters to a
fact-checker: are the claim's numbers, amounts, years and names in it, and is it negated alike?

Labels: ``supported`` (the passage says it nearly word for word, every fact in place),
``partial`` (on topic, but a number, name, negation or hedge differs or is missing, or the
wording differs, so a person must read it), ``not_found``
(nothing in the source comes close), ``unavailable`` (no text was captured). The thresholds are
measured on the developer corpus by ``bench/evidence_eval.py``; bench/README.md has the figures.

No database here: ``archiver.store`` reads the claims and texts and saves the rows, and
``run/annotate.py`` runs this over a whole archive.
"""

from __future__ import annotations

import bisect
import functools
import html
import logging
import math
import operator
import re
import string
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from archiver.evidence.facts import (
    NUMBER_WORDS,
    QUALIFIERS,
    QUANTITIES,
    REPORTING,
    Number,
    Slot,
    aligned,
    conflicts,
    hedges,
    negations,
    number_spans,
    numbers,
    stem,
)
from archiver.evidence.sentences import split_sentences, unwrapped

LOGGER = logging.getLogger(__name__)

__all__ = [
    "CitedClaim",
    "Evidence",
    "Facts",
    "Passage",
    "PassageIndex",
    "ScoredPassage",
    "evidence_for",
    "facts",
    "find_evidence",
    "judge",
    "number_spans",
    "numbers",
    "passages",
    "rank",
    "split_sentences",
]

#: Stored in ``evidence.method``; bump the version when ranking or labelling changes.
METHOD = "bm25+facts/3"
LABELS = ("supported", "partial", "not_found", "unavailable")

#: BM25 parameters: the usual values, which SQLite FTS5's bm25() uses too.
K1 = 1.2
B = 0.75
#: Sentences on each side of the best sentence that a passage shows.
WINDOW = 1
#: A sentence's rank adds this share of its neighbours' BM25 scores, so a claim spread over two
#: sentences still finds them, while the sentence that says it most stays in the middle.
NEIGHBOUR_WEIGHT = 0.3
#: Extra query weight of anchor-text words (the claim's own words weigh 1).
ANCHOR_BOOST = 0.5
#: Query weight of words that only the claim's neighbouring sentences have.
CONTEXT_WEIGHT = 0.2
#: Coverage (the IDF-weighted share of the claim's words found in the passage, 0..1) below which
#: the source is taken not to back the claim at all. Measured: see bench/README.md.
NOT_FOUND_BELOW = 0.3
#: Share of the claim's words (its slots: names, numbers and other words that carry meaning)
#: that the passage must have in the claim's order for ``supported``: a quote has them all,
#: a light rewording all but one word in five. This is what "states it nearly word for word"
#: means, not a figure fitted to the benchmark: a paraphrase that shares fewer is ``partial``,
#: which asks a person to read it, since word matching cannot tell it from a claim that keeps
#: the page's names and topic but states another fact (issue 10).
SUPPORTED_FROM = 0.8
#: Passages BM25 proposes, of which the judge reads the one that covers the claim best.
CANDIDATES = 5

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves s t d ll m re ve said says say per cent percent""".split()
)
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f"
_TOKEN = re.compile(
    rf"(?P<acronym>(?:[^\W\d_]\.){{2,}})"  # U.S., e.g.
    rf"|(?P<cjk>[{_CJK}]+)"  # Chinese, Japanese, Korean: character bigrams
    rf"|(?P<number>\d+(?:[.,]\d+)*[^\W_{_CJK}]*)"  # 2,300  27.2  4K  2020s
    rf"|(?P<word>[^\W_{_CJK}]+)"
)
#: ``_TOKEN`` for text with no CJK character: a word that starts with a letter is an acronym when
#: dots follow each letter (U.S.), and numbers are tried only where a word is not.
_LATIN_TOKEN = re.compile(
    r"([^\W\d_](?:(\.(?:[^\W\d_]\.)+)|[^\W_]*))"  # word, or acronym with its dots
    r"|(\d+(?:[.,]\d+)*[^\W_]*)"  # number
)
#: ``_LATIN_TOKEN`` for lower-cased ASCII text, where the classes need no Unicode lookups:
#: twice as fast, and most sources are ASCII.
_ASCII_TOKEN = re.compile(r"[a-z](?:\.(?:[a-z]\.)+|[a-z0-9]*)|[0-9]+(?:[.,][0-9]+)*[a-z0-9]*")
_HAS_CJK = re.compile(rf"[{_CJK}]")
#: Characters of Chinese/Japanese content words (kanji, katakana), not of particles (hiragana).
_COMPOUND = re.compile("[\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'”’)\]]*\s+|\n+")
_SPACES = re.compile(r"\s+")


# -- words, numbers and names --------------------------------------------------------------


def _token_spans(text: str) -> Iterator[tuple[str, int, int]]:
    """Every normalised token of ``text`` with its character span (stopwords included)."""
    for match in _TOKEN.finditer(text):
        kind, start = match.lastgroup, match.start()
        surface = match.group()
        if kind == "cjk":
            if len(surface) == 1:
                yield surface, start, start + 1
            for i in range(len(surface) - 1):
                yield surface[i : i + 2], start + i, start + i + 2
            continue
        yield _normal(surface, kind), start, match.end()


#: Number words as digits, so that "five million masks" and "5 million masks" share their words
#: in ranking and coverage as they do in the facts (a paraphrase was not found, issue 10).
_DIGITS = {stem(word): f"{value:g}" for word, value in NUMBER_WORDS.items()}


@functools.lru_cache(maxsize=50_000)
def _normal(surface: str, kind: str | None) -> str:
    """A token as BM25 compares it; cached, since a source repeats its words many times."""
    token = unicodedata.normalize("NFKC", surface).casefold()
    if kind == "acronym":
        token = token.replace(".", "")
    elif kind == "number":
        token = token.replace(",", "")
    token = stem(token)
    return _DIGITS.get(token, token)


def terms(text: str) -> list[str]:
    """The words BM25 ranks with: lower-cased, lightly stemmed, stopwords left out.

    The same tokens as ``_token_spans`` without the spans: ``findall`` keeps the loop in C,
    and every source is tokenised whole, so this is the hot path of ``annotate``.
    """
    if text.isascii():
        return _ascii_terms(text.lower())
    return _latin_terms(text) if _HAS_CJK.search(text) is None else _any_terms(text)


def _ascii_terms(lowered: str) -> list[str]:
    """``terms`` of lower-cased ASCII text."""
    return list(filter(None, map(_ascii_term, _ASCII_TOKEN.findall(lowered))))


@functools.lru_cache(maxsize=50_000)
def _ascii_term(token: str) -> str:
    """A lower-cased ASCII token as BM25 compares it, or "" for a stopword."""
    token = token.replace(",", "") if token[0].isdigit() else token.replace(".", "")
    token = stem(token)
    return "" if token in STOPWORDS else _DIGITS.get(token, token)


def _latin_terms(text: str) -> list[str]:
    """``terms`` of text with no CJK character: fewer alternatives to try at each word, so a
    third faster; the tests check it gives what ``_any_terms`` gives."""
    words: list[str] = []
    for word, dots, number in _LATIN_TOKEN.findall(text):
        token = _normal(word, "acronym" if dots else "word") if word else _normal(number, "number")
        if token not in STOPWORDS:
            words.append(token)
    return words


def _any_terms(text: str) -> list[str]:
    words: list[str] = []
    for acronym, cjk, number, word in _TOKEN.findall(text):
        if word:
            token = _normal(word, "word")
        elif number:
            token = _normal(number, "number")
        elif acronym:
            token = _normal(acronym, "acronym")
        else:
            if len(cjk) == 1:
                words.append(cjk)
            words.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
            continue
        if token not in STOPWORDS:
            words.append(token)
    return words


#: Lower-case ASCII with every character that is never part of a token (``_ASCII_TOKEN``:
#: letters, digits, and dots and commas inside acronyms and numbers) made a space.
_TOKEN_CHARS = string.ascii_lowercase + string.digits + ".,"
_TOKEN_BYTES = bytes(c if chr(c) in _TOKEN_CHARS else 32 for c in range(256))


def _ascii_sentence_terms(text: str, spans: Sequence[tuple[int, int]]) -> list[list[str]]:
    """``terms`` of each sentence of an ASCII text, without a regular expression per sentence.

    With every character that cannot be in a token made a space, a sentence's tokens are its
    space-separated pieces; only a piece with a dot or comma inside ("U.S.", "2,300") goes
    through ``_ASCII_TOKEN``, and each piece's terms are cached. The same terms as
    ``_ascii_terms`` on each sentence (the tests check it), in a third of the time.
    """
    pieces = text.lower().encode("ascii").translate(_TOKEN_BYTES).decode("ascii")
    return [
        list(chain.from_iterable(map(_piece_terms, pieces[start:end].split())))
        for start, end in spans
    ]


@functools.lru_cache(maxsize=20_000)  # the most frequent pieces: a few MB per worker
def _piece_terms(piece: str) -> tuple[str, ...]:
    """The terms of a run of lower-case ASCII letters, digits, dots and commas."""
    core = piece.strip(".,")  # no token starts or ends with them but an acronym ("u.s.")
    if "." in core or "," in core:
        return tuple(_ascii_terms(piece))
    term = _ascii_term(core) if core else ""
    return (term,) if term else ()


@dataclass(frozen=True)
class Facts:
    """What a claim asserts that a fact-checker checks one by one."""

    numbers: dict[float, str]  # value -> as written
    names: dict[str, str]  # normalised token -> as written
    negations: int

    @property
    def years(self) -> list[str]:
        return [text for value, text in self.numbers.items() if 1000 <= value <= 2100]


def facts(claim: str) -> Facts:
    """Numbers (amounts, percentages, years, counts), names and negations of a claim.

    Names are capitalised words that are not stopwords; the claim's first word counts only when
    it cannot be mere sentence case ("SpaceX", "NASA", or a name of two capitalised words). A
    currency code is part of its amount, not a name ("US" of "US$30 billion").
    """
    found_numbers: dict[float, str] = {}
    amounts = list(number_spans(claim))
    starts = [number.start for number in amounts]
    for number in amounts:
        found_numbers.setdefault(number.value, claim[number.start : number.end])
    words = [
        m
        for m in _TOKEN.finditer(claim)
        if m.lastgroup in ("word", "acronym") and not _inside(m.start(), amounts, starts)
    ]
    names: dict[str, str] = {}
    for i, match in enumerate(words):
        surface = match.group()
        if not surface[0].isupper():
            continue
        if i == 0 and match.start() == _first_word_start(claim):
            following = words[1].group() if len(words) > 1 else ""
            inner_capital = any(c.isupper() for c in surface[1:])
            if not (inner_capital or following[:1].isupper()):
                continue
        token = stem(unicodedata.normalize("NFKC", surface).casefold().replace(".", ""))
        if token not in STOPWORDS:
            names.setdefault(token, surface)
    tokens = [token for token, _, _ in _token_spans(claim)]
    return Facts(numbers=found_numbers, names=names, negations=negations(tokens, claim))


def _inside(at: int, amounts: Sequence[Number], starts: Sequence[int]) -> bool:
    """Whether position ``at`` falls inside one of the number spans (``starts``: theirs)."""
    k = bisect.bisect_right(starts, at) - 1
    return k >= 0 and at < amounts[k].end


def _slots(
    text: str, names: Iterable[str] | None = None, *, amounts: list[Number] | None = None
) -> list[tuple[int, Slot]]:
    """The words of ``text`` that carry its meaning, in order, each with where it starts.

    Each number, with its scale and currency, is one slot; each character of a Chinese or
    Japanese word is one (compounds are not delimited, so characters are what aligns);
    stopwords are left out unless they qualify ("both", "after"). Args: ``names``, the tokens
    that are names (a claim's, from ``facts``), by default every capitalised word; ``amounts``,
    the text's ``number_spans`` when already at hand.
    """
    amounts = list(number_spans(text)) if amounts is None else amounts
    starts = [number.start for number in amounts]
    found = [
        (n.start, Slot(_number_key(*n[:2]), "number", text[n.start : n.end], *n[:2]))
        for n in amounts
    ]
    for match in _TOKEN.finditer(text):
        start, surface = match.start(), match.group()
        if amounts and _inside(start, amounts, starts):
            continue
        if match.lastgroup == "cjk":
            found += [
                (start + i, Slot(char, "cjk" if _COMPOUND.match(char) else "word", char))
                for i, char in enumerate(surface)
            ]
            continue
        token = _normal(surface, match.lastgroup)
        if token in QUANTITIES:
            value = QUANTITIES[token]
            slot = Slot(_number_key(value, None), "number", surface, value)
        elif token in QUALIFIERS:
            slot = Slot(token, "qualifier", surface)
        elif token in STOPWORDS:
            continue
        elif token in names if names is not None else surface[0].isupper():
            slot = Slot(token, "name", surface)
        else:
            slot = Slot(token, "word", surface)
        found.append((start, slot))
    return sorted(found, key=lambda item: item[0])


@dataclass(frozen=True)
class _Reading:
    """What the judge needs of a passage, worked out once: tokens, numbers and slots."""

    tokens: list[tuple[str, int, int]]
    amounts: list[Number]
    slots: list[Slot]
    starts: list[int]  # where each slot starts
    words: frozenset[str]
    values: frozenset[float]


@functools.lru_cache(maxsize=2048)
def _read(text: str) -> _Reading:
    """A passage's reading, cached: claims of one source often land on the same passage."""
    amounts = list(number_spans(text))
    tokens = list(_token_spans(text))
    placed = _slots(text, amounts=amounts)
    return _Reading(
        tokens,
        amounts,
        [slot for _, slot in placed],
        [start for start, _ in placed],
        frozenset(token for token, _, _ in tokens),
        frozenset(number.value for number in amounts),
    )


def _number_key(value: float, currency: str | None) -> str:
    """How the alignment spells a number: a bare dollar is left open (see ``same_currency``)."""
    return f"#{value:g}" + ("" if currency in (None, "$") else f" {currency}")


def _first_word_start(text: str) -> int:
    match = re.search(r"[^\W\d_]", text)
    return match.start() if match else -1


# -- passages and ranking ---------------------------------------------------------------------


def _collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class Passage:
    """A sentence of the source (``sentence``) shown with its neighbours (``text``)."""

    index: int
    start: int  # of the window in the source text
    end: int
    sentence: str
    text: str


@dataclass(frozen=True)
class ScoredPassage:
    """A passage ranked against a claim: BM25 ``score`` and ``coverage`` of the claim (0..1)."""

    passage: Passage
    score: float
    coverage: float


def _passage(text: str, spans: Sequence[tuple[int, int]], i: int, window: int) -> Passage:
    start, end = spans[i]
    lo = spans[max(0, i - window)][0]
    hi = spans[min(len(spans) - 1, i + window)][1]
    return Passage(i, lo, hi, _collapse(text[start:end]), _collapse(text[lo:hi]))


def passages(text: str, *, window: int = WINDOW) -> list[Passage]:
    """Split a source's text into sentences, each with ``window`` neighbours on either side."""
    spans = split_sentences(text)
    return [_passage(text, spans, i, window) for i in range(len(spans))]


class PassageIndex:
    """BM25 statistics of one source's sentences, built once and ranked against many claims.

    BM25 is computed here rather than by SQLite FTS5's bm25() or a library (rank-bm25, bm25s)
    because the query's words carry weights (anchor up, context down) and the labels need the
    same IDF for coverage; FTS5 offers neither, and a few hundred sentences need no sparse
    matrices. The formula is Okapi BM25 with Lucene's non-negative IDF.

    Building it is most of ``annotate``'s time, and an archive run builds one per page it
    captures, mostly for a single claim, so it keeps only what ranking needs: each sentence's
    terms, and the sentences of the words that a claim asks for, found when it asks (not an
    inverted index of every word of the source); the passages a reader sees are made for the few
    sentences that rank.
    """

    def __init__(self, text: str) -> None:
        self.text = text = unwrapped(text)
        self.spans = split_sentences(text)
        if text.isascii():  # most sources
            self.terms = _ascii_sentence_terms(text, self.spans)
        else:
            self.terms = [terms(text[start:end]) for start, end in self.spans]
        self.lengths = [len(words) for words in self.terms]
        self.avgdl = sum(self.lengths) / len(self.lengths) if self.lengths else 0.0
        self._postings: dict[str, list[tuple[int, int]]] = {}

    def __len__(self) -> int:
        return len(self.spans)

    def passage(self, index: int, window: int = WINDOW) -> Passage:
        return _passage(self.text, self.spans, index, window)

    def postings(self, term: str) -> list[tuple[int, int]]:
        """(sentence, count) of every sentence that has ``term``, in order."""
        found = self._postings.get(term)
        if found is None:
            self._look_up([term])
            found = self._postings[term]
        return found

    def _look_up(self, wanted: Iterable[str]) -> None:
        """Find the postings of the ``wanted`` terms not looked up yet, in one pass."""
        new = set(wanted).difference(self._postings)
        if not new:
            return
        found: dict[str, list[tuple[int, int]]] = {term: [] for term in new}
        for i, words in enumerate(self.terms):
            for term in new.intersection(words):
                found[term].append((i, words.count(term)))
        self._postings.update(found)

    def idf(self, term: str) -> float:
        """BM25's IDF, never negative; a word the source lacks weighs most."""
        n, df = len(self.spans), len(self.postings(term))
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def bm25(self, query: dict[str, float]) -> dict[int, float]:
        """Okapi BM25 of every sentence that shares a word with the weighted query."""
        self._look_up(query)
        norms, saturation = self._norms, K1 + 1
        scores: dict[int, float] = defaultdict(float)
        for term, weight in query.items():
            weighted = weight * self.idf(term)
            for i, tf in self.postings(term):
                scores[i] += weighted * tf * saturation / (tf + norms[i])
        return scores

    @functools.cached_property
    def _norms(self) -> list[float]:
        """BM25's length normalisation of each sentence (K1 included)."""
        avgdl = self.avgdl or 1
        return [K1 * (1 - B + B * length / avgdl) for length in self.lengths]

    def window_terms(self, index: int, window: int = WINDOW) -> set[str]:
        lo, hi = max(0, index - window), min(len(self.terms), index + window + 1)
        return {term for words in self.terms[lo:hi] for term in words}

    def weight(self, term: str) -> float:
        """A claim word's weight in ``coverage``: the smoothed IDF, log((n + 1) / (df + 1)) + 1.

        BM25's IDF suits ranking but not a share: on a page of two sentences it weighs a word
        the page lacks 2.6 times a word it has and a word of both sentences almost nothing, so
        a claim that is nearly the first sentence scored 0.29 and was not found (issue 10).
        Smoothed, as if one more sentence had every word, no word outweighs another by much
        on a tiny page, while on a long one rare words still count most.
        """
        n, df = len(self.spans), len(self.postings(term))
        return math.log((n + 1) / (df + 1)) + 1

    def coverage(self, claim_terms: Iterable[str], index: int) -> float:
        """Weighted share of the claim's words that the passage around ``index`` has."""
        return self.coverages(claim_terms, [index])[0]

    def coverages(self, claim_terms: Iterable[str], indexes: Sequence[int]) -> list[float]:
        """``coverage`` of each of several passages, weighing the claim's words once."""
        weights = {term: self.weight(term) for term in set(claim_terms)}
        total = sum(weights.values())
        if not total:
            return [0.0] * len(indexes)
        return [
            sum(weights[t] for t in self.window_terms(i) & weights.keys()) / total for i in indexes
        ]


def _neighbours(claim: str, context: str | None) -> str:
    """The sentences just before and after the claim in its paragraph (cheap regex split)."""
    if not context:
        return ""
    paragraph = _collapse(context)
    at = paragraph.find(claim)
    if at < 0:
        return ""
    before, after = paragraph[:at].rstrip(), paragraph[at + len(claim) :]
    ends = list(_SENTENCE_END.finditer(before[:-1]))
    previous = before[ends[-1].end() :] if ends else before
    following = _SENTENCE_END.search(after.lstrip())
    following_text = after.lstrip()[: following.start() if following else None]
    return f"{previous[-300:]} {following_text[:300]}"


def query_weights(
    claim: str, *, anchor: str | None = None, context: str | None = None
) -> dict[str, float]:
    """Claim words weigh 1, anchor words ANCHOR_BOOST more, neighbour-only words CONTEXT_WEIGHT."""
    weights = dict.fromkeys(terms(claim), 1.0)
    for term in set(terms(anchor or "")):
        weights[term] = weights.get(term, 0.0) + ANCHOR_BOOST
    for term in set(terms(_neighbours(claim, context))):
        weights.setdefault(term, CONTEXT_WEIGHT)
    return weights


def rank(
    claim: str,
    index: PassageIndex,
    *,
    anchor: str | None = None,
    context: str | None = None,
    limit: int = 5,
) -> list[ScoredPassage]:
    """The ``limit`` passages of the source that best match the claim, best first.

    Args:
        claim: the sentence that carries the link.
        index: the source's sentences (``PassageIndex(text)``).
        anchor: the link text; its words weigh more.
        context: the claim's paragraph; its neighbouring sentences break ties.
    """
    return [
        ScoredPassage(index.passage(i), score, coverage)
        for i, score, coverage in _ranked(claim, index, anchor, context, limit)
    ]


def _ranked(
    claim: str, index: PassageIndex, anchor: str | None, context: str | None, limit: int
) -> list[tuple[int, float, float]]:
    """(sentence, score, coverage) of the best ``limit``: ``rank`` before any passage is made."""
    scores = index.bm25(query_weights(claim, anchor=anchor, context=context))
    combined = {
        i: score + NEIGHBOUR_WEIGHT * (scores.get(i - 1, 0.0) + scores.get(i + 1, 0.0))
        for i, score in scores.items()
    }
    ranked = sorted(zip(map(operator.neg, combined.values()), combined, strict=True))
    best = [i for _, i in ranked[:limit]]  # highest score first, then the earliest sentence
    coverages = index.coverages(terms(claim), best)
    return [(i, combined[i], coverage) for i, coverage in zip(best, coverages, strict=True)]


# -- labels -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """What one source says about one claim; shaped like an ``evidence`` row."""

    label: str
    passage: str | None = None
    score: float | None = None
    method: str = METHOD
    missing: str | None = None  # the claim's numbers and names the passage lacks
    passage_html: str | None = None  # the passage with the claim's words in <mark>
    claim_html: str | None = None  # the claim, escaped, with the words the passage has in <mark>

    def as_dict(self) -> dict[str, Any]:
        return {
            "passage": self.passage,
            "score": self.score,
            "label": self.label,
            "method": self.method,
            "missing": self.missing,
            "passage_html": self.passage_html,
            "claim_html": self.claim_html,
        }


def highlight(
    text: str,
    words: set[str],
    values: set[float],
    *,
    tokens: Iterable[tuple[str, int, int]] | None = None,
    amounts: Iterable[Number] | None = None,
) -> str:
    """``text`` as HTML, with the given words and numbers in <mark>; everything else escaped.

    ``tokens`` and ``amounts``: the text's token and number spans, when already at hand.
    """
    tokens = _token_spans(text) if tokens is None else tokens
    amounts = number_spans(text) if amounts is None else amounts
    marks = [(s, e) for token, s, e in tokens if token in words]
    marks += [(n.start, n.end) for n in amounts if n.value in values]
    merged: list[list[int]] = []
    for start, end in sorted(marks):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, at = [], 0
    for start, end in merged:
        out += [html.escape(text[at:start]), "<mark>", html.escape(text[start:end]), "</mark>"]
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out)


def judge(
    claim: str,
    best: ScoredPassage | None,
    *,
    not_found_below: float = NOT_FOUND_BELOW,
    supported_from: float = SUPPORTED_FROM,
) -> Evidence:
    """Label the best passage for a claim (see the module docstring for the labels).

    ``supported`` means the passage states the claim nearly word for word: every number of the
    claim in the passage by value and every name by word, no fact contradicted where it stands,
    at least ``SUPPORTED_FROM`` of the claim's words in the claim's order, and the sentence that
    says it negated and hedged as the claim is. Anything less is ``partial``: the passage is
    about the claim, and a person must read it. The thresholds are parameters only so that the
    benchmark can sweep them.
    """
    if best is None or best.coverage < not_found_below:
        score = round(best.coverage, 3) if best else 0.0
        return Evidence("not_found", score=score, claim_html=html.escape(claim))
    text = best.passage.text
    claim_facts = facts(claim)
    passage = _read(text)
    missing = [w for v, w in claim_facts.numbers.items() if v not in passage.values]
    missing += [w for token, w in claim_facts.names.items() if token not in passage.words]
    claim_slots = [slot for _, slot in _slots(claim, claim_facts.names)]
    for mine, theirs in conflicts(claim_slots, passage.slots):
        if mine.text not in missing:  # a fact the passage lacks is noted once
            missing.append(f"{mine.text} (passage: {theirs.text if theirs else 'none'})")
    pairs = aligned(_wording(claim_slots), _wording(passage.slots))
    sentence = _saying(best.passage, [passage.starts[j] for _, j in pairs])
    tokens = [token for token, start, _ in passage.tokens if sentence[0] <= start < sentence[1]]
    said = text[sentence[0] : sentence[1]]
    notes = missing + (["negation"] if claim_facts.negations != negations(tokens, said) else [])
    notes += ["hedged"] if hedges(said) > hedges(claim) else []
    unmatched = set(range(len(claim_slots))) - {i for i, _ in pairs}
    counted = len(claim_slots) - sum(claim_slots[i].key in REPORTING for i in unmatched)
    stated = len(pairs) / counted if counted else 1.0
    supported = not notes and stated >= supported_from
    shared = set(terms(claim)) & passage.words  # claim terms hold no stopwords: no filter needed
    shared_values = set(claim_facts.numbers) & passage.values
    return Evidence(
        "supported" if supported else "partial",
        passage=text,
        score=round(best.coverage, 3),
        missing="; ".join(notes) or None,
        passage_html=highlight(
            text, shared, shared_values, tokens=passage.tokens, amounts=passage.amounts
        ),
        claim_html=highlight(claim, shared, shared_values),
    )


def _wording(slots: Sequence[Slot]) -> list[str]:
    """Slot keys as the word-for-word check compares them: an amount by its value alone, since
    "US$30 billion" and "$30bn" are said alike (``conflicts`` has compared the currencies)."""
    return [f"#{slot.value:g}" if slot.value is not None else slot.key for slot in slots]


def _saying(passage: Passage, at: Sequence[int]) -> tuple[int, int]:
    """The span of the passage's sentence that has most of the claim's aligned words.

    Negations and hedges are counted there, not in the neighbours the window adds (nor in the
    sentence BM25 ranked first, when the claim is its neighbour).
    """
    start = passage.text.find(passage.sentence)
    if start < 0:
        return 0, len(passage.text)
    end = start + len(passage.sentence)
    spans = [(0, start), (start, end), (end, len(passage.text))]
    return max(spans, key=lambda span: (sum(span[0] <= a < span[1] for a in at), span == spans[1]))


def find_evidence(
    claim: str, index: PassageIndex, *, anchor: str | None = None, context: str | None = None
) -> Evidence:
    """Rank the source's passages for the claim and label the one that covers it best.

    BM25 favours short sentences, and a PDF's running header (the report's title, on every
    page) is short and has the anchor's words: it ranked first, and its window covered 9 % of
    the claim, while the sentence that says it came next (issue 10). So the judge reads the
    best covering of the first few.
    """
    ranked = _ranked(claim, index, anchor, context, CANDIDATES)
    best = max(ranked, key=lambda item: item[2], default=None)  # the first of equals
    if best is None:
        return judge(claim, None)
    i, score, coverage = best
    return judge(claim, ScoredPassage(index.passage(i), score, coverage))  # only this one made


@dataclass(frozen=True)
class CitedClaim:
    """A citation's claim as a worker needs it to find evidence without the database."""

    citation_id: int
    claim: str | None
    anchor: str | None = None
    context: str | None = None


def evidence_for(text: str | None, claims: Iterable[CitedClaim]) -> list[tuple[int, Evidence]]:
    """Evidence for each claim citing one source, from the source's extracted text.

    Runs where the text was extracted (an extraction worker), so the coordinator only stores
    the rows; the source is split once for all its claims.
    """
    claims = list(claims)
    index = PassageIndex(text) if claims and text and text.strip() else None
    found = []
    for cited in claims:
        if index is None or not cited.claim:
            evidence = Evidence("unavailable", claim_html=html.escape(cited.claim or ""))
        else:
            evidence = find_evidence(cited.claim, index, anchor=cited.anchor, context=cited.context)
        found.append((cited.citation_id, evidence))
    return found
