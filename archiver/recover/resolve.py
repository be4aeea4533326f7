"""Fill the lost hrefs of an article from another copy of it, or from a hand-made map (issue 13).

A pasted copy keeps every anchor and claim but often loses the targets (``[trade](#)``). Another
copy of the same article (the original page, an archived snapshot) has them, with small
differences: a paragraph added or dropped, a link removed, a sentence reworded. ``align`` pairs
the two copies' links as a sequence alignment, scoring each pair by how much its anchor texts and
its claims share; ``from_map`` reads the pairs a person found by hand from a CSV.

Only the URL is filled: ``href`` stays as the author wrote it. Results are ``Match`` objects
shaped like rows of a future ``resolutions`` table (position, url, source, confidence, method).
"""

from __future__ import annotations

import bisect
import csv
import logging
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from archiver.ingest.article import Article
from archiver.ingest.claims import Citation
from archiver.ingest.urls import normalise_url

LOGGER = logging.getLogger(__name__)

#: How much each piece of evidence weighs in a pair's confidence; they sum to 1.
WEIGHT_ANCHOR = 0.45
WEIGHT_CLAIM = 0.45
WEIGHT_POSITION = 0.10
#: The weighted word overlap two unrelated sentences of one article reach: the words they share
#: are the common ones ("the", "of", the article's subject), which IDF weighs least. Measured over
#: all pairs of different claims in the example article and 23 developer-corpus pages: median
#: 0.03, 90th percentile 0.07 (per page: below 0.1 on 19 of 24, 0.15 at most).
CHANCE_OVERLAP = 0.1
#: The least confidence of a match. One text signal alone, even perfect and at the same place
#: (the same anchor "Turkmenistan" in another sentence, or the neighbouring link of the same
#: sentence), reaches ``max(WEIGHT_ANCHOR, WEIGHT_CLAIM) + WEIGHT_POSITION`` = 0.55, and chance
#: overlap of the other signal adds up to ``CHANCE_OVERLAP`` of its weight: a match needs more,
#: so both the anchor and the claim must agree beyond chance. Derived from the weights, not
#: fitted to an article. It follows that an accepted pair shares at least one anchor word
#: (``WEIGHT_CLAIM + WEIGHT_POSITION`` < this), which ``_candidates`` relies on.
MIN_CONFIDENCE = (
    max(WEIGHT_ANCHOR, WEIGHT_CLAIM)
    + WEIGHT_POSITION
    + CHANCE_OVERLAP * min(WEIGHT_ANCHOR, WEIGHT_CLAIM)
)
#: The least claim similarity a match can have: that of a perfect anchor at the same place.
MIN_CLAIM = (MIN_CONFIDENCE - WEIGHT_ANCHOR - WEIGHT_POSITION) / WEIGHT_CLAIM
#: A signal "agrees" (and names the method) when at least half its weighted words are shared.
#: Every accepted pair has one: two signals below it reach at most 0.55 < ``MIN_CONFIDENCE``.
AGREES = 0.5

MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
APOSTROPHES = re.compile(r"['’‘`ʼ]")
WORD = re.compile(r"\w+")
MAP_COLUMNS = ("position", "anchor_text")


@dataclass(frozen=True)
class Match:
    """Where one of our citations points according to another copy or a map.

    ``url`` is None when nothing in the other copy matched (``method`` "unmatched"), or when the
    matching link there has no http(s) target either (``method`` "no_url").
    """

    position: int  # our citation's position, 1-based
    url: str | None  # absolute, normalised
    confidence: float  # 0..1
    method: str  # "anchor+claim" | "anchor" | "claim" | "no_url" | "unmatched" (align),
    # "position" | "anchor_text" (from_map)
    source: str  # "from:<copy>" or "map:<file>"
    their_position: int | None = None  # the matched link's position in the other copy

    @property
    def resolved(self) -> bool:
        return self.url is not None

    def as_dict(self) -> dict[str, Any]:
        """A ``resolutions`` row."""
        return {
            "position": self.position,
            "url": self.url,
            "source": self.source,
            "confidence": self.confidence,
            "method": self.method,
        }


