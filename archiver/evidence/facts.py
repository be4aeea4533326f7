"""The facts a fact-checker compares one by one, and where a passage states them.

A claim can have every word of a passage and still contradict it: "rose 4.8 percent, missing
the 3.6 percent gain" against "rose 3.6 percent, missing the 4.8 percent gain", "the first
weekend" against "the last weekend", "the world's second-largest airliner" against "the world's
largest". Looking for each number, name and qualifier anywhere in the passage misses these
(issue 10), so each of the claim's facts is placed in the passage by its neighbouring words (a
word-level alignment over the words that carry meaning; ``difflib.SequenceMatcher`` was tried
and lost the place whenever a paraphrase put clauses in another order), and what the passage
has in that *slot* is compared with it: a different number, name, qualifier or Chinese/Japanese
compound standing where the claim's stands is a contradiction, even when the claim's own
number is elsewhere in the passage.

``evidence`` turns texts into slots (it has the tokenizer); this module knows what the words
mean: numbers and amounts, qualifiers whose values exclude each other, and the comparison.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple


def stem(token: str) -> str:
    """Light suffix stripping, so "arrested"/"arresting" and "plane"/"planes" meet."""
    if token.isascii() and token.isalpha() and len(token) > 4:
        if token.endswith("ies") and len(token) > 5:
            token = token[:-3] + "y"
        elif token.endswith("s") and not token.endswith(("ss", "us", "is")):
            token = token[:-1]
        if token.endswith("ing") and len(token) > 6:
            token = token[:-3]
        elif token.endswith("ed") and len(token) > 5:
            token = token[:-2]
        if token.endswith("e") and len(token) > 4:
            token = token[:-1]
    elif len(token) > 5 and "\u0400" <= token[0] <= "\u04ff":
        token = token[:5]  # Russian endings change with case: compare stems of five letters
    return token


# -- numbers and amounts ----------------------------------------------------------------------

_UNITS = "zero one two three four five six seven eight nine".split()
NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        _UNITS
        + """ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen
        nineteen twenty""".split()
    )
    if value >= 2  # "one" is mostly not a number ("one of the", "no one")
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80}
NUMBER_WORDS |= {"ninety": 90, "hundred": 100, "dozen": 12}
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
SCALES |= {"k": 1e3, "m": 1e6, "mn": 1e6, "b": 1e9, "bn": 1e9, "tn": 1e12}
#: Currency marks and codes, each to one name: "US$30 billion" and "$30bn" are one amount.
#: A bare "$" is a dollar of any country, so it agrees with US$, A$ or HK$ alike.
CURRENCIES = {"us$": "usd", "usd": "usd", "$": "$", "a$": "aud", "aud": "aud", "c$": "cad"}
CURRENCIES |= {"cad": "cad", "hk$": "hkd", "hkd": "hkd", "€": "eur", "eur": "eur", "£": "gbp"}
CURRENCIES |= {"gbp": "gbp", "¥": "jpy", "jpy": "jpy", "₩": "krw", "krw": "krw", "₹": "inr"}
CURRENCIES |= {"inr": "inr", "rmb": "cny", "cny": "cny", "chf": "chf", "r$": "brl", "brl": "brl"}
_CURRENCY = "|".join(re.escape(m) for m in sorted(CURRENCIES, key=len, reverse=True) if "$" in m)
_CURRENCY_CODE = "|".join(code for code in CURRENCIES if code.isalpha())
_NUMBER = re.compile(
    r"(?<![\w.,])(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<dec>\d+))?"
    r"(?:\s?(?P<attached>bn|mn|tn)(?![^\W\d_])|(?P<short>[kmb])(?![^\W\d_])"
    r"|\s+(?P<scale>thousand|million|billion|trillion)\b)?"
    rf"|\b(?:(?P<tens>{_TENS})[\s-](?P<units>{'|'.join(_UNITS[1:])})"
    rf"|(?P<words>{'|'.join(NUMBER_WORDS)}))\b"
    r"(?:[\s-]+(?P<wscale>thousand|million|billion)\b)?",
    re.IGNORECASE,
)
#: A currency just before a number ("US$", "$ ", "USD ") or just after it ("60,000₩"); looked
#: for only around the numbers found, since a scan for optional marks is five times slower.
_MARK_BEFORE = re.compile(
    rf"(?:(?<![^\W\d_])(?:{_CURRENCY})|[€£¥₩₹]|\b(?:{_CURRENCY_CODE}))\s?\Z", re.IGNORECASE
)
_MARK_AFTER = re.compile(r"\s?([€£₩])")


class Number(NamedTuple):
    """A number as a fact: its value (scale applied), its currency if any, and its span."""

    value: float
    currency: str | None
    start: int
    end: int


def number_spans(text: str) -> Iterator[Number]:
    """Every number of ``text``: digits, number words, amounts with a scale and a currency."""
    for match in _NUMBER.finditer(text):
        if match.group("tens"):
            tens, units = match.group("tens", "units")
            value = float(NUMBER_WORDS[tens.lower()] + _UNITS.index(units.lower()))
            scale = match.group("wscale")
        elif match.group("words"):
            value = float(NUMBER_WORDS[match.group("words").lower()])
            scale = match.group("wscale")
        else:
            digits = unicodedata.normalize("NFKC", match.group("int")).replace(",", "")
            value = float(digits + ("." + match.group("dec") if match.group("dec") else ""))
            scale = match.group("attached") or match.group("short") or match.group("scale")
        if scale:
            value *= SCALES[scale.lower()]
        start, end = match.span()
        mark = _MARK_BEFORE.search(text, max(0, start - 4), start)
        if mark is not None:
            start, currency = mark.start(), CURRENCIES[mark.group().strip().lower()]
        elif after := _MARK_AFTER.match(text, end):
            end, currency = after.end(), CURRENCIES[after.group(1)]
        else:
            currency = None
        yield Number(round(value, 6), currency, start, end)


def numbers(text: str) -> set[float]:
    """Values of the numbers in ``text``: "US$30 billion", "$30bn" and "30,000 million" agree."""
    return {number.value for number in number_spans(text)}


def same_currency(one: str | None, other: str | None) -> bool:
    """Whether two amounts' currencies can be the same (one unstated, or a bare dollar)."""
    if one is None or other is None or one == other:
        return True
    return "$" in (one, other) and {one, other} <= {"$", "usd", "aud", "cad", "hkd"}


