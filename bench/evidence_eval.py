"""How well ``archiver.evidence.find`` finds and labels the passage that backs a claim.

The developer corpus (../shared/corpus) has 30 real article pages, each with 3 sentences quoted
from its main text. From them this builds five kinds of citation:

- quote: the claim is a sentence of the page (gold label ``supported``);
- paraphrase: the same fact in other words, numbers and names kept (``supported`` or
  ``partial``: only a near word-for-word rewording is ``supported``), written by hand in
  bench/evidence/claims.json;
- contradiction: one number, year, name or negation changed (``partial``), also hand-written;
- unrelated: a claim of one page cited against another, unrelated page (``not_found``);
- unavailable: a dead link or an image, no text (``unavailable``).

The pages are served by a loopback web server (tests/webserver.py), a Markdown article whose
links are these citations is archived by the real ``archiver archive`` command, and
``archiver annotate`` labels them. A passage is "right" when it contains the page's sentence the
claim was drawn from (whitespace normalised): that is what the fact-checker reads.

``--fresh`` runs bench/evidence/fresh_claims.json the same way: claims written after the hard
set had been tuned on, never tuned on themselves, every page held out.

``--hard`` runs the harder set of bench/evidence/hard_claims.json instead: hand-written claims
that swap a number, qualifier, name or attribution, paraphrases sharing few words, and claims
with the right topic but a wrong fact, against the pages' extracted text, split by page into a
tuning part and a held-out part.

Run ``python bench/evidence_eval.py`` (add ``--timing 1000`` for the speed comparison, and
``--in-memory`` to skip the web and archive for quick threshold experiments). See README.md.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CORPUS = REPO.parent / "shared" / "corpus"
CLAIMS = BENCH / "evidence" / "claims.json"
HARD_CLAIMS = BENCH / "evidence" / "hard_claims.json"
FRESH_CLAIMS = BENCH / "evidence" / "fresh_claims.json"
sys.path.insert(0, str(REPO / "tests"))  # the loopback web server the tests use

from click.testing import CliRunner  # noqa: E402
from webserver import Handler, WebServer  # noqa: E402

from archiver.cli import cli  # noqa: E402
from archiver.store import open_db  # noqa: E402
from archiver.evidence.find import LABELS, PassageIndex, find_evidence, judge, rank  # noqa: E402
from archiver.capture.extract import extract  # noqa: E402

KINDS = ("quote", "paraphrase", "contradiction", "unrelated", "unavailable", "same_story")
#: Gold labels. "same_story" (a quote checked against another site's report of the same story)
#: has none: the other page may well say it too. It is shown, not scored. A paraphrase has two,
#: ``supported`` or ``partial`` (``supported`` means the passage says it nearly word for word,
#: which a paraphrase may or may not do), so it is measured by ``paraphrase_found`` alone.
GOLD: dict[str, str | None] = {
    "quote": "supported",
    "paraphrase": None,
    "contradiction": "partial",
    "unrelated": "not_found",
    "unavailable": "unavailable",
    "same_story": None,
}
#: Pages that report the same story: never paired as "unrelated".
SAME_STORY = [
    {"42aad16bde92", "d1c57d7821e5"},  # NASA's commercial lunar landers
    {"686bb170effe", "f344ca5fb36e"},  # water vapour on Europa
    {"51374560f400", "f8ff621a0b9b"},  # Home Depot's quarterly results
]
DEAD_LINKS = 4
IMAGES = 2
SEED = 20191119


@dataclass(frozen=True)
class Case:
    """One citation of the benchmark article."""

    kind: str
    claim: str
    page: str | None  # corpus id of the page the link points to; None: a dead link or image
    source: str | None  # the page sentence the right passage must contain
    anchor: str = ""


@dataclass
class Outcome:
    case: Case
    label: str
    passage: str | None
    score: float | None
    claim_seen: str  # the claim as the archiver parsed it from the article


@dataclass
class Report:
    outcomes: list[Outcome]
    archive_seconds: float = 0.0
    annotate_seconds: float = 0.0
    citations: int = 0
    fetched_urls: int = 0
    figures: dict[str, Any] = field(default_factory=dict)


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# -- the cases --------------------------------------------------------------------------------


def load_pages(corpus: Path = CORPUS) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = json.loads((corpus / "manifest.json").read_text("utf-8"))
    return pages


def _anchor(claim: str) -> str:
    """Link text as an author would pick it: a run of capitalised words, else a few words."""
    words = claim.split()
    runs: list[list[str]] = []
    for i, word in enumerate(words):
        capital = word[:1].isupper() and i > 0
        if capital and runs and runs[-1] and words[i - 1] == runs[-1][-1]:
            runs[-1].append(word)
        elif capital:
            runs.append([word])
    best = max(runs, key=len, default=[])
    if len(best) >= 2:
        return " ".join(best[:4]).rstrip(",.;:)")
    if len(words) >= 4:
        return " ".join(words[1:4]).rstrip(",.;:")
    return claim[: max(1, min(8, len(claim) // 3))]  # Japanese: no spaces


def build_cases(pages: list[dict[str, Any]], claims_file: Path = CLAIMS) -> list[Case]:
    """Every citation of the benchmark, in a fixed order."""
    written = json.loads(claims_file.read_text("utf-8"))
    by_id = {page["id"]: page for page in pages}
    cases = [
        Case("quote", quote, page["id"], quote) for page in pages for quote in page["quote_claims"]
    ]
    cases += [
        Case("paraphrase", c["claim"], c["page"], c["source"]) for c in written["paraphrases"]
    ]
    cases += [
        Case("contradiction", c["claim"], c["page"], c["source"]) for c in written["contradictions"]
    ]
    paraphrases: dict[str, list[str]] = {}
    for c in written["paraphrases"]:
        paraphrases.setdefault(c["page"], []).append(c["claim"])
    ids = [page["id"] for page in pages]
    for i, page_id in enumerate(ids):
        other = next(
            ids[(i + k) % len(ids)]
            for k in range(7, 7 + len(ids))
            if not any({page_id, ids[(i + k) % len(ids)]} <= group for group in SAME_STORY)
            and ids[(i + k) % len(ids)] != page_id
        )
        claims = [by_id[page_id]["quote_claims"][i % 3], *paraphrases.get(page_id, [])[:1]]
        cases += [Case("unrelated", claim, other, None) for claim in claims]
    for group in SAME_STORY:
        first, second = sorted(group)
        for page_id, other in ((first, second), (second, first)):
            cases += [Case("same_story", q, other, None) for q in by_id[page_id]["quote_claims"]]
    filler = [page["quote_claims"][0] for page in pages]
    cases += [Case("unavailable", filler[i], None, None) for i in range(DEAD_LINKS + IMAGES)]
    return [Case(c.kind, c.claim, c.page, c.source, _anchor(c.claim)) for c in cases]


# -- the article and the web -----------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~!])")


def _escape(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _linked(case: Case, url: str) -> str:
    at = case.claim.find(case.anchor)
    before, after = case.claim[:at], case.claim[at + len(case.anchor) :]
    return f"{_escape(before)}[{_escape(case.anchor)}]({url}){_escape(after)}"


def write_article(
    path: Path, cases: list[Case], urls: list[str], *, per_paragraph: int = 3
) -> None:
    """A Markdown article citing every case; claims share paragraphs, as in real articles."""
    lines = ["# Evidence benchmark", ""]
    for start in range(0, len(cases), per_paragraph):
        end = start + per_paragraph
        chunk = zip(cases[start:end], urls[start:end], strict=True)
        lines += [" ".join(_linked(case, url) for case, url in chunk), ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def _page(body: bytes) -> Callable[[Handler], None]:
    def behaviour(h: Handler) -> None:
        h.respond(200, body, content_type="text/html; charset=utf-8")

    return behaviour


def _missing(h: Handler) -> None:
    h.respond(404, b"<html><body>no such page</body></html>")


def _image(h: Handler) -> None:
    h.respond(200, bytes.fromhex("89504e470d0a1a0a"), content_type="image/png")


@contextmanager
def corpus_web(
    pages: list[dict[str, Any]], corpus: Path = CORPUS, *, hosts: int = 1
) -> Iterator[list[WebServer]]:
    """Loopback servers (127.0.0.2, .3, ...) serving every page at /page/<id> and /copy/<n>/<id>."""
    bodies = {page["id"]: (corpus / page["html_file"]).read_bytes() for page in pages}

    def copy(h: Handler) -> None:
        h.respond(200, bodies[h.path.rstrip("/").rsplit("/", 1)[1]])

    routes: dict[str, Callable[[Handler], None]] = {
        f"/page/{page_id}": _page(body) for page_id, body in bodies.items()
    }
    routes |= {"/dead/": _missing, "/image/": _image, "/copy/": copy}
    with ExitStack() as stack:
        yield [stack.enter_context(WebServer(f"127.0.0.{2 + i}", routes)) for i in range(hosts)]


def _urls(cases: list[Case], servers: list[WebServer], *, copies: bool = False) -> list[str]:
    urls, dead, images = [], 0, 0
    for n, case in enumerate(cases):
        server = servers[n % len(servers)]
        if case.page is None:
            if dead < DEAD_LINKS:
                dead += 1
                urls.append(server.url(f"/dead/{dead}"))
            else:
                images += 1
                urls.append(server.url(f"/image/{images}.png"))
        elif copies:
            urls.append(server.url(f"/copy/{n}/{case.page}"))
        else:
            urls.append(server.url(f"/page/{case.page}"))
    return urls


def _invoke(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(cli, args)
    if result.exit_code != 0:
        raise RuntimeError(f"archiver {args[0]} failed ({result.exit_code}): {result.output}")
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def run_pipeline(
    cases: list[Case], workdir: Path, *, pages: list[dict[str, Any]], copies: bool = False
) -> Report:
    """Serve the pages, archive an article citing every case, annotate, read the evidence back."""
    db_path = workdir / "citations.db"
    with corpus_web(pages, hosts=8 if copies else 1) as servers:
        urls = _urls(cases, servers, copies=copies)
        article = workdir / "article.md"
        write_article(article, cases, urls)
        started = time.perf_counter()
        archive = _invoke(
            ["archive", str(article), "--db", str(db_path), "--warc-dir", str(workdir / "warc")]
            + ["--allow-private-addresses", "--delay", "0", "--concurrency", "8"]
            + ["--timeout", "30", "--json", "--silent"]
        )
        archive_seconds = time.perf_counter() - started
    annotated = _invoke(["annotate", "--db", str(db_path), "--json", "--silent"])
    db = open_db(db_path)
    rows = {
        row["position"]: row
        for row in db.query(
            "select citations.position, citations.claim, evidence.label, evidence.passage, "
            "evidence.score from citations left join evidence on evidence.citation_id = "
            "citations.id order by citations.position, evidence.capture_id"
        )
    }
    outcomes = []
    for position, case in enumerate(cases, start=1):
        row = rows.get(position, {})
        outcomes.append(
            Outcome(
                case,
                row.get("label") or "missing",
                row.get("passage"),
                row.get("score"),
                row.get("claim") or "",
            )
        )
    return Report(
        outcomes,
        archive_seconds=archive_seconds,
        annotate_seconds=float(annotated["seconds"]),
        citations=len(rows),
        fetched_urls=int(archive["fetch"]["done"]),
    )


def page_indexes(pages: list[dict[str, Any]], corpus: Path = CORPUS) -> dict[str, PassageIndex]:
    """Each page's text as the archiver extracts it, split into passages."""
    indexes = {}
    for page in pages:
        body = (corpus / page["html_file"]).read_bytes()
        text = extract(body, content_type="text/html", url=page["original_url"]).text or ""
        indexes[page["id"]] = PassageIndex(text)
    return indexes


