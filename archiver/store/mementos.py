"""What ``archiver mementos`` reads and writes: the cited URLs to look up in a web archive, each
with its citing article's date, and the ``mementos`` rows the lookups give (issue 13).

A row is keyed by (url, article_date): the snapshot nearest one date is one question, whichever
articles of that date cite the URL, and a rerun replaces the row it answers again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlite_utils import Database

from archiver.store.schema import ARTICLE_DATE

__all__ = ["MementoLookup", "MementoQuestion", "memento_questions", "save_mementos"]


@dataclass(frozen=True)
class MementoQuestion:
    """One lookup to make: the snapshot of ``url`` nearest ``article_date`` (ISO date)."""

    url: str
    article_date: str


@dataclass(frozen=True)
class MementoLookup:
    """A ``mementos`` row: how the lookup of one question went, and the snapshot if found.

    ``status`` is ``found``, ``none`` (the archive has no snapshot) or ``not_looked_up`` (the
    archive could not be asked; ``error`` says why).
    """

    url: str
    article_date: str
    status: str
    looked_up_at: str
    memento_url: str | None = None
    memento_datetime: str | None = None
    distance_days: float | None = None
    source: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def memento_questions(
    db: Database, article_ids: Iterable[int] | None = None, *, refresh: bool = False
) -> tuple[list[MementoQuestion], int]:
    """The distinct (cited URL, article date) pairs to look up, in citation order.

    Args:
        article_ids: only the URLs these articles cite; every article when None or empty.
        refresh: ask again for the pairs whose snapshot was ``found`` already.

    Returns:
        The questions, and how many pairs were left out because they are ``found``.
    """
    ids = list(article_ids or [])
    where = f" and citations.article_id in ({', '.join('?' for _ in ids)})" if ids else ""
    rows = db.query(
        f"select citations.url, {ARTICLE_DATE} as article_date, "
        "(select status from mementos where mementos.url = citations.url "
        f"and mementos.article_date = {ARTICLE_DATE}) as status "
        "from citations join articles on articles.id = citations.article_id "
        f"where citations.url is not null{where} "
        "group by citations.url, article_date order by min(citations.id)",
        ids,
    )
    questions, found = [], 0
    for row in rows:
        if row["status"] == "found" and not refresh:
            found += 1
        else:
            questions.append(MementoQuestion(row["url"], row["article_date"]))
    return questions, found


def save_mementos(db: Database, lookups: Sequence[MementoLookup]) -> None:
    """Write the lookups, each replacing the row of its (url, article_date), in one transaction.

    A lookup that could not reach the archive leaves a ``found`` row as it is (``--refresh``
    while offline must not lose a snapshot already known).
    """
    with db.atomic():
        rows = [
            lookup.as_dict()
            for lookup in lookups
            if lookup.status != "not_looked_up" or not _found(db, lookup)
        ]
        db.table("mementos").upsert_all(rows, pk=("url", "article_date"))


def _found(db: Database, lookup: MementoLookup) -> bool:
    sql = "select 1 from mementos where url = ? and article_date = ? and status = 'found'"
    return next(db.query(sql, [lookup.url, lookup.article_date]), None) is not None