# -- qualifiers -------------------------------------------------------------------------------


#: Words whose values exclude each other: swapping one for another in the same place changes
#: the claim ("one kidney" / "both kidneys", "first" / "last", "before" / "after", "a day" /
#: "a week"). Each scale lists its groups, "|" between groups; words of one group agree.
def _russian_forms(*stems: str) -> str:
    """Every case and gender of Russian ordinals, which inflect (первый, первую, первых).

    A stem ending in "*" takes the soft endings (последний, последнюю).
    """
    hard = "ый ая ое ые ого ой ому ую ым ыми ых ом".split()
    soft = "ий яя ее ие его ей ему юю им ими их ем".split()
    return " ".join(
        stem.rstrip("*") + ending
        for stem in stems
        for ending in (soft if stem.endswith("*") else hard)
    )


_ORDINAL_GROUPS = (
    ("first", "primeiro primeira primeiros primeiras", _russian_forms("перв")),
    ("second", "segundo segunda segundos segundas", _russian_forms("втор")),
    ("third", "terceiro terceira terceiros terceiras", "третья третье третьи третьего третью"),
    ("fourth", "quarto quarta", _russian_forms("четверт", "четвёрт")),
    ("fifth", "quinto quinta", _russian_forms("пят")),
    ("sixth", "sexto sexta", _russian_forms("шест")),
    ("seventh", "sétimo sétima", _russian_forms("седьм")),
    ("eighth", "oitavo oitava", _russian_forms("восьм")),
    ("ninth", "nono nona", _russian_forms("девят")),
    ("tenth", "décimo décima", _russian_forms("десят")),
    ("last final", "último última últimos últimas", _russian_forms("последн*")),
    ("next", "próximo próxima"),  # not следующий: its stem is that of следует, "should"
    ("previous", "anterior"),
)
QUALIFIER_SCALES = (
    "one single | both | all every each | none | half | twice double | most | some several | few",
    " | ".join(" ".join(words) for words in _ORDINAL_GROUPS),
    "before prior earlier | after later",
    "early | late",
    "second | minute | hour | day daily | week weekly | month monthly | year annual | decade"
    " | century",
    "more | less fewer",
    "larger bigger greater | smaller",
    "largest biggest greatest | smallest",
    "higher | lower",
    "highest | lowest",
    "older elder | younger",
    "oldest eldest | youngest",
    "up | down",
    "rise rose risen | fall fell fallen",
    "increase increased raise raised | decrease decreased reduce reduced lowered",
    "above | below",
    "maximum | minimum",
    "win won | lose lost",
    "maior maiores | menor menores",
    "mais | menos",
    "больше | меньше",
)
#: Ordinals: one before a word the texts share ("second-largest" against "largest") changes
#: which thing is meant, so adding or dropping one is a difference too. Stemmed, as slots are.
ORDINALS = frozenset(stem(word) for word in QUALIFIER_SCALES[1].replace("|", " ").split())
#: Words that pick some member of a set without saying which ("one of those nights"): an
#: ordinal in their place names a particular one ("the last of those nights"), which they do
#: not say (issue 10).
UNSPECIFIED = frozenset({"one", "single", "some", "several", "any", "#1"})
#: Quantity words that are numbers, so "one kidney" and "2 kidneys" compare as numbers.
QUANTITIES = {"one": 1.0, "single": 1.0, "both": 2.0}


