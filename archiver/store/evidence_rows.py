"""Evidence in the archive: the claims to find it for, the texts to find it in, and its rows.

``archiver.evidence`` finds and judges passages without a database; archive, check and
annotate runs read their input and save what it found through this module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from archiver.evidence.find import CitedClaim, Evidence
from archiver.net.result import CAPTURED

__all__ = [
    "EvidenceRow",
    "capture_text",
    "citations_to_annotate",
    "claims_citing",
    "evidence_labels",
    "for_capture",
    "save_evidence",
]

#: URLs per ``in (...)`` list: SQLite caps the variables of one statement.
URLS_PER_QUERY = 500

#: A citation as ``save_evidence`` ties it to a capture: its ``id``, ``capture_id`` and ``url``.
EvidenceRow = dict[str, Any]


def claims_citing(db: Database, urls: Iterable[str]) -> dict[str, list[CitedClaim]]:
    """The claims of every citation of these URLs (any article's), in citation order."""
    wanted = list(dict.fromkeys(urls))
    found: dict[str, list[CitedClaim]] = defaultdict(list)
    for i in range(0, len(wanted), URLS_PER_QUERY):
        part = wanted[i : i + URLS_PER_QUERY]
        for row in db.query(
            "select id, url, claim, anchor_text, context from citations "
            f"where url in ({', '.join('?' for _ in part)}) order by id",
            part,
        ):
            found[row["url"]].append(
                CitedClaim(row["id"], row["claim"], row["anchor_text"], row["context"])
            )
    return found


def _selection(
    citation_ids: Iterable[int] | None,
    urls: Iterable[str] | None,
    article_ids: Iterable[int] | None,
) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, values in (("id", citation_ids), ("url", urls), ("article_id", article_ids)):
        if values is not None:
            chosen = list(values)
            clauses.append(f"c.{column} in ({', '.join('?' for _ in chosen)})")
            params += chosen
    return (" where " + " and ".join(clauses)) if clauses else "", params


def citations_to_annotate(
    db: Database,
    *,
    citation_ids: Iterable[int] | None = None,
    urls: Iterable[str] | None = None,
    article_ids: Iterable[int] | None = None,
    missing_only: bool = False,
) -> list[dict[str, Any]]:
    """Citations with the latest good capture of their URL, grouped by URL (unresolved last).

    Args:
        db: the archive.
        citation_ids, urls, article_ids: only these citations (all given filters apply);
            every citation when all are None.
        missing_only: only citations without evidence for that capture yet.

    Returns:
        Rows of ``id``, ``claim``, ``anchor_text``, ``context``, ``url`` and ``capture_id``
        (None when the URL has no good capture).
    """
    where, params = _selection(citation_ids, urls, article_ids)
    latest = f"(select max(k.id) from captures k where k.url = c.url and k.outcome in {CAPTURED})"
    if missing_only:
        where += " and " if where else " where "
        where += (
            f"not exists (select 1 from evidence e where e.citation_id = c.id "
            f"and e.capture_id is {latest})"
        )
    return list(
        db.query(
            f"select c.id, c.claim, c.anchor_text, c.context, c.url, {latest} as capture_id "
            f"from citations c{where} order by c.url is null, c.url, c.id",
            params,
        )
    )


def capture_text(db: Database, url: str, capture_id: int | None) -> str | None:
    """The capture's own text when it is kept, else the source's text; None without a capture."""
    if capture_id is None:
        return None
    text = None
    if db["capture_texts"].exists():
        row = next(
            db.query("select text from capture_texts where capture_id = ?", [capture_id]), None
        )
        text = row["text"] if row else None
    if text is None:
        row = next(db.query("select text from sources where url = ?", [url]), None)
        text = row["text"] if row else None
    return text


def evidence_labels(db: Database, *, article_ids: Iterable[int]) -> dict[str, int]:
    """Citations of the articles per label of their latest evidence (labels with none left out)."""
    ids = list(article_ids)
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    return {
        row["label"]: row["n"]
        for row in db.query(
            "select label, count(*) as n from evidence_view "
            f"where citation_id in (select id from citations where article_id in ({marks})) "
            "group by label",
            ids,
        )
    }


def for_capture(
    url: str, capture_id: int | None, found: Iterable[tuple[int, Evidence]]
) -> list[tuple[EvidenceRow, Evidence]]:
    """Evidence a worker found (``evidence_for``), shaped for ``save_evidence``."""
    return [
        ({"id": citation_id, "capture_id": capture_id, "url": url}, evidence)
        for citation_id, evidence in found
    ]


def save_evidence(db: Database, batch: list[tuple[EvidenceRow, Evidence]]) -> None:
    """Replace each citation's row for its capture, and drop rows that no longer apply.

    SQLite lets a primary-key column hold NULL (and NULLs never collide), so the row of a
    citation without a capture is deleted and inserted rather than upserted. Rows of captures
    of another URL (the citation's link was changed) are dropped too.
    """
    if not batch:
        return
    with db.atomic():
        db.conn.executemany(
            "delete from evidence where citation_id = ? and (capture_id is null "
            "or capture_id = ? or capture_id not in (select id from captures where url = ?))",
            [(row["id"], row["capture_id"], row["url"]) for row, _ in batch],
        )
        db.table("evidence").insert_all(
            {"citation_id": row["id"], "capture_id": row["capture_id"], **evidence.as_dict()}
            for row, evidence in batch
        )