def run_in_memory(cases: list[Case], pages: list[dict[str, Any]], corpus: Path = CORPUS) -> Report:
    """The same cases against the pages' extracted text, without web or database (fast)."""
    indexes = page_indexes(pages, corpus)
    started = time.perf_counter()
    outcomes = []
    for case in cases:
        if case.page is None:
            outcomes.append(Outcome(case, "unavailable", None, None, case.claim))
            continue
        evidence = find_evidence(case.claim, indexes[case.page], anchor=case.anchor)
        outcomes.append(Outcome(case, evidence.label, evidence.passage, evidence.score, case.claim))
    return Report(outcomes, annotate_seconds=time.perf_counter() - started, citations=len(cases))


def sweep(
    pages: list[dict[str, Any]], cases: list[Case], corpus: Path = CORPUS
) -> list[dict[str, Any]]:
    """Labels for a grid of the two coverage thresholds (in memory: ranking does not change)."""
    indexes = page_indexes(pages, corpus)
    ranked = [
        (case, (rank(case.claim, indexes[case.page], anchor=case.anchor, limit=1) or [None])[0])
        for case in cases
        if case.page is not None
    ]
    rows = []
    for not_found_below in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4):
        for supported_from in (0.6, 0.7, 0.8, 0.9, 1.0):
            if supported_from <= not_found_below:
                continue
            labels: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
            for case, best in ranked:
                evidence = judge(
                    case.claim,
                    best,
                    not_found_below=not_found_below,
                    supported_from=supported_from,
                )
                labels[case.kind][evidence.label] += 1

            def rate(kind: str, *wanted: str, labels: dict[str, Counter[str]] = labels) -> float:
                total = sum(labels[kind].values())
                return round(sum(labels[kind][w] for w in wanted) / total, 3) if total else 0.0

            rows.append(
                {
                    "not_found_below": not_found_below,
                    "supported_from": supported_from,
                    "quote_supported": rate("quote", "supported"),
                    "paraphrase_supported": rate("paraphrase", "supported"),
                    "paraphrase_found": rate("paraphrase", "supported", "partial"),
                    "contradiction_supported": rate("contradiction", "supported"),
                    "unrelated_not_found": rate("unrelated", "not_found"),
                    "same_story_supported": rate("same_story", "supported"),
                }
            )
    return rows


