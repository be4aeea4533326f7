"""Annotating an archive: evidence for its stored citations, against their latest captures.

``archiver annotate`` and the end of ``archiver archive`` run this; the store reads the
citations and texts and saves the rows, ``archiver.evidence`` finds and judges the passages.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from archiver.evidence.find import LABELS, CitedClaim, Evidence, evidence_for
from archiver.store import capture_text, citations_to_annotate, evidence_labels, save_evidence

LOGGER = logging.getLogger(__name__)

__all__ = ["AnnotateStats", "annotate", "label_counts"]

#: Citations written per transaction.
BATCH_SIZE = 500


@dataclass
class AnnotateStats:
    """What ``annotate`` did, for the CLI's summary."""

    citations: int = 0
    sources: int = 0
    labels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "citations": self.citations,
            "sources": self.sources,
            "labels": dict(self.labels),
            "seconds": round(self.seconds, 3),
        }


def annotate(
    db: Database,
    *,
    citation_ids: Iterable[int] | None = None,
    urls: Iterable[str] | None = None,
    article_ids: Iterable[int] | None = None,
    missing_only: bool = False,
    on_progress: Callable[[AnnotateStats], None] | None = None,
) -> AnnotateStats:
    """Compute and store the evidence of citations, against the latest good capture of each.

    Each source is split once for all its citations. A citation gets one row per capture
    (older captures keep theirs, as a history); a citation without a captured text gets one
    ``unavailable`` row, with no capture when there is none. Rerunning replaces, never adds.

    Args:
        db: the archive.
        citation_ids, urls, article_ids: only these citations (all given filters apply);
            every citation when all are None.
        missing_only: skip citations that already have evidence for their latest capture
            (an archive run annotates each chunk as it lands, then fills in the rest).
        on_progress: called after each batch is written.

    Returns:
        Counts by label.
    """
    started = time.perf_counter()
    rows = citations_to_annotate(
        db,
        citation_ids=citation_ids,
        urls=urls,
        article_ids=article_ids,
        missing_only=missing_only,
    )
    stats = AnnotateStats()
    batch: list[tuple[dict[str, Any], Evidence]] = []
    for url, group in itertools.groupby(rows, key=lambda row: row["url"]):
        cited = list(group)
        text = None
        if url is not None:
            text = capture_text(db, url, cited[0]["capture_id"])
            stats.sources += 1
        claims = [CitedClaim(r["id"], r["claim"], r["anchor_text"], r["context"]) for r in cited]
        for row, (_, evidence) in zip(cited, evidence_for(text, claims), strict=True):
            batch.append((row, evidence))
            stats.citations += 1
            stats.labels[evidence.label] += 1
        if len(batch) >= BATCH_SIZE:
            save_evidence(db, batch)
            batch.clear()
            if on_progress is not None:
                on_progress(stats)
    save_evidence(db, batch)
    stats.seconds = time.perf_counter() - started
    LOGGER.info("evidence for %d citations of %d sources", stats.citations, stats.sources)
    return stats


def label_counts(db: Database, *, article_ids: Iterable[int]) -> AnnotateStats:
    """The labels of the articles' citations now (each citation's latest evidence)."""
    stats = AnnotateStats()
    for label, n in evidence_labels(db, article_ids=article_ids).items():
        stats.labels[label] = n
        stats.citations += n
    return stats
