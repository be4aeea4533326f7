"""``archiver mementos``: the web-archive snapshot of each cited URL nearest the date of the
article that cites it, kept in ``mementos`` (issue 13).

An editor recovering a dead or drifted link wants what the page said when it was cited, so the
snapshot is the latest one on or before the article's date (its publication date, else the day
it was ingested) within a window, else the first one after (``recover.wayback``). Every request
goes through the guarded fetcher: private-address guard, timeouts, byte cap, the per-host
throttle and Retry-After. The lookups all go to one host, so they run one after another.

Being offline is not an error of the archive: a lookup that cannot reach the web archive is kept
as ``not_looked_up`` and asked again by the next run, and once the archive is out of reach (or
asks us to slow down) the remaining questions are not sent at all; they are marked the same way.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import requests
from sqlite_utils import Database

from archiver.net.fetch import FetchConfig, make_session
from archiver.recover.wayback import WAYBACK_MACHINE, Endpoints, LookupCache, nearest_memento
from archiver.store import MementoLookup, MementoQuestion, memento_questions, save_mementos

LOGGER = logging.getLogger(__name__)

__all__ = ["MementoRun", "look_up_mementos"]

#: Outcomes that say the archive itself is out of reach or wants no more requests now: the
#: questions left are not sent (each would wait for the same timeout, or hammer a busy archive).
STOP_OUTCOMES = frozenset(
    {"unreachable", "timeout", "tls_error", "rate_limited", "blocked_private_address"}
)


@dataclass
class MementoRun:
    """What one run did: a lookup per question asked, and the pairs skipped as ``found``."""

    lookups: list[MementoLookup] = field(default_factory=list)
    already_found: int = 0

    @property
    def statuses(self) -> dict[str, int]:
        return dict(Counter(lookup.status for lookup in self.lookups))

    @property
    def not_looked_up(self) -> int:
        return sum(lookup.status == "not_looked_up" for lookup in self.lookups)

    def as_dict(self) -> dict[str, Any]:
        return {
            "looked_up": len(self.lookups),
            "already_found": self.already_found,
            "statuses": self.statuses,
            "not_looked_up": self.not_looked_up,
            "mementos": [lookup.as_dict() for lookup in self.lookups],
        }


def look_up_mementos(
    db: Database,
    *,
    config: FetchConfig,
    article_ids: Iterable[int] | None = None,
    endpoints: Endpoints = WAYBACK_MACHINE,
    kind: Literal["wayback", "timegate"] = "wayback",
    window_days: int = 365,
    refresh: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> MementoRun:
    """Look up the snapshot nearest the article's date of every cited URL, saving each row.

    Args:
        config: the run's fetch options (``recover.wayback`` caps retries at one).
        article_ids: only the URLs these articles cite; every article when None or empty.
        endpoints, kind: the archive, and how to ask it (CDX or a Memento TimeGate).
        window_days: how far before the article's date a snapshot still counts as "before".
        refresh: ask again for (url, date) pairs whose snapshot was found by an earlier run.
        on_progress: called with (done, total), first with 0 before any request.
        clock: "now" for ``looked_up_at`` (tests inject it); real time if None.

    Returns:
        The run's lookups; each one is saved as soon as it is made, so Ctrl-C loses none.
    """
    questions, already_found = memento_questions(db, article_ids, refresh=refresh)
    run = MementoRun(already_found=already_found)
    cache: LookupCache = {}  # this run's answers; a process-wide cache would outlive the run
    stopped: str | None = None
    session = make_session(config)
    try:
        for done, question in enumerate(questions):
            if on_progress is not None:
                on_progress(done, len(questions))
            at = (clock or _now)().strftime("%Y-%m-%dT%H:%M:%SZ")
            if stopped is not None:
                lookup = MementoLookup(
                    question.url, question.article_date, "not_looked_up", at, error=stopped
                )
            else:
                lookup, outcome = _look_up(
                    question, at, config, endpoints, kind, window_days, session, cache
                )
                if outcome in STOP_OUTCOMES:
                    stopped = f"not asked: the web archive answered {outcome} before"
                    LOGGER.warning("web archive %s: %s; not asking more", outcome, lookup.error)
            save_mementos(db, [lookup])
            run.lookups.append(lookup)
    finally:
        session.close()
    if on_progress is not None:
        on_progress(len(questions), len(questions))
    return run


def _look_up(
    question: MementoQuestion,
    at: str,
    config: FetchConfig,
    endpoints: Endpoints,
    kind: Literal["wayback", "timegate"],
    window_days: int,
    session: requests.Session,
    cache: LookupCache,
) -> tuple[MementoLookup, str | None]:
    """One question asked: its row, and the fetch outcome that stopped it (None if answered)."""
    try:
        when = date.fromisoformat(question.article_date)
    except ValueError:
        error = f"the article's date {question.article_date!r} is not an ISO date"
        row = MementoLookup(question.url, question.article_date, "not_looked_up", at, error=error)
        return row, None
    result = nearest_memento(
        question.url,
        when,
        config=config,
        endpoints=endpoints,
        kind=kind,
        window_days=window_days,
        session=session,
        cache=cache,
    )
    memento = result.memento
    lookup = MementoLookup(
        question.url,
        question.article_date,
        result.status,
        at,
        memento_url=memento.memento_url if memento else None,
        memento_datetime=memento.memento_datetime if memento else None,
        distance_days=memento.distance_days if memento else None,
        source=memento.source if memento else None,
        error=result.error,
    )
    return lookup, result.outcome if result.status == "not_looked_up" else None


def _now() -> datetime:
    return datetime.now(UTC)