def print_sweep(rows: list[dict[str, Any]], out: Any = sys.stdout) -> None:
    columns = list(rows[0])
    print(" | ".join(columns), file=out)
    for row in rows:
        print(" | ".join(f"{row[c]:.2f}" for c in columns), file=out)


# -- the figures -----------------------------------------------------------------------------


def right_passage(outcome: Outcome) -> bool:
    source = outcome.case.source
    return bool(source and outcome.passage and norm(source) in norm(outcome.passage))


def figures(report: Report) -> dict[str, Any]:
    """Top-1 per kind, the aims, and precision/recall per label against the gold labels."""
    by_kind: dict[str, list[Outcome]] = {kind: [] for kind in KINDS}
    for outcome in report.outcomes:
        by_kind[outcome.case.kind].append(outcome)

    def share(items: list[Outcome], test: Callable[[Outcome], bool]) -> float:
        return sum(map(test, items)) / len(items) if items else 0.0

    result: dict[str, Any] = {"counts": {kind: len(items) for kind, items in by_kind.items()}}
    result["top1"] = {
        kind: round(share(by_kind[kind], right_passage), 3)
        for kind in ("quote", "paraphrase", "contradiction")
    }
    result["paraphrase_found"] = round(
        share(
            by_kind["paraphrase"],
            lambda o: right_passage(o) and o.label in ("supported", "partial"),
        ),
        3,
    )
    result["contradiction_supported"] = round(
        share(by_kind["contradiction"], lambda o: o.label == "supported"), 3
    )
    result["claims_parsed_verbatim"] = round(
        share(report.outcomes, lambda o: norm(o.claim_seen) == norm(o.case.claim)), 3
    )
    per_label = {}
    scored = [o for o in report.outcomes if GOLD[o.case.kind] is not None]
    for label in LABELS:
        predicted = [o for o in scored if o.label == label]
        gold = [o for o in scored if GOLD[o.case.kind] == label]
        hits = [o for o in predicted if GOLD[o.case.kind] == label]
        per_label[label] = {
            "precision": round(len(hits) / len(predicted), 3) if predicted else None,
            "recall": round(len(hits) / len(gold), 3) if gold else None,
            "predicted": len(predicted),
            "gold": len(gold),
        }
    result["labels"] = per_label
    result["confusion"] = {
        kind: dict(Counter(o.label for o in items)) for kind, items in by_kind.items()
    }
    result["seconds"] = {
        "archive": round(report.archive_seconds, 2),
        "annotate": round(report.annotate_seconds, 3),
    }
    return result


