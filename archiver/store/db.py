"""The archive's SQLite database: schema, full-text search, and the writes of each stage.

sqlite-utils writes the SQL. The schema is a list of ``Migrations`` steps, so opening a database
made by an older version upgrades it and opening a current one changes nothing. WAL mode lets
Datasette read while an archive run writes; the archiver itself is the only writer.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from archiver.errors import ArchiveBusy, NotAnArchive
from archiver.evidence.find import for_capture, save_evidence
from archiver.ingest.article import Article
from archiver.linkrot.verdicts import CheckEvent, link_status

if TYPE_CHECKING:
    from archiver.run.archive import UrlResult

LOGGER = logging.getLogger(__name__)

DEFAULT_DB = Path("db/citations.db")

migrations = Migrations("citation-archiver")


@migrations()
def m001_initial_schema(db: Database) -> None:
    db.table("articles").create(
        {
            "id": int,
            "source_key": str,
            "url": str,
            "path": str,
            "title": str,
            "author": str,
            "publisher": str,
            "published": str,
            "ingested_at": str,
            "text": str,
        },
        pk="id",
        not_null={"source_key"},
    )
    db.table("articles").create_index(["source_key"], unique=True)
    db.table("citations").create(
        {
            "id": int,
            "article_id": int,
            "position": int,
            "anchor_text": str,
            "href": str,
            "url": str,
            "href_status": str,
            "claim": str,
            "context": str,
            "paragraph": int,
            "start": int,
            "end": int,
        },
        pk="id",
        foreign_keys=[("article_id", "articles", "id")],
        not_null={"article_id", "position"},
    )
    db.table("citations").create_index(["article_id", "position"], unique=True)
    db.table("citations").create_index(["url"])
    db.table("sources").create(
        {
            "url": str,
            "final_url": str,
            "title": str,
            "author": str,
            "published": str,
            "sitename": str,
            "language": str,
            "text": str,
            "first_captured": str,
            "last_captured": str,
            "latest_outcome": str,
            "link_status": str,
        },
        pk="url",
    )
    db.table("captures").create(
        {
            "id": int,
            "url": str,
            "captured_at": str,
            "outcome": str,
            "status_code": int,
            "final_url": str,
            "redirects": str,
            "content_type": str,
            "content_length": int,
            "payload_sha256": str,
            "warc_path": str,
            "warc_offset": int,
            "etag": str,
            "last_modified": str,
            "elapsed_ms": int,
            "error": str,
        },
        pk="id",
    )
    db.table("captures").create_index(["url", "captured_at"])
    db.table("checks").create(
        {
            "id": int,
            "url": str,
            "checked_at": str,
            "outcome": str,
            "status_code": int,
            "final_url": str,
            "similarity": float,
            "drift": str,
            "error": str,
            "elapsed_ms": int,
        },
        pk="id",
    )
    db.table("checks").create_index(["url", "checked_at"])
    db.table("evidence").create(
        {
            "citation_id": int,
            "capture_id": int,
            "passage": str,
            "score": float,
            "label": str,
            "method": str,
        },
        pk=("citation_id", "capture_id"),
        foreign_keys=[("citation_id", "citations", "id"), ("capture_id", "captures", "id")],
    )
    db.table("mementos").create(
        {
            "url": str,
            "memento_url": str,
            "memento_datetime": str,
            "distance_days": float,
            "source": str,
        },
        pk=("url", "memento_url"),
    )
    db.table("citations").enable_fts(
        ["claim", "anchor_text", "context"], create_triggers=True, tokenize="porter"
    )
    db.table("articles").enable_fts(["title", "text"], create_triggers=True, tokenize="porter")
    db.table("sources").enable_fts(["title", "text"], create_triggers=True, tokenize="porter")
    db.create_view(
        "citations_view",
        """
        select
            citations.id,
            articles.title as article,
            citations.article_id,
            citations.position,
            citations.anchor_text,
            citations.claim,
            citations.href,
            citations.url,
            citations.href_status,
            sources.title as source_title,
            sources.latest_outcome,
            sources.link_status,
            articles.published as article_published
        from citations
        join articles on articles.id = citations.article_id
        left join sources on sources.url = citations.url
        order by citations.article_id, citations.position
        """,
    )


@migrations()
def m002_capture_record_id(db: Database) -> None:
    """The WARC-Record-ID of a capture's response, which a later revisit record refers to."""
    db.table("captures").add_column("warc_record_id", str)


