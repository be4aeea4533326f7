"""What archive and check runs save and read back: captures, checks, texts, link status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from archiver.evidence.find import for_capture, save_evidence
from archiver.linkrot.verdicts import CheckEvent, link_status
from archiver.store.paths import archive_folder, stored_warc_path

if TYPE_CHECKING:
    from archiver.run.archive import UrlResult


def capture_row(db: Database, capture: dict[str, Any]) -> dict[str, Any]:
    """A ``captures`` row as stored: its WARC path made relative to the archive's folder."""
    if capture.get("warc_path") is None:
        return capture
    return capture | {"warc_path": stored_warc_path(archive_folder(db), capture["warc_path"])}


def save_results(db: Database, results: list[UrlResult]) -> None:
    """Write one chunk's captures, checks and source texts in one transaction.

    Rows go in batches: sqlite-utils reads the table schema on every ``insert`` call, which
    cost a tenth of the coordinator's time when rows went in one by one (bench/README.md).
    """
    captures = [capture_row(db, r.capture) for r in results if r.capture is not None]
    checks = [r.check for r in results if r.check is not None]
    texts = [
        {"url": r.url, "latest_outcome": r.outcome}
        | r.extracted
        | {"final_url": r.capture["final_url"], "last_captured": r.capture["captured_at"]}
        for r in results
        if r.capture is not None and r.extracted is not None
    ]
    with_text = {row["url"] for row in texts}
    outcomes = [
        {"url": r.url, "latest_outcome": r.outcome}
        for r in results
        if r.url not in with_text and r.check is None
    ]
    with db.atomic():
        if captures:
            db.table("captures").insert_all(captures)
        if checks:
            db.table("checks").insert_all(checks)
        # A refresh's check row is history, so the link status follows it.
        statuses = [
            {"url": r.url, "latest_outcome": r.outcome, "link_status": link_status_of(db, r.url)}
            for r in results
            if r.check is not None
        ]
        # Homogeneous batches: a failed fetch must not blank the text of an earlier capture, nor
        # a row without a status blank another's.
        for rows in (texts, outcomes, statuses):
            if rows:
                db.table("sources").upsert_all(rows, pk="url")
        db.conn.executemany(
            "update sources set first_captured = ? where url = ? and first_captured is null",
            [(row["last_captured"], row["url"]) for row in texts],
        )
        _save_found_evidence(db, [r for r in results if r.capture is not None and r.evidence])


def _save_found_evidence(db: Database, results: list[UrlResult]) -> None:
    """The evidence the workers found, tied to the captures just written (one per URL)."""
    if not results:
        return
    marks = ", ".join("?" for _ in results)
    capture_ids = dict(
        db.execute(
            f"select url, max(id) from captures where url in ({marks}) group by url",
            [r.url for r in results],
        ).fetchall()
    )
    save_evidence(
        db,
        [row for r in results for row in for_capture(r.url, capture_ids[r.url], r.evidence or ())],
    )


def keep_archived_texts(db: Database) -> int:
    """Copy ``sources.text`` into ``capture_texts`` for the archive capture it came from.

    ``archive`` keeps only the latest text, in ``sources``; once a check or a refresh is about to
    add later versions, the archived one must be a row too, so "drifted sources" can show both
    and nothing archived is lost. Idempotent. Returns the number of texts copied.
    """
    with db.atomic():
        cursor = db.execute(
            """
            insert or ignore into capture_texts (capture_id, url, text)
            select * from (
                select (
                    select max(captures.id) from captures
                    where captures.url = sources.url and captures.outcome in ('ok', 'redirected')
                    and captures.id not in (
                        select capture_id from checks where capture_id is not null
                    )
                ) as capture_id, url, text
                from sources where text is not null
            ) where capture_id is not null
            """
        )
    return int(cursor.rowcount or 0)


#: How many of a URL's latest checks ``link_status_of`` reads.
HISTORY_LIMIT = 500


def link_status_of(
    db: Database,
    url: str,
    *,
    now: datetime | None = None,
    min_failures: int = 3,
    min_days: float = 3.0,
) -> str | None:
    """The source's ``link_status`` from its latest checks (``rot.link_status`` says how)."""
    history = [
        CheckEvent(_parse_time(row["checked_at"]), row["outcome"], row["drift"], row["id"])
        for row in db.query(
            "select id, checked_at, outcome, drift from checks where url = ? "
            "order by checked_at desc, id desc limit ?",
            [url, HISTORY_LIMIT],
        )
    ]
    return link_status(
        history, now=now or datetime.now(UTC), min_failures=min_failures, min_days=min_days
    )


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