def print_table(report: Report, out: Any = sys.stdout) -> None:
    f = report.figures
    print(f"citations: {report.citations}  {f['counts']}", file=out)
    print(f"claims parsed verbatim from the article: {f['claims_parsed_verbatim']:.3f}", file=out)
    print("", file=out)
    print(f"{'kind':<14} {'top-1':>6}   labels", file=out)
    for kind in KINDS:
        top1 = f["top1"].get(kind)
        labels = ", ".join(f"{k} {v}" for k, v in sorted(f["confusion"][kind].items()))
        print(f"{kind:<14} {'' if top1 is None else f'{top1:.3f}':>6}   {labels}", file=out)
    print("", file=out)
    print(
        f"paraphrases: right passage and supported/partial: {f['paraphrase_found']:.3f}", file=out
    )
    print(f"contradictions labelled supported: {f['contradiction_supported']:.3f}", file=out)
    print("", file=out)
    print(f"{'label':<12} {'precision':>9} {'recall':>7} {'predicted':>9} {'gold':>5}", file=out)
    for label, row in f["labels"].items():
        p = "-" if row["precision"] is None else f"{row['precision']:.3f}"
        r = "-" if row["recall"] is None else f"{row['recall']:.3f}"
        print(f"{label:<12} {p:>9} {r:>7} {row['predicted']:>9} {row['gold']:>5}", file=out)
    seconds = f["seconds"]
    if report.fetched_urls:
        print(
            f"\narchive (fetch + extract) of {report.fetched_urls} URLs: {seconds['archive']} s; "
            f"annotate of {report.citations} citations: {seconds['annotate']} s",
            file=out,
        )