@migrations()
def m003_check_link_rot(db: Database) -> None:
    """What ``archiver check`` keeps: each check's payload digest (an unchanged body needs no
    extraction next time), the capture a check made when the text changed, and the text of every
    capture in ``capture_texts`` (``sources.text`` holds one version only)."""
    db.table("checks").add_column("payload_sha256", str)
    db.table("checks").add_column("capture_id", int)
    db.table("checks").create_index(["capture_id"])
    db.table("capture_texts").create(
        {"capture_id": int, "url": str, "text": str},
        pk="capture_id",
        foreign_keys=[("capture_id", "captures", "id")],
    )
    db.table("capture_texts").create_index(["url"])
    # The status columns come after a source's text, so reading them from the row walks the
    # text's overflow pages; this index answers "which links are dead" without touching them.
    db.table("sources").create_index(
        ["url", "latest_outcome", "link_status"], index_name="sources_status"
    )
    # sqlite-utils' FTS trigger re-indexes a source's whole text on ANY update of the row; a
    # check run updates latest_outcome/link_status of every source, so only re-index when the
    # indexed columns are set (2,000 status updates: 2.5 s -> 0.9 s).
    db.execute("drop trigger if exists sources_au")
    db.execute(
        """
        create trigger sources_au after update of title, text on sources begin
          insert into sources_fts (sources_fts, rowid, title, text)
            values('delete', old.rowid, old.title, old.text);
          insert into sources_fts (rowid, title, text) values (new.rowid, new.title, new.text);
        end
        """
    )


@migrations()
def m004_evidence_highlight(db: Database) -> None:
    """Evidence a fact-checker can read at a glance: the facts a passage lacks, the passage and
    the claim with their shared words in <mark> (rendered by datasette-render-html for the
    ``evidence`` table and ``evidence_view`` only), and a view of each citation's latest one.

    The table is rebuilt so that its rows go with their citation (``on delete cascade``):
    ``save_article`` deletes the citations an edited article no longer has, which the plain
    foreign key refused once evidence pointed at them. sqlite-utils cannot declare a cascade.
    """
    db.execute(
        """
        create table evidence_new (
            citation_id integer references citations(id) on delete cascade,
            capture_id integer references captures(id),
            passage text,
            score float,
            label text,
            method text,
            missing text,
            passage_html text,
            claim_html text,
            primary key (citation_id, capture_id)
        )
        """
    )
    db.execute(
        "insert into evidence_new (citation_id, capture_id, passage, score, label, method) "
        "select citation_id, capture_id, passage, score, label, method from evidence"
    )
    db.execute("drop table evidence")
    db.execute("alter table evidence_new rename to evidence")
    db.create_view(
        "evidence_view",
        """
        select
            citations.id as citation_id,
            articles.title as article,
            citations.position,
            citations.anchor_text,
            evidence.claim_html as claim,
            evidence.label,
            evidence.score,
            evidence.missing,
            evidence.passage_html as passage,
            citations.url,
            evidence.capture_id,
            evidence.method
        from evidence
        join citations on citations.id = evidence.citation_id
        join articles on articles.id = citations.article_id
        where evidence.rowid = (
            select latest.rowid from evidence as latest
            where latest.citation_id = evidence.citation_id
            order by latest.capture_id desc limit 1
        )
        order by citations.article_id, citations.position
        """,
    )


@migrations()
def m005_skipped_links(db: Database) -> None:
    """The article's links that are not citations, each with the reason, so that none is
    left out unseen (issue 10); ``save_article`` rewrites an article's rows on every run."""
    db.table("skipped_links").create(
        {
            "article_id": int,
            "position": int,
            "paragraph": int,
            "anchor_text": str,
            "href": str,
            "reason": str,
            "sentence": str,
        },
        pk=("article_id", "position"),
        foreign_keys=[("article_id", "articles", "id")],
    )