def _qualifiers() -> dict[str, frozenset[tuple[int, int]]]:
    found: dict[str, set[tuple[int, int]]] = {}
    for scale, groups in enumerate(QUALIFIER_SCALES):
        for group, words in enumerate(groups.split("|")):
            for word in words.split():
                found.setdefault(stem(word), set()).add((scale, group))
    return {word: frozenset(places) for word, places in found.items()}


#: Stemmed qualifier -> the (scale, group) places it holds.
QUALIFIERS = _qualifiers()


def qualifiers_differ(one: str, other: str) -> bool:
    """Whether two qualifiers stand on one scale in different groups ("first" and "last")."""
    places, other_places = QUALIFIERS.get(one, frozenset()), QUALIFIERS.get(other, frozenset())
    scales = {scale for scale, _ in places} & {scale for scale, _ in other_places}
    return bool(scales) and not places & other_places


# -- slots and their comparison ---------------------------------------------------------------


class Slot(NamedTuple):
    """One word of a text as the alignment sees it.

    ``kind`` is "number" (``value`` and ``currency`` set; ``key`` is the value), "name"
    (a capitalised word), "qualifier", "cjk" (one Chinese/Japanese character of a compound
    word: kanji or katakana) or "word".
    """

    key: str
    kind: str
    text: str  # as written
    value: float | None = None
    currency: str | None = None


def conflicts(claim: Sequence[Slot], passage: Sequence[Slot]) -> list[tuple[Slot, Slot | None]]:
    """The claim's facts that the passage contradicts where it states them.

    Each of the claim's facts is placed in the passage by its neighbours (``place``); a
    different number, name, qualifier or compound there contradicts it. An ordinal that one
    side has before a word both share ("second-largest" against "largest") does too.

    Returns:
        (the claim's slot, the passage's slot there) pairs; the claim's slot is the word an
        ordinal of the passage's stands before, and the passage's None, when one side only has it.
    """
    at: dict[str, list[int]] = {}
    for j, slot in enumerate(passage):
        at.setdefault(slot.key, []).append(j)
    names = {slot.key for slot in claim if slot.kind == "name"}
    found: list[tuple[Slot, Slot | None]] = []
    for i, slot in enumerate(claim):
        if slot.kind == "word":
            continue
        placed = place(claim, i, passage, at)
        if placed is None or passage[placed].key == slot.key:
            continue
        theirs = passage[placed]
        if slot.key in ORDINALS and i + 1 < len(claim) and theirs.key == claim[i + 1].key:
            found.append((slot, None))
        elif _contradicts(slot, theirs, names) or _swapped(claim, i, passage, placed, at):
            found.append((slot, theirs))
    for i, slot in enumerate(claim[:-1]):
        if slot.key in ORDINALS:
            there = place(claim, i + 1, passage, at)
            if there is not None and passage[there].key == claim[i + 1].key:
                if there == 0 or passage[there - 1].key not in ORDINALS:
                    found.append((slot, None))
    for j, slot in enumerate(passage[:-1]):
        if slot.key in ORDINALS:
            mine = _placed_at(passage[j + 1].key, j + 1, claim, passage, at)
            if mine is not None and (mine == 0 or claim[mine - 1].key not in ORDINALS):
                found.append((claim[mine], slot))
    return found


