"""The archive's schema as ``Migrations`` steps: opening an older archive upgrades it, and
opening a current one changes nothing."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from archiver.store.paths import archive_folder, stored_warc_path

LOGGER = logging.getLogger(__name__)

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
    # indexed columns are set.
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


def resolved_url(row: str) -> str:
    """SQL for the URL the resolutions give the citation ``row`` (a table name or ``new``).

    A person's ``--map`` wins, then the most confident match, then the latest; a resolution
    counts only while the citation at its position still has the anchor text it was made for
    (an edited article can move its links). Null when none gives a URL.
    """
    return f"""(
        select chosen.url from resolutions as chosen
        where chosen.article_id = {row}.article_id and chosen.position = {row}.position
          and chosen.anchor_text = {row}.anchor_text and chosen.url is not null
        order by chosen.source like 'map:%' desc, chosen.confidence desc, chosen.resolved_at desc
        limit 1
    )"""


@migrations()
def m009_resolutions(db: Database) -> None:
    """Every decision ``archiver resolve`` made on a citation whose href was lost (issue 13):
    one row per citation and source (``from:<copy>``, ``find:<memento>``, ``map:<csv>``).

    Archiving the article again rewrites its citations from the article itself, where these
    URLs are missing; the triggers give such a citation its resolved URL back, whatever wrote
    the null, so a rerun of ``archive`` fetches the resolved pages instead of losing them.
    """
    db.table("resolutions").create(
        {
            "article_id": int,
            "position": int,
            "anchor_text": str,
            "url": str,
            "source": str,
            "confidence": float,
            "method": str,
            "resolved_at": str,
        },
        pk=("article_id", "position", "source"),
        foreign_keys=[("article_id", "articles", "id")],
    )
    for event in ("insert", "update of url"):
        name = event.split()[0]
        db.execute(
            f"""
            create trigger citations_keep_resolved_url_{name} after {event} on citations
            when new.url is null and {resolved_url("new")} is not null
            begin
              update citations set url = {resolved_url("new")} where id = new.id;
            end
            """
        )


#: The date a citing article is read at, for the snapshot and the local capture nearest it: its
#: publication date, else the day it was ingested (a ``mementos`` row is keyed by it).
ARTICLE_DATE = "coalesce(substr(articles.published, 1, 10), substr(articles.ingested_at, 1, 10))"

#: ``citations_view`` with what recovers a link (issue 13): the local capture nearest the
#: article's date (the latest good one on or before it, else the earliest after, as for evidence)
#: and the web-archive snapshot nearest it, from ``mementos``.
CITATIONS_VIEW = f"""
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
    articles.published as article_published,
    {ARTICLE_DATE} as article_date,
    local.id as capture_id,
    local.captured_at,
    mementos.status as memento_status,
    mementos.memento_url,
    mementos.memento_datetime,
    mementos.distance_days as memento_distance_days