@migrations()
def m006_warc_paths_relative_to_archive(db: Database) -> None:
    """Captures point at their WARC file from the archive's folder (issue 10).

    Older runs stored the path relative to the folder they were started from, which is not
    recorded; each such path is read from the current folder, and one whose file is not there
    (nor already under the archive's folder) is left as it was and logged, since a guess could
    point a capture at the wrong file.
    """
    folder = archive_folder(db)
    stored: dict[str, str | None] = {}
    updates: list[tuple[str, int]] = []
    for capture_id, path in db.execute(
        "select id, warc_path from captures where warc_path is not null"
    ).fetchall():
        if path not in stored:
            stored[path] = _migrated_warc_path(folder, path)
        if stored[path] not in (None, path):
            updates.append((str(stored[path]), capture_id))
    db.conn.executemany("update captures set warc_path = ? where id = ?", updates)


def _migrated_warc_path(folder: Path, path: str) -> str | None:
    """``path`` as m006 stores it; None when its file cannot be found."""
    if Path(path).is_absolute() or Path(path).exists():
        return stored_warc_path(folder, path)
    if not (folder / path).exists():
        LOGGER.warning(
            "WARC file %s not found from %s: captures keep the old path", path, Path.cwd()
        )
        return None
    return path  # already relative to the archive's folder


@migrations()
def m007_published_from(db: Database) -> None:
    """Where each publication date was read (issue 10): a date guessed from the text used to
    pick the wrong web-archive snapshot, so only stated dates are kept, with their origin."""
    db.table("sources").add_column("published_from", str)
    db.table("articles").add_column("published_from", str)


@migrations()
def m008_evidence_at_cited_time(db: Database) -> None:
    """``evidence_view`` shows what the source said when it was cited, and the newest label
    beside it (issue 10): the newest capture of a drifted page said ``not_found`` for a claim
    the capture made at archive time supported."""
    db.create_view("evidence_view", EVIDENCE_VIEW, replace=True)


#: Each citation's evidence from the capture nearest the article's date (its ``published`` date,
#: else when it was ingested): the latest capture at or before it, else the earliest after.
#: The date is compared at its own precision, so a capture made on a date-only publication day
#: counts as made at it. Every lookup goes through the evidence primary key and captures' rowid.
EVIDENCE_VIEW = """
select
    citations.id as citation_id,
    articles.title as article,
    citations.position,
    citations.anchor_text,
    evidence.claim_html as claim,
    evidence.label,
    evidence.score,
    evidence.missing,
    evidence.passage_html as passage,
    citations.url,
    evidence.capture_id,
    captures.captured_at,
    latest.label as latest_label,
    latest.capture_id as latest_capture_id,
    evidence.method
from citations
join articles on articles.id = citations.article_id
join evidence on evidence.citation_id = citations.id and evidence.capture_id is coalesce(
    (
        select cited.capture_id from evidence as cited
        join captures as taken on taken.id = cited.capture_id
        where cited.citation_id = citations.id and substr(taken.captured_at, 1, length(
            coalesce(articles.published, substr(articles.ingested_at, 1, 19))
        )) <= coalesce(articles.published, substr(articles.ingested_at, 1, 19))
        order by taken.captured_at desc, taken.id desc limit 1
    ),
    (
        select cited.capture_id from evidence as cited
        join captures as taken on taken.id = cited.capture_id
        where cited.citation_id = citations.id
        order by taken.captured_at, taken.id limit 1
    )
)
join evidence as latest on latest.citation_id = citations.id and latest.capture_id is (
    select max(newest.capture_id) from evidence as newest
    where newest.citation_id = citations.id
)
left join captures on captures.id = evidence.capture_id
order by citations.article_id, citations.position
"""


