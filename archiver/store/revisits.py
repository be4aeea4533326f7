"""What archive and check runs read and save: cited URLs, what is known of each, captures,
checks, texts and link status. ``run/`` gets and gives rows (``archiver.rows``), never SQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from archiver.evidence.find import Evidence
from archiver.linkrot.verdicts import CheckEvent, link_status
from archiver.net.result import CAPTURED
from archiver.rows import TEXT_NOT_EXTRACTED, Known, LastCapture, UrlRows
from archiver.store.evidence_rows import EvidenceRow, for_capture, save_evidence
from archiver.store.paths import archive_folder, stored_warc_path

#: A good capture; the unary plus keeps SQLite on the URL's index, which is always the narrower
#: (an index on ``outcome`` would otherwise be walked through every good capture per URL).
_GOOD = f"+captures.outcome in {CAPTURED}"


def capture_row(db: Database, capture: dict[str, Any]) -> dict[str, Any]:
    """A ``captures`` row as stored: its WARC path made relative to the archive's folder."""
    if capture.get("warc_path") is None:
        return capture
    return capture | {"warc_path": stored_warc_path(archive_folder(db), capture["warc_path"])}


# -- what to fetch, and what is known of it ------------------------------------------------------


def cited_urls(db: Database, article_ids: Iterable[int] | None = None) -> list[str]:
    """Distinct URLs the articles cite (every article when None), in citation order."""
    ids = list(article_ids or [])
    where, params = "url is not null", list[Any]()
    if ids:
        where += f" and article_id in ({', '.join('?' for _ in ids)})"
        params += ids
    sql = f"select url from citations where {where} group by url order by min(id)"
    return [row["url"] for row in db.query(sql, params)]


def last_capture(db: Database, url: str) -> tuple[LastCapture | None, list[Known], bool]:
    """The URL's last good capture, the payloads known of it, and whether validators may be sent.

    ``Known`` lists the capture's payload first (a 304 stands for it), then the last check's
    when that check found the page. A check that answered but could not tell whether the page
    is there (an ``ok`` with a note in ``error``, such as an app shell) did not find the body to
    be the page: it is looked at again, and no validators are sent for it.
    """
    capture = next(
        db.query(
            "select captures.id, captures.etag, captures.last_modified, captures.payload_sha256, "
            "captures.warc_record_id, captures.captured_at, captures.final_url, captures.error, "
            "checks.similarity, checks.drift, checks.error as check_error, "
            "checks.id is not null as by_check from captures "
            "left join checks on checks.capture_id = captures.id "
            f"where captures.url = ? and {_GOOD} order by captures.id desc limit 1",
            [url],
        ),
        None,
    )
    last = next(
        db.query(
            "select outcome, payload_sha256, similarity, drift, error from checks where url = ? "
            "order by checked_at desc, id desc limit 1",
            [url],
        ),
        None,
    )
    has_text = bool(
        db.execute("select 1 from sources where url = ? and text is not null", [url]).fetchone()
    )
    known: list[Known] = []
    found: LastCapture | None = None
    if capture is not None:
        digest = capture["payload_sha256"]
        found = LastCapture(
            id=capture["id"],
            payload_sha256=digest,
            etag=capture["etag"],
            last_modified=capture["last_modified"],
            record_id=capture["warc_record_id"],
            captured_at=capture["captured_at"],
            final_url=capture["final_url"],
            text_missing=(capture["error"] or "").startswith(TEXT_NOT_EXTRACTED),
            cited=has_text,
        )
        if capture["by_check"]:
            ok = capture["check_error"] is None
            known.append(Known(digest, capture["similarity"], capture["drift"], ok))
        elif has_text:  # the archive's own capture: its text is sources.text itself
            known.append(Known(digest, 1.0, "unchanged"))
        else:
            known.append(Known(digest, None, None))
    answered = last is not None and last["outcome"] in CAPTURED
    if last is not None and answered and last["payload_sha256"]:
        ok = last["error"] is None
        known.append(Known(last["payload_sha256"], last["similarity"], last["drift"], ok))
    conditional = last is None or (answered and last["error"] is None)
    return found, known, conditional


def texts_of(db: Database, url: str, capture_id: int | None) -> tuple[str | None, str | None]:
    """The text the claim was archived from (``sources.text``) and the last capture's text."""
    cited = db.execute("select text from sources where url = ?", [url]).fetchone()
    current = None
    if capture_id is not None:
        current = db.execute(
            "select text from capture_texts where capture_id = ?", [capture_id]
        ).fetchone()
    cited_text = cited[0] if cited else None
    return cited_text, current[0] if current else cited_text


# -- saving --------------------------------------------------------------------------------------


