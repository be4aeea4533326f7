"""Do citations stay inside the articles' main text, and which links are left out? (issue 10)

Each page of the developer corpus (../shared/corpus: 30 real article pages, ``ground_truth_text``
being the article body as people marked it) is read as ``archiver archive`` reads an HTML page
(``parse_html``, ``join_broken_paragraphs``, ``citations_from``). A citation is *inside* when
its claim, whitespace removed, is part of the marked text, whitespace removed; *outside* claims
come from the page's chrome (or from text the annotators left out). Links that are not
citations are counted by the reason recorded for ``skipped_links``.

``--before REV`` also measures the archiver of another commit (its ``archiver/`` copied out with
``git archive``, run in a subprocess), for a before/after table. A commit older than issue 10
records no reasons: its links not cited are this version's links minus its citations.

Run ``python bench/citation_filter_eval.py --before 8c18d07`` (about 10 s); see README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from io import BytesIO
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CORPUS = REPO.parent / "shared" / "corpus"


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def load_pages(corpus: Path) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = json.loads((corpus / "manifest.json").read_text("utf-8"))
    for page in pages:
        page["html"] = (corpus / page["html_file"]).read_text("utf-8")
    return pages


def measure(pages: list[dict[str, Any]]) -> dict[str, Any]:
    """Citations inside and outside the marked text, and links skipped by reason (None when
    the archiver measured records no reasons)."""
    from archiver.ingest.claims import citations_from, join_broken_paragraphs
    from archiver.ingest.html import parse_html

    inside, outside, links = 0, [], 0
    reasons: Counter[str] | None = Counter()
    for page in pages:
        url = page["original_url"]
        parsed = parse_html(page["html"], url=url)
        paragraphs = join_broken_paragraphs(parsed.paragraphs)
        found = citations_from(paragraphs, base_url=parsed.base_url, article_url=url)
        # Before issue 10 a bare list of citations, since then (citations, skipped).
        citations, skipped = found if isinstance(found, tuple) else (found, None)
        truth = _squeeze(page["ground_truth_text"])
        for citation in citations:
            if _squeeze(citation.claim) in truth:
                inside += 1
            else:
                outside.append([page["id"], page["host"], citation.anchor_text, citation.claim])
        if skipped is None or reasons is None:
            reasons = None
        else:
            reasons.update(link.reason for link in skipped)
            links += len(citations) + len(skipped)
    return {
        "pages": len(pages),
        "inside": inside,
        "outside": len(outside),
        "outside_claims": outside,
        "links": links if reasons is not None else None,
        "skipped": dict(reasons.most_common()) if reasons is not None else None,
    }


def measure_commit(rev: str, corpus: Path) -> dict[str, Any]:
    """``measure`` run on the archiver of commit ``rev``, in a subprocess."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "archiver"], check=True, capture_output=True
    ).stdout
    with tempfile.TemporaryDirectory(prefix="citation-filter-") as tree:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
        env = {**os.environ, "PYTHONPATH": tree}  # ahead of the editable install of main
        result = subprocess.run(
            [sys.executable, __file__, "--corpus", str(corpus), "--json"],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
    figures: dict[str, Any] = json.loads(result.stdout)
    return figures


def print_table(columns: dict[str, dict[str, Any]]) -> None:
    """One column per archiver measured. One that records no reasons gets the links another
    counted (the main text's links are the same: only their sorting changed)."""
    total = next(f["links"] for f in columns.values() if f["links"] is not None)
    reasons = sorted({r for f in columns.values() for r in f["skipped"] or {}})
    cells: list[dict[str, object]] = []
    for f in columns.values():
        not_cited = (f["links"] or total) - f["inside"] - f["outside"]
        cells.append(
            {
                "pages": f["pages"],
                "citations, claim inside the main text": f["inside"],
                "citations, claim outside": f["outside"],
                "links not cited": not_cited,
                **{
                    f"… {r}": (f["skipped"] or {}).get(r, "—" if f["skipped"] is None else 0)
                    for r in reasons
                },
                "… dropped with no reason recorded": 0 if f["skipped"] is not None else not_cited,
            }
        )
    print("| figure | " + " | ".join(columns) + " |")
    print("| --- |" + " --- |" * len(columns))
    for label in cells[0]:
        print(f"| {label} | " + " | ".join(str(c[label]) for c in cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="The corpus folder.")
    parser.add_argument("--before", metavar="REV", help="Also measure this commit's archiver.")
    parser.add_argument("--outside", action="store_true", help="List the claims outside.")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args()
    if not (args.corpus / "manifest.json").exists():
        print(f"developer corpus not found at {args.corpus}: nothing to measure", file=sys.stderr)
        return
    after = measure(load_pages(args.corpus))
    if args.json:
        print(json.dumps(after))
        return
    columns = {"this checkout": after}
    if args.before:
        columns = {f"before ({args.before})": measure_commit(args.before, args.corpus), **columns}
    print_table(columns)
    if args.outside:
        for name, figures in columns.items():
            print(f"\nClaims outside the main text, {name}:")
            for page_id, host, anchor, claim in figures["outside_claims"]:
                print(f"- {page_id} {host} [{anchor}]: {claim[:100]}")


if __name__ == "__main__":
    main()