@contextmanager
def write_lock(path: Path | str) -> Iterator[None]:
    """Hold the archive's write lock (``<db>.lock``) for the duration of the block.

    Two runs writing one archive at once (an overlapping cron job) would interleave their
    transactions until SQLite answers "database is locked" mid-run; the second run is refused
    up front instead. The lock goes with the process, even after ``kill -9``.

    Raises:
        ArchiveBusy: another run holds it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArchiveBusy(
                f"{path} is being written by another archiver run; try again when it has finished"
            ) from None
        yield


def open_db(path: Path | str = DEFAULT_DB) -> Database:
    """Open (creating if needed) the archive at ``path``, in WAL mode, schema up to date."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(path)
    try:
        db.enable_wal()
        db.execute("PRAGMA foreign_keys = ON")
        migrations.apply(db)
    except sqlite3.DatabaseError as error:  # another kind of file given as --db
        db.close()
        raise NotAnArchive(f"{path} is not an archive (SQLite says: {error})") from None
    return db


def archive_folder(db: Database) -> Path:
    """The folder of the database file, which ``captures.warc_path`` is relative to (the working
    directory for an in-memory database)."""
    filename = db.execute("pragma database_list").fetchone()[2]
    return Path(filename).parent if filename else Path.cwd()


def stored_warc_path(folder: Path, path: str | Path) -> str:
    """``path`` (absolute, or relative to the working directory) as ``captures.warc_path`` keeps
    it: relative to the archive's ``folder`` when inside it, so the archive can be moved or read
    from anywhere; absolute otherwise. Compared as written, then with symlinks resolved
    (SQLite names the database by its resolved path)."""
    absolute = Path(os.path.abspath(path))
    for base, target in (
        (Path(os.path.abspath(folder)), absolute),
        (folder.resolve(), absolute.resolve()),
    ):
        if target.is_relative_to(base):
            return target.relative_to(base).as_posix()
    return str(absolute)


def warc_file(db: Database, warc_path: str) -> Path:
    """The WARC file a ``captures.warc_path`` of this archive names: every reader goes through
    here, since the stored path is relative to the archive's folder, not the working one."""
    return archive_folder(db) / warc_path


def capture_row(db: Database, capture: dict[str, Any]) -> dict[str, Any]:
    """A ``captures`` row as stored: its WARC path made relative to the archive's folder."""
    if capture.get("warc_path") is None:
        return capture
    return capture | {"warc_path": stored_warc_path(archive_folder(db), capture["warc_path"])}


@dataclass(frozen=True)
class SavedArticle:
    """What ``save_article`` did, for the run summary."""

    article_id: int
    created: bool
    citations: int
    unresolved: int
    urls: int  # distinct resolved URLs


def save_article(db: Database, article: Article) -> SavedArticle:
    """Insert or update an article and its citations in one transaction.

    An article is identified by its ``source_key``; a citation by (article, position). A rerun
    keeps the ids, so evidence and checks attached to them stay attached, and deletes citations
    the article no longer has. Its skipped links, which nothing refers to, are replaced.
    """
    articles, citations = db.table("articles"), db.table("citations")
    with db.atomic():
        existing = next(articles.rows_where("source_key = ?", [article.source_key]), None)
        if existing is None:
            article_id = int(articles.insert(article.as_row()).last_pk or 0)
        else:
            article_id = int(existing["id"])
            articles.update(article_id, article.as_row())
        known = {
            row["position"]: row["id"]
            for row in citations.rows_where("article_id = ?", [article_id], select="id, position")
        }
        rows = [{"article_id": article_id, **c.as_dict()} for c in article.citations]
        # In two batches (sqlite-utils reads the schema at every call): new positions, and the
        # kept ones by id, every given column rewritten.
        citations.insert_all(row for row in rows if row["position"] not in known)
        citations.upsert_all(
            ({"id": known[row["position"]], **row} for row in rows if row["position"] in known),
            pk="id",
        )
        db.execute(
            "delete from citations where article_id = ? and position > ?",
            [article_id, len(article.citations)],
        )
        db.execute("delete from skipped_links where article_id = ?", [article_id])
        db.table("skipped_links").insert_all(
            {"article_id": article_id, **link.as_dict()} for link in article.skipped
        )
    return SavedArticle(
        article_id=article_id,
        created=existing is None,
        citations=len(article.citations),
        unresolved=article.unresolved,
        urls=len({c.url for c in article.citations if c.url}),
    )


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