from citations
join articles on articles.id = citations.article_id
left join sources on sources.url = citations.url
left join captures as local on local.id = coalesce(
    (
        select taken.id from captures as taken
        where taken.url = citations.url and taken.outcome in ('ok', 'redirected')
          and substr(taken.captured_at, 1, 10) <= {ARTICLE_DATE}
        order by taken.captured_at desc, taken.id desc limit 1
    ),
    (
        select taken.id from captures as taken
        where taken.url = citations.url and taken.outcome in ('ok', 'redirected')
        order by taken.captured_at, taken.id limit 1
    )
)
left join mementos on mementos.url = citations.url and mementos.article_date = {ARTICLE_DATE}
order by citations.article_id, citations.position
"""


@migrations()
def m010_memento_lookups(db: Database) -> None:
    """``mementos`` filled by ``archiver mementos`` (issue 13): one row per cited URL and
    article date, the lookup's outcome kept too (``found``, ``none``, ``not_looked_up`` when the
    web archive could not be reached, so the next run asks again), and ``citations_view`` shows
    the local capture and the snapshot nearest the article's date.

    The table is rebuilt for its new key (sqlite-utils cannot change a primary key in place).
    It was reserved and no command wrote it; a row someone put there keeps its snapshot, its
    article date worked back from the snapshot's distance to it.
    """
    db.execute(
        """
        create table mementos_new (
            url text not null,
            article_date text not null,
            status text not null,
            memento_url text,
            memento_datetime text,
            distance_days float,
            source text,
            looked_up_at text,
            error text,
            primary key (url, article_date)
        )
        """
    )
    db.execute(
        "insert or replace into mementos_new "
        "(url, article_date, status, memento_url, memento_datetime, distance_days, source) "
        "select url, date(julianday(memento_datetime) - coalesce(distance_days, 0)), 'found', "
        "memento_url, memento_datetime, distance_days, source from mementos "
        "where memento_datetime is not null"
    )
    db.execute("drop table mementos")
    db.execute("alter table mementos_new rename to mementos")
    db.create_view("citations_view", CITATIONS_VIEW, replace=True)


# -- issue 14: what the views computed per row, stored ---------------------------------------------

#: The good local capture nearest the article's date of the citation ``citations`` (joined to
#: its ``articles`` row), as m010's ``citations_view`` chose it.
NEAREST_CAPTURE = f"""coalesce(
    (
        select taken.id from captures as taken
        where taken.url = citations.url and taken.outcome in ('ok', 'redirected')
          and substr(taken.captured_at, 1, 10) <= {ARTICLE_DATE}
        order by taken.captured_at desc, taken.id desc limit 1
    ),
    (
        select taken.id from captures as taken
        where taken.url = citations.url and taken.outcome in ('ok', 'redirected')
        order by taken.captured_at, taken.id limit 1
    )
)"""

#: The date evidence is judged at: the article's publication date at its own precision, else
#: when it was ingested (m008's ``evidence_view``).
EVIDENCE_DATE = "coalesce(articles.published, substr(articles.ingested_at, 1, 19))"

#: The capture of the citation's evidence nearest the article's date, as m008's
#: ``evidence_view`` chose it: null when its only evidence has no capture.
JUDGED_CAPTURE = f"""coalesce(
    (
        select cited.capture_id from evidence as cited
        join captures as taken on taken.id = cited.capture_id
        where cited.citation_id = citations.id
          and substr(taken.captured_at, 1, length({EVIDENCE_DATE})) <= {EVIDENCE_DATE}
        order by taken.captured_at desc, taken.id desc limit 1
    ),
    (
        select cited.capture_id from evidence as cited
        join captures as taken on taken.id = cited.capture_id
        where cited.citation_id = citations.id
        order by taken.captured_at, taken.id limit 1
    )
)"""


def judged_labels(where: str) -> list[str]:
    """SQL that copies the labels and score of the ``judged_evidence`` rows ``where`` selects
    from their evidence: one lookup when the judged evidence is the newest."""
    row = "evidence.citation_id = judged_evidence.citation_id and evidence.capture_id is"
    return [
        f"""
        update judged_evidence set (label, score, latest_label) = (
          select label, score, label from evidence where {row} judged_evidence.capture_id
        ) where ({where}) and capture_id is latest_capture_id
        """,
        f"""
        update judged_evidence set
          (label, score) = (
            select label, score from evidence where {row} judged_evidence.capture_id
          ),
          latest_label = (
            select label from evidence where {row} judged_evidence.latest_capture_id
          )
        where ({where}) and capture_id is not latest_capture_id
        """,
    ]


def refresh_nearest(captures: str | None, judged: str | None) -> str:
    """SQL statements, for a trigger body, that recompute the ``nearest_captures`` rows of the
    citations ``captures`` lists and the ``judged_evidence`` rows of those ``judged`` lists
    (what goes in ``citations.id in (...)``: ids, or a select of them; None: none). One id is
    an equality to SQLite, where a select is a list it builds."""
    statements = []
    # Deleted, then inserted: in a trigger, "insert or replace" takes the conflict policy of
    # the statement that fired it (sqlite-utils' upsert: abort).
    if captures is not None:
        statements += [
            f"delete from nearest_captures where citation_id in ({captures})",
            f"""insert into nearest_captures (citation_id, capture_id)
            select citations.id, {NEAREST_CAPTURE}
            from citations join articles on articles.id = citations.article_id
            where citations.id in ({captures}) and citations.url is not null""",
        ]
    if judged is not None:
        statements += [
            f"delete from judged_evidence where citation_id in ({judged})",
            f"""insert into judged_evidence (citation_id, capture_id, latest_capture_id)
            select citations.id, {JUDGED_CAPTURE}, (
              select max(newest.capture_id) from evidence as newest
              where newest.citation_id = citations.id
            )
            from citations join articles on articles.id = citations.article_id
            where citations.id in ({judged})
              and exists (select 1 from evidence where evidence.citation_id = citations.id)""",
            *judged_labels(f"citation_id in ({judged})"),
        ]
    return "".join(f"{statement};" for statement in statements)


#: ``refresh_nearest`` for every citation at once, faster: most URLs have one good capture,
#: most citations one evidence row, and then that is the nearest, with no date to compare.
BACKFILL_NEAREST = [
    f"""
    insert into nearest_captures (citation_id, capture_id)
    select citations.id,
        case when good.n = 1 then good.id when good.n > 1 then {NEAREST_CAPTURE} end
    from citations join articles on articles.id = citations.article_id
    left join (
        select url, count(*) as n, min(id) as id from captures
        where outcome in ('ok', 'redirected') group by url
    ) as good on good.url = citations.url
    where citations.url is not null
    """,
    f"""
    insert into judged_evidence (citation_id, capture_id, latest_capture_id)
    select citations.id, case when cited.n = 1
        then (select captures.id from captures where captures.id = cited.latest)
        else {JUDGED_CAPTURE} end, cited.latest
    from (
        select citation_id, count(*) as n, max(capture_id) as latest
        from evidence group by citation_id
    ) as cited
    join citations on citations.id = cited.citation_id
    join articles on articles.id = citations.article_id
    """,
    *judged_labels("1"),
]


def _lookup(column: str, table: str, where: str) -> str:
    """One value of the row ``where`` finds: a view column that costs nothing to count."""
    return f"(select {column} from {table} where {where})"


_ARTICLE = "articles.id = citations.article_id"
_SOURCE = "sources.url = citations.url"
_NEAREST = _lookup("capture_id", "nearest_captures", "nearest_captures.citation_id = citations.id")
_SNAPSHOT = (
    f"mementos.url = citations.url and mementos.article_date = "
    f"{_lookup(ARTICLE_DATE, 'articles', _ARTICLE)}"
)

#: m010's ``citations_view``, column for column, as one table and lookups: Datasette counts
#: the view on every page (``select count(*) from citations_view``), which SQLite answers from
#: an index when the view has no join and no order; with them it computed every row
#: (bench/README.md). Its rows come in citation order.
CITATIONS_VIEW_14 = f"""
select
    citations.id,
    {_lookup("title", "articles", _ARTICLE)} as article,
    citations.article_id,
    citations.position,
    citations.anchor_text,
    citations.claim,
    citations.href,
    citations.url,
    citations.href_status,
    {_lookup("title", "sources", _SOURCE)} as source_title,
    {_lookup("latest_outcome", "sources", _SOURCE)} as latest_outcome,
    {_lookup("link_status", "sources", _SOURCE)} as link_status,
    {_lookup("published", "articles", _ARTICLE)} as article_published,
    {_lookup(ARTICLE_DATE, "articles", _ARTICLE)} as article_date,
    {_NEAREST} as capture_id,
    {_lookup("captured_at", "captures", f"captures.id = {_NEAREST}")} as captured_at,
    {_lookup("status", "mementos", _SNAPSHOT)} as memento_status,
    {_lookup("memento_url", "mementos", _SNAPSHOT)} as memento_url,
    {_lookup("memento_datetime", "mementos", _SNAPSHOT)} as memento_datetime,
    {_lookup("distance_days", "mementos", _SNAPSHOT)} as memento_distance_days