class MapError(ValueError):
    """A map CSV with rows that cannot be applied; ``problems`` holds (line, message) pairs.

    All or nothing: a person fixes the file and reruns, rather than half a map being applied.
    """

    def __init__(self, source: str, problems: list[tuple[int, str]]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  line {line}: {message}" for line, message in problems)
        super().__init__(f"{source}: {len(problems)} row(s) cannot be used:\n{lines}")


def words(text: str) -> list[str]:
    """Words of a text, compared without case, accents of form, Markdown escapes, punctuation."""
    text = unicodedata.normalize("NFKC", MARKDOWN_ESCAPE.sub(r"\1", text)).casefold()
    return WORD.findall(APOSTROPHES.sub("", text))


def anchor_key(text: str) -> str:
    """An anchor text normalised for equality: "Initiative \\(BRI\\)" equals "initiative (BRI)"."""
    return " ".join(words(text))


@dataclass(frozen=True)
class _Link:
    """The parts of a citation the scoring compares."""

    anchor: frozenset[str]
    claim: frozenset[str]
    place: float  # relative position in its copy, 0..1


def _links(citations: list[Citation]) -> list[_Link]:
    last = max(len(citations) - 1, 1)
    return [
        _Link(frozenset(words(c.anchor_text)), frozenset(words(c.claim)), index / last)
        for index, c in enumerate(citations)
    ]


class _Weights:
    """Inverse document frequency of each word over the distinct claims of both copies, so that
    words every sentence has count little and a rare name counts much. An anchor word outside
    every claim (a claim cut short) counts as the rarest."""

    def __init__(self, ours: list[_Link], theirs: list[_Link]):
        claims = {link.claim for link in ours + theirs}
        counts = Counter(word for claim in claims for word in claim)
        for word in {word for link in ours + theirs for word in link.anchor if word not in counts}:
            counts[word] = 1
        self.idf = {word: math.log(1 + len(claims) / count) for word, count in counts.items()}
        self.totals: dict[frozenset[str], float] = {}

    def total(self, bag: frozenset[str]) -> float:
        if bag not in self.totals:
            self.totals[bag] = sum(self.idf[word] for word in bag)
        return self.totals[bag]

    def probes(self, claim: frozenset[str]) -> list[str]:
        """The rarer words of a claim, all but the commonest that weigh less than ``MIN_CLAIM`` of
        it: a claim sharing none of them shares less, so cannot match (the prefix filter of
        similarity joins)."""
        if not claim:
            return [""]
        ordered = sorted(claim, key=lambda word: (self.idf[word], word))
        budget, start, dropped = MIN_CLAIM * self.total(claim), 0, self.idf[ordered[0]]
        while dropped < budget:  # ends: all of the words weigh more than the budget
            start += 1
            dropped += self.idf[ordered[start]]
        return ordered[start:]

    def overlap(self, a: frozenset[str], b: frozenset[str]) -> float:
        """Weighted Jaccard similarity of two word sets: shared weight over the union's weight."""
        if not a or not b:
            return float(a == b)
        shared = sum(self.idf[word] for word in a & b)
        return shared / (self.total(a) + self.total(b) - shared)


def _score(ours: _Link, theirs: _Link, weights: _Weights) -> tuple[float, str]:
    """Confidence that two links are the same citation, and the signals that agree."""
    anchor = weights.overlap(ours.anchor, theirs.anchor)
    place = 1 - abs(ours.place - theirs.place)
    confidence = WEIGHT_ANCHOR * anchor + WEIGHT_POSITION * place
    if confidence + WEIGHT_CLAIM <= MIN_CONFIDENCE:  # no claim could lift it
        return confidence, ""
    claim = weights.overlap(ours.claim, theirs.claim)
    confidence += WEIGHT_CLAIM * claim
    method = "+".join(name for name, s in (("anchor", anchor), ("claim", claim)) if s >= AGREES)
    return confidence, method


def _sure_pairs(ours: list[_Link], theirs: list[_Link]) -> list[tuple[int, int]]:
    """Links identical in anchor and claim and unique in each copy, where both copies have them
    in the same order (the longest increasing run), as patience diff anchors on unique lines."""
    our_keys = Counter((link.anchor, link.claim) for link in ours)
    their_keys = Counter((link.anchor, link.claim) for link in theirs)
    their_at = {(link.anchor, link.claim): j for j, link in enumerate(theirs)}
    pairs = [
        (i, their_at[key])
        for i, link in enumerate(ours)
        if our_keys[key := (link.anchor, link.claim)] == 1 and their_keys[key] == 1
    ]
    tails: list[int] = []  # by run length - 1: the pair ending the run with the lowest j
    tail_js: list[int] = []
    before = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        length = bisect.bisect_left(tail_js, j)
        before[k] = tails[length - 1] if length else -1
        if length == len(tails):
            tails.append(k)
            tail_js.append(j)
        else:
            tails[length], tail_js[length] = k, j
    run: list[tuple[int, int]] = []
    k = tails[-1] if tails else -1
    while k >= 0:
        run.append(pairs[k])
        k = before[k]
    return run[::-1]


def _windows(sure: list[tuple[int, int]], ours: int, theirs: int) -> list[tuple[int, int]]:
    """For each of our links, the range of their links it may pair with: a sure pair's own
    partner, or the links between the sure pairs around it."""
    windows: list[tuple[int, int]] = []
    low, bounds = 0, iter([*sure, (ours, theirs)])
    next_i, next_j = next(bounds)
    for i in range(ours):
        if i == next_i:
            windows.append((next_j, next_j + 1))
            low = next_j + 1
            next_i, next_j = next(bounds)
        else:
            windows.append((low, next_j))
    return windows


def _within(index: Mapping[str, list[int]], keys: Iterable[str], low: int, high: int) -> set[int]:
    """Their positions in ``low:high`` listed under any of ``keys`` (lists are ascending)."""
    found: set[int] = set()
    for key in keys:
        postings = index.get(key, [])
        found.update(
            postings[bisect.bisect_left(postings, low) : bisect.bisect_left(postings, high)]
        )
    return found


def _candidates(
    ours: list[_Link], theirs: list[_Link], weights: _Weights
) -> list[tuple[int, int, float, str]]:
    """Every pair (i, j, confidence, method) above ``MIN_CONFIDENCE``, sorted by i.

    Three exact prunings keep a big article (thousands of links, many anchored "here") far from
    n·m comparisons. A pair must share an anchor word (or both have none): otherwise its anchor
    similarity is 0 and it cannot reach the threshold. It must share one of our claim's rarer
    words (``_Weights.probes``). And links identical in both copies (``_sure_pairs``) split the
    search into the stretches between them.
    """
    by_anchor: dict[str, list[int]] = defaultdict(list)
    by_claim: dict[str, list[int]] = defaultdict(list)
    for j, link in enumerate(theirs):
        for word in link.anchor or {""}:
            by_anchor[word].append(j)
        for word in link.claim or {""}:
            by_claim[word].append(j)
    windows = _windows(_sure_pairs(ours, theirs), len(ours), len(theirs))
    pairs = []
    for i, (link, (low, high)) in enumerate(zip(ours, windows, strict=True)):
        found = _within(by_claim, weights.probes(link.claim), low, high)
        found &= _within(by_anchor, link.anchor or {""}, low, high)
        for j in sorted(found):
            confidence, method = _score(link, theirs[j], weights)
            if confidence > MIN_CONFIDENCE:
                pairs.append((i, j, confidence, method))
    return pairs


class _PrefixBest:
    """Fenwick tree over their positions: the best chain ending before position j."""

    def __init__(self, size: int):
        self.tree: list[tuple[float, int]] = [(0.0, -1)] * (size + 1)

    def update(self, j: int, value: tuple[float, int]) -> None:
        j += 1
        while j < len(self.tree):
            self.tree[j] = max(self.tree[j], value)
            j += j & -j

    def best_before(self, j: int) -> tuple[float, int]:
        best = (0.0, -1)
        while j > 0:
            best = max(best, self.tree[j])
            j -= j & -j
        return best


def _best_chain(pairs: list[tuple[int, int, float, str]], their_count: int) -> list[int]:
    """Indexes into ``pairs`` of the best alignment: pairs in order on both sides, maximising
    the sum of (confidence - ``MIN_CONFIDENCE``).

    This is Needleman-Wunsch with a gap score of 0 and a match score of confidence minus the
    threshold: a pair below the threshold never helps, so the dynamic programme only visits
    the candidate pairs (sparse, in O(k log m)) instead of all n·m cells. A gap costs nothing,
    so a paragraph one copy lacks shifts nothing after it.
    """
    tree = _PrefixBest(their_count)
    totals: list[float] = [0.0] * len(pairs)
    previous: list[int] = [-1] * len(pairs)
    starts = [pair[0] for pair in pairs]
    for i in sorted(set(starts)):
        group = range(bisect.bisect_left(starts, i), bisect.bisect_right(starts, i))
        for k in group:  # read the tree before any pair of the same i is added to it
            _, j, confidence, _ = pairs[k]
            total, previous[k] = tree.best_before(j)
            totals[k] = total + confidence - MIN_CONFIDENCE
        for k in group:
            tree.update(pairs[k][1], (totals[k], k))
    chain: list[int] = []
    k = max(range(len(pairs)), key=lambda index: totals[index], default=-1)
    while k >= 0:
        chain.append(k)
        k = previous[k]
    return chain[::-1]


def align(ours: list[Citation], theirs: list[Citation], *, source: str = "from") -> list[Match]:
    """Pair our links with the links of another copy of the article.

    Each pair is scored by anchor-text similarity, claim similarity (IDF-weighted word overlap,
    so that the claim tells apart two links with the same anchor) and relative position; the
    best order-keeping set of pairs above ``MIN_CONFIDENCE`` wins. Links of theirs that match
    none of ours (an added paragraph) are ignored.

    Args:
        ours: the citations whose URLs are wanted, in order.
        theirs: the other copy's citations, in order.
        source: what the ``source`` column says, e.g. "from:<the copy's URL or path>".

    Returns:
        One ``Match`` per citation of ours, in order; unmatched ones have ``url`` None.
    """
    our_links, their_links = _links(ours), _links(theirs)
    pairs = _candidates(our_links, their_links, _Weights(our_links, their_links))
    matched = {pairs[k][0]: pairs[k] for k in _best_chain(pairs, len(theirs))}
    matches = []
    for i, citation in enumerate(ours):
        if i not in matched:
            matches.append(Match(citation.position, None, 0.0, "unmatched", source))
            continue
        _, j, confidence, method = matched[i]
        their = theirs[j]
        matches.append(
            Match(
                citation.position,
                their.url,
                round(confidence, 3),
                method if their.url else "no_url",
                source,
                their.position,
            )
        )
    LOGGER.info(
        "%s: %d of %d links matched",
        source,
        sum(match.resolved for match in matches),
        len(matches),
    )
    return matches


def from_copy(ours: list[Citation], copy: Article) -> list[Match]:
    """``align`` against an article loaded with ``load_article`` (a file or a URL)."""
    name = copy.url or copy.path or copy.source_key
    return align(ours, copy.citations, source=f"from:{name}")


def _map_row(
    row: Mapping[str, str | None], ours: list[Citation], by_anchor: Mapping[str, list[int]]
) -> tuple[int, str, str]:
    """(position, url, method) of one map row; ValueError with the reason when it is bad."""
    raw_position = (row.get("position") or "").strip()
    anchor = (row.get("anchor_text") or "").strip()
    raw_url = (row.get("url") or "").strip()
    url = normalise_url(raw_url)
    if url is None:
        raise ValueError(f"{raw_url!r} is not an http(s) URL")
    if raw_position:
        if not raw_position.isdigit() or not 1 <= int(raw_position) <= len(ours):
            raise ValueError(f"position {raw_position!r} is not between 1 and {len(ours)}")
        position = int(raw_position)
        written = ours[position - 1].anchor_text
        if anchor and anchor_key(anchor) != anchor_key(written):
            raise ValueError(f"position {position} has the anchor text {written!r}, not {anchor!r}")
        return position, url, "position"
    if not anchor:
        raise ValueError("neither a position nor an anchor_text")
    positions = by_anchor.get(anchor_key(anchor), [])
    if not positions:
        raise ValueError(f"no citation has the anchor text {anchor!r}")
    if len(positions) > 1:
        listed = ", ".join(map(str, positions))
        raise ValueError(
            f"the anchor text {anchor!r} is ambiguous (positions {listed}): give a position"
        )
    return positions[0], url, "anchor_text"


def from_map(ours: list[Citation], rows: Iterable[str], *, source: str = "map") -> list[Match]:
    """URLs a person found by hand, from CSV lines with a ``url`` column and a ``position`` or
    ``anchor_text`` column (or both, which must then agree). Other columns are ignored.

    Args:
        ours: the citations the positions and anchor texts refer to.
        rows: the CSV's lines, e.g. an open file (``newline=""``).
        source: what the ``source`` column says, e.g. "map:<the CSV's path>".

    Returns:
        One ``Match`` (confidence 1) per citation the map names, in the map's order.

    Raises:
        MapError: listing every bad row by line number (not a URL, unknown position, an anchor
            text that no citation or several have, one position given two URLs).
    """
    reader = csv.DictReader(rows)
    fields = [(name or "").strip().lstrip("\ufeff") for name in reader.fieldnames or []]
    reader.fieldnames = fields
    if "url" not in fields or not any(column in fields for column in MAP_COLUMNS):
        raise MapError(source, [(1, "the header needs a url column and position or anchor_text")])
    by_anchor: dict[str, list[int]] = defaultdict(list)
    for citation in ours:
        by_anchor[anchor_key(citation.anchor_text)].append(citation.position)
    found: dict[int, Match] = {}
    problems: list[tuple[int, str]] = []
    for row in reader:
        try:
            position, url, method = _map_row(row, ours, by_anchor)
        except ValueError as error:
            problems.append((reader.line_num, str(error)))
            continue
        if position in found and found[position].url != url:
            problems.append((reader.line_num, f"position {position} was given another URL"))
            continue
        found.setdefault(position, Match(position, url, 1.0, method, source))
    if problems:
        raise MapError(source, problems)
    return list(found.values())