def print_failures(report: Report, out: Any = sys.stdout) -> None:
    for o in report.outcomes:
        gold = ("supported", "partial") if o.case.kind == "paraphrase" else (GOLD[o.case.kind],)
        if gold == (None,):
            continue
        wrong_place = o.case.source is not None and not right_passage(o)
        if wrong_place or o.label not in gold:
            where = "wrong passage" if wrong_place else "right passage"
            print(f"[{o.case.kind} -> {o.label}, {where}, {o.score}] {o.case.claim[:90]}", file=out)


# -- the hard set ----------------------------------------------------------------------------

#: Label families of the hard set: what each ``expect`` accepts.
FAMILIES = {
    "supported": ("supported",),
    "found": ("supported", "partial"),
    "not_supported": ("partial", "not_found"),
}
#: The hard set's aims, on the held-out part: (kinds, labels counted, at least or at most).
HARD_AIMS = {
    "quote_supported": (("quote",), ("supported",), "at least", 0.97),
    "paraphrase_found": (("paraphrase",), ("supported", "partial"), "at least", 0.90),
    "contradiction_supported": (("contradiction",), ("supported",), "at most", 0.05),
    "wrong_fact_supported": (("wrong_fact",), ("supported",), "at most", 0.05),
    "misleading_supported": (("contradiction", "wrong_fact"), ("supported",), "at most", 0.05),
}


@dataclass(frozen=True)
class HardOutcome:
    page: str
    part: str  # "tune" or "held_out"
    kind: str
    claim: str
    label: str
    missing: str | None
    score: float | None

    @property
    def as_expected(self) -> bool:
        return self.label in FAMILIES[EXPECT[self.kind]]


EXPECT = {
    "quote": "supported",
    "paraphrase": "found",
    "contradiction": "not_supported",
    "wrong_fact": "not_supported",
}


def hard_cases(
    pages: list[dict[str, Any]], claims_file: Path = HARD_CLAIMS
) -> list[tuple[str, str, str, str]]:
    """(page, part, kind, claim) of the hard set, plus the corpus's own quotes of each page.

    A set without a ``split`` (the fresh set) is held out whole and has its own quotes.
    """
    written = json.loads(claims_file.read_text("utf-8"))
    if "split" not in written:
        return [(c["page"], "held_out", c["kind"], c["claim"]) for c in written["claims"]]
    held = set(written["split"]["held_out"])
    cases = [
        (c["page"], "held_out" if c["page"] in held else "tune", c["kind"], c["claim"])
        for c in written["claims"]
    ]
    cases += [
        (page["id"], "held_out" if page["id"] in held else "tune", "quote", quote)
        for page in pages
        for quote in page["quote_claims"]
    ]
    return cases


def run_hard(
    pages: list[dict[str, Any]], corpus: Path = CORPUS, claims_file: Path = HARD_CLAIMS
) -> tuple[list[HardOutcome], float]:
    """Label every hard case against its page's extracted text; also the seconds it took."""
    indexes = page_indexes(pages, corpus)
    outcomes = []
    started = time.perf_counter()
    for page, part, kind, claim in hard_cases(pages, claims_file):
        evidence = find_evidence(claim, indexes[page], anchor=_anchor(claim))
        outcomes.append(
            HardOutcome(page, part, kind, claim, evidence.label, evidence.missing, evidence.score)
        )
    return outcomes, time.perf_counter() - started


