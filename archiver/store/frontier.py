"""The cited URLs a check visits, host by host, read from SQLite as the run needs them.

A check of a million citations must not hold 200,000 URLs with what the archive knows of each
(issue 14). ``open_frontier`` puts the distinct cited URLs to visit, each with its host and its
first citation, in a temporary table of the connection; ``frontier_hosts`` and ``frontier_urls``
then page through it by key, so the caller holds a page of hosts and a page of each open host's
URLs at a time, whatever the archive's size. Hosts come in the order their first URL is cited,
and a host's URLs in citation order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database

__all__ = ["frontier_hosts", "frontier_urls", "open_frontier", "url_host"]

#: Hosts and URLs read by one query.
PAGE = 64


def url_host(url: str) -> str:
    """The host a URL is fetched from, as the run groups and throttles by it."""
    return (urlsplit(url).hostname or "").lower()


def open_frontier(
    db: Database,
    *,
    article_ids: Iterable[int] | None = None,
    checked_before: str | None = None,
) -> int:
    """Fill the connection's frontier: one row per distinct cited URL to visit; their number.

    A connection has one frontier at a time: opening another replaces it.

    Args:
        article_ids: only URLs these articles cite; every article's when None or empty.
        checked_before: only URLs with no check after this ISO timestamp (``--older-than``).
    """
    ids = list(article_ids or [])
    where, params = "url is not null", list[Any]()
    if ids:
        where += f" and article_id in ({', '.join('?' for _ in ids)})"
        params += ids
    recent = ""
    if checked_before is not None:
        recent = (
            "where not exists (select 1 from checks "
            "where checks.url = cited.url and checks.checked_at > ?)"
        )
        params.append(checked_before)
    db.conn.create_function("url_host", 1, url_host, deterministic=True)
    with db.atomic():
        db.execute("drop table if exists temp.frontier")
        db.execute("drop table if exists temp.frontier_hosts")
        # Keyed by (host, first citation): a host's URLs are one range, in citation order.
        db.execute(
            "create temp table frontier (host text not null, first integer not null, "
            "url text not null, primary key (host, first)) without rowid"
        )
        db.execute(
            "insert into temp.frontier (host, first, url) "
            "select url_host(url), first, url from ("
            f"select url, min(id) as first from citations where {where} group by url"
            f") as cited {recent}",
            params,
        )
        db.execute(
            "create temp table frontier_hosts (first integer primary key, host text not null)"
        )
        db.execute(
            "insert into temp.frontier_hosts (first, host) "
            "select min(first), host from temp.frontier group by host"
        )
    return int(db.execute("select count(*) from temp.frontier").fetchone()[0])


def frontier_hosts(db: Database, *, page: int = PAGE) -> Iterator[str]:
    """The frontier's hosts, in the order their first URL is cited."""
    after = -1
    while rows := db.execute(
        "select first, host from temp.frontier_hosts where first > ? order by first limit ?",
        [after, page],
    ).fetchall():
        yield from (host for _, host in rows)
        after = rows[-1][0]


def frontier_urls(db: Database, host: str, *, page: int = PAGE) -> Iterator[str]:
    """The host's URLs in the frontier, in citation order."""
    after = -1
    while rows := db.execute(
        "select first, url from temp.frontier where host = ? and first > ? order by first limit ?",
        [host, after, page],
    ).fetchall():
        yield from (url for _, url in rows)
        after = rows[-1][0]
