"""Pinned quality floors of evidence matching, measured on the developer corpus end to end.

The corpus pages are served by a loopback web server, archived by the real ``archiver archive``
and labelled by ``archiver annotate`` (bench/evidence_eval.py does the work and prints the full
table). The floors live in bench/evidence/baseline.json, so they cannot drop silently.
"""

from __future__ import annotations

import json
import sys
from functools import reduce
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import evidence_eval  # noqa: E402

BASELINE: dict[str, Any] = json.loads(
    (REPO / "bench" / "evidence" / "baseline.json").read_text(encoding="utf-8")
)

pytestmark = [pytest.mark.corpus, pytest.mark.slow]


def _figure(figures: dict[str, Any], path: str) -> float:
    value = reduce(lambda node, key: node[key], path.split("."), figures)
    return float(value)


@pytest.fixture(scope="module")
def report(
    corpus_pages: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> evidence_eval.Report:
    return evidence_eval.evaluate(tmp_path_factory.mktemp("evidence-eval"))


@pytest.mark.parametrize("path", sorted(BASELINE["at_least"]))
def test_figure_stays_above_its_floor(report: evidence_eval.Report, path: str) -> None:
    assert _figure(report.figures, path) >= BASELINE["at_least"][path], report.figures


@pytest.mark.parametrize("path", sorted(BASELINE["at_most"]))
def test_figure_stays_below_its_ceiling(report: evidence_eval.Report, path: str) -> None:
    assert _figure(report.figures, path) <= BASELINE["at_most"][path], report.figures


def test_every_kind_is_measured(report: evidence_eval.Report) -> None:
    counts = report.figures["counts"]
    assert counts["quote"] == 90 and counts["unrelated"] == 60
    assert counts["paraphrase"] >= 30 and counts["contradiction"] >= 30


def test_evidence_takes_less_time_than_fetching(report: evidence_eval.Report) -> None:
    """Evidence for the 294 citations must cost less than fetching and extracting their 36 pages
    on loopback, with no network delay at all (bench: 1,000 citations, 3.5 s against 26 s)."""
    assert report.annotate_seconds < report.archive_seconds


@pytest.fixture(scope="module")
def hard_figures(corpus_pages: list[dict[str, Any]]) -> dict[str, Any]:
    outcomes, _ = evidence_eval.run_hard(evidence_eval.load_pages())
    figures: dict[str, Any] = evidence_eval.hard_figures(outcomes)["held_out"]
    return figures


@pytest.mark.parametrize("name", sorted(BASELINE["hard_held_out"]["at_least"]))
def test_hard_held_out_figure_stays_above_its_floor(
    hard_figures: dict[str, Any], name: str
) -> None:
    assert hard_figures[name] >= BASELINE["hard_held_out"]["at_least"][name], hard_figures


@pytest.mark.parametrize("name", sorted(BASELINE["hard_held_out"]["at_most"]))
def test_hard_held_out_figure_stays_below_its_ceiling(
    hard_figures: dict[str, Any], name: str
) -> None:
    assert hard_figures[name] <= BASELINE["hard_held_out"]["at_most"][name], hard_figures


@pytest.fixture(scope="module")
def fresh_figures(corpus_pages: list[dict[str, Any]]) -> dict[str, Any]:
    """The fresh set, never tuned on (bench/evidence/fresh_claims.json): all held out."""
    outcomes, _ = evidence_eval.run_hard(
        evidence_eval.load_pages(), claims_file=evidence_eval.FRESH_CLAIMS
    )
    figures: dict[str, Any] = evidence_eval.hard_figures(outcomes)["held_out"]
    return figures


@pytest.mark.parametrize("name", sorted(BASELINE["fresh"]["at_least"]))
def test_fresh_figure_stays_above_its_floor(fresh_figures: dict[str, Any], name: str) -> None:
    assert fresh_figures[name] >= BASELINE["fresh"]["at_least"][name], fresh_figures


@pytest.mark.parametrize("name", sorted(BASELINE["fresh"]["at_most"]))
def test_fresh_figure_stays_below_its_ceiling(fresh_figures: dict[str, Any], name: str) -> None:
    assert fresh_figures[name] <= BASELINE["fresh"]["at_most"][name], fresh_figures