def hard_figures(outcomes: list[HardOutcome]) -> dict[str, dict[str, Any]]:
    """Per part: each aim's share, and the label counts per kind."""
    result: dict[str, dict[str, Any]] = {}
    for part in ("tune", "held_out"):
        mine = [o for o in outcomes if o.part == part]
        figures: dict[str, Any] = {}
        for name, (kinds, labels, _, _) in HARD_AIMS.items():
            items = [o for o in mine if o.kind in kinds]
            hits = sum(o.label in labels for o in items)
            figures[name] = round(hits / len(items), 3) if items else None
        figures["counts"] = dict(Counter(o.kind for o in mine))
        figures["confusion"] = {
            kind: dict(Counter(o.label for o in mine if o.kind == kind)) for kind in EXPECT
        }
        result[part] = figures
    return result


def _shown(figure: float | None) -> str:
    return "-" if figure is None else f"{figure:.3f}"


def print_hard(
    outcomes: list[HardOutcome], seconds: float, *, failures: bool, out: Any = sys.stdout
) -> None:
    figures = hard_figures(outcomes)
    print(f"{'aim':<26} {'tune':>7} {'held-out':>9}   aim", file=out)
    for name, (_, _, sense, bound) in HARD_AIMS.items():
        tune, held = (_shown(figures[part][name]) for part in ("tune", "held_out"))
        print(f"{name:<26} {tune:>7} {held:>9}   {sense} {bound}", file=out)
    for part in ("tune", "held_out"):
        if not figures[part]["counts"]:
            continue
        print(f"\n{part}: {figures[part]['counts']}", file=out)
        for kind, labels in figures[part]["confusion"].items():
            shown = ", ".join(f"{k} {v}" for k, v in sorted(labels.items()))
            print(f"  {kind:<14} {shown}", file=out)
    print(
        f"\n{len(outcomes)} claims judged in {seconds * 1000:.0f} ms "
        f"({seconds * 1000 / len(outcomes):.2f} ms a claim, pages split beforehand)",
        file=out,
    )
    if failures:
        print("", file=out)
        for o in outcomes:
            if not o.as_expected:
                print(
                    f"[{o.part} {o.page} {o.kind} -> {o.label}, {o.score}, {o.missing}] "
                    f"{o.claim[:100]}",
                    file=out,
                )


def evaluate(
    workdir: Path, *, corpus: Path = CORPUS, in_memory: bool = False, timing: int = 0
) -> Report:
    pages = load_pages(corpus)
    cases = build_cases(pages)
    if timing:
        rng = random.Random(SEED)
        cases = [rng.choice(cases) for _ in range(timing)]
        cases = [c for c in cases if c.page is not None]
        report = run_pipeline(cases, workdir, pages=pages, copies=True)
    elif in_memory:
        report = run_in_memory(cases, pages, corpus)
    else:
        report = run_pipeline(cases, workdir, pages=pages)
    report.figures = figures(report)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--in-memory", action="store_true", help="Skip the web and the archive.")
    parser.add_argument(
        "--timing", type=int, default=0, metavar="N", help="N citations of N distinct URLs."
    )
    parser.add_argument("--failures", action="store_true", help="List the misjudged citations.")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    parser.add_argument("--sweep", action="store_true", help="Labels for a grid of thresholds.")
    parser.add_argument("--hard", action="store_true", help="The hard set, tune and held-out.")
    parser.add_argument("--fresh", action="store_true", help="The fresh set, never tuned on.")
    args = parser.parse_args()
    if args.hard or args.fresh:
        claims_file = FRESH_CLAIMS if args.fresh else HARD_CLAIMS
        outcomes, seconds = run_hard(load_pages(), claims_file=claims_file)
        print_hard(outcomes, seconds, failures=args.failures)
        if args.json:
            args.json.write_text(
                json.dumps(hard_figures(outcomes), indent=2) + "\n", encoding="utf-8"
            )
        return
    if args.sweep:
        pages = load_pages()
        print_sweep(sweep(pages, build_cases(pages)))
        return
    with tempfile.TemporaryDirectory(prefix="evidence-eval-") as tmp:
        report = evaluate(Path(tmp), in_memory=args.in_memory, timing=args.timing)
    print_table(report)
    if args.failures:
        print("")
        print_failures(report)
    if args.json:
        args.json.write_text(json.dumps(report.figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
