"""What ``archiver resolve`` reads and writes: an article's citations, its ``resolutions`` rows
and the URLs they fill (issue 13).

A citation's URL comes from the article itself when it has one; when its href was lost, from the
best of its resolutions (``schema.resolved_url``: a person's map first, then the most confident
match). Every decision is kept, the ones that lost too, so a person can see why a URL was chosen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from archiver.ingest.claims import Citation
from archiver.ingest.urls import normalise_url
from archiver.recover.resolve import Match
from archiver.store.schema import resolved_url

CITATION_COLUMNS = ", ".join(
    f'"{name}"'
    for name in (
        "position",
        "anchor_text",
        "href",
        "url",
        "href_status",
        "claim",
        "context",
        "paragraph",
        "start",
        "end",
    )
)


@dataclass(frozen=True)
class Resolution:
    """What became of one match: ``status`` is "filled" (the citation's URL changed to it),
    "unchanged" (it had that URL already), "outranked" (a map, or a surer match, gives another),
    "own_url" (the article gives its own URL, which is kept) or "unmatched" (no URL)."""

    match: Match
    anchor_text: str
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.match.position,
            "anchor_text": self.anchor_text,
            "url": self.match.url,
            "confidence": self.match.confidence,
            "method": self.match.method,
            "source": self.match.source,
            "status": self.status,
        }


def find_article(db: Database, reference: str) -> dict[str, Any] | None:
    """The ``articles`` row named by its id, or by the SOURCE it was archived from (a URL or a
    file path, keyed as ``load_article`` keys them); None when the archive has no such article."""
    if reference.isdigit():
        row = next(db["articles"].rows_where("id = ?", [int(reference)]), None)
        if row is not None:
            return row
    if "://" in reference:
        url = normalise_url(reference) or reference
        keys, urls = [url, reference], [url, reference]
    else:
        keys, urls = [f"file:{Path(reference).expanduser().resolve()}"], []
    for column, values in (("source_key", keys), ("url", urls)):
        for value in values:
            row = next(db["articles"].rows_where(f"{column} = ?", [value]), None)
            if row is not None:
                return row
    return None


def article_citations(db: Database, article_id: int) -> list[Citation]:
    """An article's citations as stored, in order (``url`` as it is now)."""
    return [
        Citation(**row)
        for row in db.query(
            f"select {CITATION_COLUMNS} from citations where article_id = ? order by position",
            [article_id],
        )
    ]


def _resolvable(db: Database, article_id: int) -> set[int]:
    """Positions whose URL is not the article's own: none yet, or one a resolution gave."""
    return {
        row["position"]
        for row in db.query(
            "select position from citations where article_id = ? and (url is null or url in ("
            "select url from resolutions where resolutions.article_id = citations.article_id "
            "and resolutions.position = citations.position))",
            [article_id],
        )
    }


def _urls(db: Database, article_id: int) -> dict[int, str | None]:
    return {
        row["position"]: row["url"]
        for row in db.query(
            "select position, url from citations where article_id = ?", [article_id]
        )
    }


def save_resolutions(
    db: Database, article_id: int, matches: Iterable[Match], *, now: str | None = None
) -> list[Resolution]:
    """Record each match and fill the URLs of the citations whose href was lost, in one
    transaction.

    A rerun with the same source updates its rows (one per citation and source), so nothing is
    recorded twice. A citation the article gives its own URL keeps it, and a URL set by a map
    stays unless another map replaces it.

    Args:
        db: the archive.
        article_id: the article the matches' positions refer to.
        matches: from ``align``, ``from_copy`` or ``from_map``.
        now: when, ISO 8601 (default: now, UTC).

    Returns:
        One ``Resolution`` per match, in the given order.
    """
    resolved_at = now or datetime.now(UTC).isoformat(timespec="seconds")
    matches = list(matches)
    with db.atomic():
        anchors = {c.position: c.anchor_text for c in article_citations(db, article_id)}
        resolvable = _resolvable(db, article_id)
        before = _urls(db, article_id)
        db.table("resolutions").upsert_all(
            (
                {
                    "article_id": article_id,
                    "anchor_text": anchors[match.position],
                    **match.as_dict(),
                    "resolved_at": resolved_at,
                }
                for match in matches
            ),
            pk=("article_id", "position", "source"),
        )
        if resolvable:
            marks = ", ".join("?" for _ in resolvable)
            db.execute(
                f"update citations set url = {resolved_url('citations')} "
                f"where article_id = ? and position in ({marks}) "
                f"and {resolved_url('citations')} is not null",
                [article_id, *sorted(resolvable)],
            )
        after = _urls(db, article_id)
    return [
        Resolution(match, anchors[match.position], _status(match, resolvable, before, after))
        for match in matches
    ]


def _status(
    match: Match,
    resolvable: set[int],
    before: dict[int, str | None],
    after: dict[int, str | None],
) -> str:
    position = match.position
    if match.url is None:
        return "unmatched"
    if position not in resolvable:
        return "own_url"
    if after[position] != match.url:
        return "outranked"
    return "unchanged" if before[position] == match.url else "filled"