from citations
"""

_CITED = "citations.id = judged.citation_id"
_JUDGED = "evidence.citation_id = judged.citation_id and evidence.capture_id is judged.capture_id"

#: m008's ``evidence_view``, column for column, the same way: one row per citation with
#: evidence, in citation order; its labels and score are ``judged_evidence``'s own columns, so
#: a filter or a facet on them reads an index.
EVIDENCE_VIEW_14 = f"""
select
    judged.citation_id,
    {_lookup("articles.title", "citations join articles on " + _ARTICLE, _CITED)} as article,
    {_lookup("position", "citations", _CITED)} as position,
    {_lookup("anchor_text", "citations", _CITED)} as anchor_text,
    {_lookup("claim_html", "evidence", _JUDGED)} as claim,
    judged.label,
    judged.score,
    {_lookup("missing", "evidence", _JUDGED)} as missing,
    {_lookup("passage_html", "evidence", _JUDGED)} as passage,
    {_lookup("url", "citations", _CITED)} as url,
    judged.capture_id,
    {_lookup("captured_at", "captures", "captures.id = judged.capture_id")} as captured_at,
    judged.latest_label,
    judged.latest_capture_id,
    {_lookup("method", "evidence", _JUDGED)} as method
from judged_evidence as judged
"""


#: What changes the stored rows, and of which citations: (trigger, event, citations whose
#: nearest capture may change, citations whose judged evidence may change). A capture's
#: evidence is that of its URL's citations (``save_evidence`` drops the rest).
_OF_URL = "select citations.id from citations where citations.url"
_OF_CAPTURE = "exists (select 1 from evidence where evidence.citation_id = citations.id and "
NEAREST_TRIGGERS: list[tuple[str, str, str | None, str | None]] = [
    ("citations_nearest_insert", "after insert on citations", "new.id", None),
    (
        "citations_nearest_update",
        "after update of url, article_id on citations "
        "when new.url is not old.url or new.article_id is not old.article_id",
        "new.id",
        "select new.id where new.article_id is not old.article_id",
    ),
    (
        "articles_nearest_update",
        "after update of published, ingested_at on articles when "
        f"{EVIDENCE_DATE.replace('articles.', 'new.')} "
        f"is not {EVIDENCE_DATE.replace('articles.', 'old.')}",
        "select citations.id from citations where citations.article_id = new.id",
        "select citations.id from citations where citations.article_id = new.id",
    ),
    (
        "captures_nearest_insert",
        "after insert on captures",
        f"{_OF_URL} = new.url",
        f"{_OF_URL} = new.url and {_OF_CAPTURE} evidence.capture_id = new.id)",
    ),
    (
        "captures_nearest_update",
        "after update of url, outcome, captured_at on captures",
        f"{_OF_URL} in (old.url, new.url)",
        f"{_OF_URL} in (old.url, new.url) and {_OF_CAPTURE} evidence.capture_id = old.id)",
    ),
    (
        "captures_nearest_delete",
        "after delete on captures",
        f"{_OF_URL} = old.url",
        f"{_OF_URL} = old.url and {_OF_CAPTURE} evidence.capture_id = old.id)",
    ),
    ("evidence_nearest_insert", "after insert on evidence", None, "new.citation_id"),
    (
        "evidence_nearest_update",
        "after update on evidence",
        None,
        "old.citation_id, new.citation_id",
    ),
    ("evidence_nearest_delete", "after delete on evidence", None, "old.citation_id"),
]


@migrations()
def m011_stored_nearest_captures(db: Database) -> None:
    """What ``citations_view`` and ``evidence_view`` computed for every row, stored (issue 14),
    so both views are one table and lookups, which Datasette counts and pages through at a
    million citations: each cited URL's good local capture nearest the article's date
    (``nearest_captures``: empty when there is none, "never archived"), and the capture of its
    evidence nearest that date and its newest evidence (``judged_evidence``). Triggers keep
    them right whatever writes (``NEAREST_TRIGGERS``); they are filled here in four statements.
    """
    db.table("nearest_captures").create({"citation_id": int, "capture_id": int}, pk="citation_id")
    db.table("judged_evidence").create(
        {"citation_id": int, "capture_id": int, "latest_capture_id": int}
        | {"label": str, "score": float, "latest_label": str},
        pk="citation_id",
    )
    for statement in BACKFILL_NEAREST:
        db.execute(statement)
    for name, event, captures, judged in NEAREST_TRIGGERS:
        db.execute(f"create trigger {name} {event} begin {refresh_nearest(captures, judged)} end")
    db.execute(
        """
        create trigger citations_nearest_delete after delete on citations begin
          delete from nearest_captures where citation_id = old.id;
          delete from judged_evidence where citation_id = old.id;
        end
        """
    )
    # unsupported_citations walks the first; a facet or filter on either label reads them.
    db.table("judged_evidence").create_index(["label", "score"], index_name="judged_evidence_label")
    db.table("judged_evidence").create_index(["latest_label"])
    db.create_view("citations_view", CITATIONS_VIEW_14, replace=True)
    db.create_view("evidence_view", EVIDENCE_VIEW_14, replace=True)


@migrations()
def m012_page_indexes(db: Database) -> None:
    """Indexes the pages read instead of every row, so that a page costs what it shows, not
    the archive (issue 14). The canned queries walk them in the order they list rows: dead,
    blocked and drifted sources by status, citations never archived, unresolved ones by article
    and position (each of these two holds only them). And each facet and sort metadata.json
    gives a table that grows with the cited URLs reads one instead of the table."""
    db.table("sources").create_index(["link_status", "url"], index_name="sources_link_status")
    db.execute(
        "create index nearest_captures_missing on nearest_captures (citation_id) "
        "where capture_id is null"
    )
    db.execute(
        "create index citations_unresolved on citations (article_id, position) where url is null"
    )
    for table, columns in (
        ("sources", ["latest_outcome", "language", "sitename"]),
        ("captures", ["captured_at", "outcome", "content_type", "status_code"]),
        ("checks", ["checked_at", "outcome", "drift"]),
        ("mementos", ["looked_up_at", "status", "source"]),
    ):
        for column in columns:
            db.table(table).create_index([column])