def save_url_rows(
    db: Database,
    results: Sequence[UrlRows],
    *,
    now: datetime | None = None,
    min_failures: int = 3,
    min_days: float = 3.0,
) -> None:
    """Write one chunk's captures, checks, texts and each source's state in one transaction.

    A capture with a ``version`` text is a check's: its text goes to ``capture_texts`` and the
    check row points at it. A URL with a check gets its ``link_status`` from its history.
    Rows go in batches: sqlite-utils reads the table schema on every ``insert`` call, which
    cost a tenth of the coordinator's time when rows went in one by one (bench/README.md).

    Args:
        now: the clock; when given, it is also the checks' ``checked_at`` (tests inject days).
        min_failures, min_days: the rule for ``dead`` (``linkrot.verdicts.link_status``).
    """
    checked_at = _iso(now) if now is not None else None
    moment = now or datetime.now(UTC)
    captured = [r for r in results if r.capture is not None]
    with db.atomic():
        capture_ids: dict[str, int] = {}
        if captured:
            db.table("captures").insert_all(
                capture_row(db, r.capture.as_dict()) for r in captured if r.capture is not None
            )
            marks = ", ".join("?" for _ in captured)
            capture_ids = dict(
                db.execute(
                    f"select url, max(id) from captures where url in ({marks}) group by url",
                    [r.url for r in captured],
                ).fetchall()
            )
        versions = [r for r in captured if r.version is not None]
        if versions:
            db.table("capture_texts").insert_all(
                {"capture_id": capture_ids[r.url], "url": r.url, "text": r.version}
                for r in versions
            )
        checks = []
        for r in results:
            if r.check is None:
                continue
            row = r.check.as_dict()
            if r.version is not None:
                row["capture_id"] = capture_ids[r.url]
            if checked_at is not None:
                row["checked_at"] = checked_at
            checks.append(row)
        if checks:
            db.table("checks").insert_all(checks)
        texts = [
            {"url": r.url, "latest_outcome": r.outcome}
            | r.source.as_dict()
            | {"final_url": r.capture.final_url, "last_captured": r.capture.captured_at}
            for r in captured
            if r.source is not None and r.capture is not None
        ]
        with_text = {row["url"] for row in texts}
        statuses = {
            r.url: (
                r.outcome,
                link_status_of(db, r.url, now=moment, min_failures=min_failures, min_days=min_days)
                if r.check is not None
                else None,
                r.check is not None,
            )
            for r in results
            if r.check is not None or r.url not in with_text
        }
        if texts:
            db.table("sources").upsert_all(texts, pk="url")
        _save_statuses(db, statuses)
        # A version's capture: the source was last captured then, its text stays the cited one.
        kept = [r.capture for r in versions if r.capture is not None and r.url not in with_text]
        db.conn.executemany(
            "update sources set last_captured = ? where url = ?",
            [(capture.captured_at, capture.url) for capture in kept],
        )
        db.conn.executemany(
            "update sources set first_captured = ? where url = ? and first_captured is null",
            [
                (r.capture.captured_at, r.url)
                for r in captured
                if r.capture is not None and (r.source is not None or r.version is not None)
            ],
        )
        found: list[tuple[EvidenceRow, Evidence]] = []
        for r in captured:
            found += for_capture(r.url, capture_ids[r.url], r.evidence)
        save_evidence(db, found)


def _save_statuses(db: Database, statuses: dict[str, tuple[str, str | None, bool]]) -> None:
    """Each source's latest outcome (and link status, after a check), rows left alone when
    nothing changed: rewriting a row rewrites its whole text in the search index."""
    if not statuses:
        return
    marks = ", ".join("?" for _ in statuses)
    stored = {
        row[0]
        for row in db.execute(f"select url from sources where url in ({marks})", list(statuses))
    }
    # Homogeneous batches: a row without a status must not blank another's.
    for checked in (True, False):
        new = [
            {"url": url, "latest_outcome": outcome, "link_status": status}
            if checked
            else {"url": url, "latest_outcome": outcome}
            for url, (outcome, status, was_checked) in statuses.items()
            if url not in stored and was_checked is checked
        ]
        if new:
            db.table("sources").upsert_all(new, pk="url")
    db.conn.executemany(
        "update sources set latest_outcome = ?, link_status = ? where url = ? "
        "and (latest_outcome is not ? or link_status is not ?)",
        [
            (outcome, status, url, outcome, status)
            for url, (outcome, status, checked) in statuses.items()
            if url in stored and checked
        ],
    )
    db.conn.executemany(
        "update sources set latest_outcome = ? where url = ? and latest_outcome is not ?",
        [
            (outcome, url, outcome)
            for url, (outcome, _, checked) in statuses.items()
            if url in stored and not checked
        ],
    )


def _iso(moment: datetime) -> str:
    """``2026-11-28T17:46:23Z``, the format of the fetcher's timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def keep_archived_texts(db: Database) -> int:
    """Copy ``sources.text`` into ``capture_texts`` for the archive capture it came from.

    ``archive`` keeps only the latest text, in ``sources``; once a check or a refresh is about to
    add later versions, the archived one must be a row too, so "drifted sources" can show both
    and nothing archived is lost. Idempotent. Returns the number of texts copied.
    """
    with db.atomic():
        cursor = db.execute(
            f"""
            insert or ignore into capture_texts (capture_id, url, text)
            select * from (
                select (
                    select max(captures.id) from captures
                    where captures.url = sources.url and {_GOOD}
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