def place(
    claim: Sequence[Slot], i: int, passage: Sequence[Slot], at: dict[str, list[int]]
) -> int | None:
    """Where the claim's ``i``-th word stands in the passage, or None.

    The position whose two words on each side share at least two with the claim word's; of
    several, the one whose next words on either side are the claim word's own, then the one
    holding the same word. ``at`` lists the passage's positions of each key.
    """
    left = [claim[k].key for k in range(max(0, i - 2), i)]
    right = [claim[k].key for k in range(i + 1, min(len(claim), i + 3))]
    candidates = {j + d for key in left for j in at.get(key, ()) for d in (1, 2)}
    candidates |= {j - d for key in right for j in at.get(key, ()) for d in (1, 2)}
    best, best_rank = None, (0, False)
    for j in sorted(candidates):
        if not 0 <= j < len(passage):
            continue
        before = [passage[k].key for k in range(max(0, j - 2), j)]
        after = [passage[k].key for k in range(j + 1, min(len(passage), j + 3))]
        shared = len(set(left) & set(before)) + len(set(right) & set(after))
        if shared < 2:
            continue
        adjacent = (left[-1:] == before[-1:]) + (right[:1] == after[:1])
        ranked = (shared + adjacent, passage[j].key == claim[i].key)
        if ranked > best_rank:
            best, best_rank = j, ranked
    return best


def _placed_at(
    key: str, j: int, claim: Sequence[Slot], passage: Sequence[Slot], at: dict[str, list[int]]
) -> int | None:
    """The claim position of ``key`` that ``place`` puts at passage position ``j``, if any."""
    for i, slot in enumerate(claim):
        if slot.key == key and place(claim, i, passage, at) == j:
            return i
    return None


def _swapped(
    claim: Sequence[Slot], i: int, passage: Sequence[Slot], j: int, at: dict[str, list[int]]
) -> bool:
    """Whether the claim's name ``i`` and another of its names trade places in the passage.

    "Instagram head Jack Dorsey, Twitter CEO Adam Mosseri" against "Instagram head Adam
    Mosseri, Twitter CEO Jack Dorsey": each name is the claim's, so neither is new, but each
    stands, by its neighbouring words, where the passage has the other (issue 10). Names of a
    list in another order ("SpaceX, Blue Origin" / "Blue Origin, SpaceX") have only each other
    as neighbours, so ``place`` does not put them anywhere and they are no swap.
    """
    mine, theirs = claim[i], passage[j]
    if mine.kind != "name" or theirs.kind != "name" or theirs.key == mine.key:
        return False
    return any(
        slot.key == theirs.key
        and (there := place(claim, k, passage, at)) is not None
        and passage[there].key == mine.key
        for k, slot in enumerate(claim)
    )


def _contradicts(mine: Slot, theirs: Slot, names: set[str]) -> bool:
    """Whether the passage's word in the slot of one of the claim's facts is another fact.

    Numbers must both be amounts of money or both not ("$22.6bn budget for 2020" and "2020
    budget for $22.6bn" say the same); a name must be one the claim does not have (a claim may
    list names in another order).
    """
    if mine.kind == "number":
        return (
            theirs.kind == "number"
            and (mine.currency is None) == (theirs.currency is None)
            and (mine.value != theirs.value or not same_currency(mine.currency, theirs.currency))
        )
    if mine.kind == "qualifier":
        if mine.key in ORDINALS and theirs.key in UNSPECIFIED:
            return True
        return qualifiers_differ(mine.key, theirs.key)
    if mine.kind == "name":
        return theirs.kind == "name" and theirs.key not in names
    return mine.kind == theirs.kind  # one compound's character for another's


# -- what a sentence does with its statement: negation, dispute, hedge -------------------------

#: Words that turn a statement around (English, Portuguese, Spanish, French, German, Russian).
NEGATIONS = frozenset(
    """not no never none nor cannot without não nunca nem ningún jamais pas ne nicht kein
    keine nie не нет никогда ни""".split()
)
#: Words that say a statement is not true, which turn it around as a negation does: "X reported
#: that Y" against "Y is an unsubstantiated rumour" (issue 10). Stemmed as tokens are.
DISPUTES = frozenset(
    stem(word)
    for word in """rumour rumours rumor rumors rumoured rumored unsubstantiated unconfirmed
    unfounded baseless unproven untrue false falsely debunked hoax myth deny denies denied
    refute refuted boato boatos falso слух слухи""".split()
)
#: "n't", and the Japanese negative endings (できません, できない, なかった).
_NEGATED = re.compile(r"n['’]t\b|ません|なかった|ない", re.IGNORECASE)
#: Words that leave a statement open: a passage that says "police are looking into whether X",
#: "X may have happened" or "X reportedly did" does not state X, so a claim that states it as
#: certain is not supported (issue 10). "may" counts in lower case only (not the month).
_HEDGE = re.compile(
    r"\bmay\b|(?i:\b(?:might|could|possibly|perhaps|probably|likely|unlikely|reportedly"
    r"|allegedly|alleged|apparently|purportedly|supposedly|presumably|suspected|seemingly"
    r"|seems?|seemed|appears?|appeared|whether|believed?|believes|thinks?|talvez|possivelmente"
    r"|provavelmente|supostamente|возможно|вероятно|якобы|предположительно)\b)"
)


def negations(tokens: Iterable[str], text: str) -> int:
    """How often ``text`` (its normalised ``tokens``) negates or disputes what it says."""
    turned = sum(token in NEGATIONS or token in DISPUTES for token in tokens)
    return turned + len(_NEGATED.findall(text))


def hedges(text: str) -> int:
    """How often ``text`` leaves what it says open (may, reportedly, whether, возможно ...)."""
    return len(_HEDGE.findall(text))


# -- saying it in the same words ---------------------------------------------------------------


#: Words by which a citing sentence attributes its claim to the source ("..., the study
#: found"; "according to"): the source does not say them of itself, so their absence from the
#: passage is no rewording. Stemmed as slots are.
REPORTING = frozenset(
    stem(word)
    for word in """according told tells found finds announced announces reported wrote writes
    noted notes added adds explained explains showed shows""".split()
)


def aligned(claim: Sequence[str], passage: Sequence[str]) -> list[tuple[int, int]]:
    """The longest run of the claim's words that the passage has in the same order.

    A longest common subsequence of the two key sequences, as (claim, passage) position pairs:
    a quote has every word of the claim, a light rewording all but a few, while a claim that
    shares the page's names and topic but states another fact has them scattered.
    """
    wanted = set(claim)
    kept = [j for j, key in enumerate(passage) if key in wanted]  # others never match
    rows = [[0] * (len(kept) + 1) for _ in range(len(claim) + 1)]
    for i in range(len(claim) - 1, -1, -1):
        row, below = rows[i], rows[i + 1]
        for k in range(len(kept) - 1, -1, -1):
            if claim[i] == passage[kept[k]]:
                row[k] = below[k + 1] + 1
            else:
                row[k] = max(below[k], row[k + 1])
    pairs, i, k = [], 0, 0
    while i < len(claim) and k < len(kept):
        if claim[i] == passage[kept[k]]:
            pairs.append((i, kept[k]))
            i, k = i + 1, k + 1
        elif rows[i + 1][k] >= rows[i][k + 1]:
            i += 1
        else:
            k += 1
    return pairs
