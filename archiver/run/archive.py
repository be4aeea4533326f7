"""Archive cited pages: which URLs to fetch, the per-host worker, and the single writer.

The fetch-and-extract stage is ``archive_host``, a plain function of a few URLs of one host that
returns row-shaped, picklable results, so any ``concurrent.futures.Executor`` can run it: local
threads by default, a Dask cluster's executor later. Workers write their own WARC files; only the
coordinator (``archive_urls``) writes SQLite, one short transaction per finished chunk, so a
killed run loses at most the chunks in flight and a rerun picks up the rest.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from archiver.capture.extract import Extracted
from archiver.capture.warc import WarcWriter, recover_open_files
from archiver.errors import StorageError
from archiver.evidence.find import CitedClaim, Evidence, claims_citing
from archiver.linkrot.verdicts import redirect_reason
from archiver.net.fetch import FetchConfig
from archiver.net.result import FetchResult
from archiver.run.engine import chunk_by_host, run_host_chunks, when_all_done
from archiver.run.memory import release_free_memory
from archiver.run.workers import (
    INLINE,
    PROCESS_EXTRACTION_AFTER,
    Extraction,
    close_writers,
    final_response,
    process_writer,
    worker_fetch,
)
from archiver.store import keep_archived_texts, save_results

LOGGER = logging.getLogger(__name__)

#: Outcomes that mean the page itself was captured.
CAPTURED = ("ok", "redirected")
#: Starts the ``error`` of a capture whose text could not be extracted; a rerun fetches it again.
TEXT_NOT_EXTRACTED = "text not extracted: "


@dataclass(frozen=True)
class UrlJob:
    """One URL to fetch, with what the last good capture knew (for conditional refresh)."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    payload_sha256: str | None = None
    record_id: str | None = None  # WARC-Record-ID of the last good response
    captured_at: str | None = None
    final_url: str | None = None
    #: That capture's similarity and drift against the cited text, which an unchanged answer
    #: keeps: not 1.0 when a check made the capture because the text had changed.
    similarity: float | None = 1.0
    drift: str | None = "unchanged"
    #: (outcome, error) of the last check, when it saw this very payload: a refresh that finds
    #: the payload again learns nothing new, so a soft_404 or blocked verdict stands.
    verdict: tuple[str, str | None] | None = None
    #: The claims citing this URL, so the worker that extracts the page finds their evidence.
    claims: tuple[CitedClaim, ...] = ()


@dataclass
class UrlResult:
    """What happened to one URL, as rows: a new capture, or a check when nothing changed."""

    url: str
    outcome: str
    capture: dict[str, Any] | None = None
    check: dict[str, Any] | None = None
    extracted: dict[str, str | None] | None = None
    #: (citation id, evidence) for the claims of the job, found in the extracted text.
    evidence: list[tuple[int, Evidence]] | None = None
    #: Extraction still running in a worker process; ``finish`` waits for it.
    extraction: Future[tuple[Extracted, list[tuple[int, Evidence]]]] | None = field(
        default=None, repr=False, compare=False
    )

    def finish(self) -> UrlResult:
        """Wait for the extraction (if any) and keep its columns; picklable afterwards.

        A page whose extraction failed (its worker process died twice) is still a capture:
        the WARC holds it, the row says why it has no text, and a rerun fetches it again.
        """
        if self.extraction is not None:
            try:
                extracted, self.evidence = self.extraction.result()
                self.extracted = extracted.as_dict()
            except Exception as error:
                LOGGER.warning("%s: %s%s", self.url, TEXT_NOT_EXTRACTED, error)
                if self.capture is not None:
                    self.capture["error"] = f"{TEXT_NOT_EXTRACTED}{error}"
            self.extraction = None
        return self


@dataclass
class RunStats:
    """Counts for the progress bar and the summary."""

    urls: int = 0
    done: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    #: WARC records could not be written: the run stopped there (what was saved is kept).
    storage_error: StorageError | None = None


# -- the frontier ---------------------------------------------------------------------------


def frontier(db: Database, *, article_ids: Iterable[int], refresh: bool = False) -> list[UrlJob]:
    """Distinct cited URLs of the articles that need fetching, in citation order.

    Without ``refresh``: URLs with no successful capture yet (failed ones are tried again, and
    so are captures whose text could not be extracted).
    With ``refresh``: every URL, carrying the validators of its last good capture and what the
    checks know of that payload: the verdict, similarity and drift of the last check when it saw
    the same payload, else those of the check that made the capture (the text had changed).
    """
    ids = list(article_ids)
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    urls = [
        row["url"]
        for row in db.query(
            f"select url from citations where url is not null and article_id in ({marks}) "
            f"group by url order by min(id)",
            ids,
        )
    ]
    last_good = {
        row["url"]: row
        for row in db.query(
            f"select url, etag, last_modified, payload_sha256, warc_record_id, captured_at, "
            f"final_url, error, max(id) as id from captures where outcome in ('ok', 'redirected') "
            f"and url in (select url from citations where article_id in ({marks})) group by url",
            ids,
        )
    }
    # A check's capture (the text had changed) keeps the similarity and drift the check found.
    by_check = {
        row["capture_id"]: (row["similarity"], row["drift"])
        for row in db.query(
            f"select capture_id, similarity, drift from checks where capture_id in ("
            f"select max(id) from captures where outcome in ('ok', 'redirected') and url in "
            f"(select url from citations where article_id in ({marks})) group by url)",
            ids,
        )
    }
    last_check = {
        row["url"]: row
        for row in db.query(
            f"select url, outcome, error, payload_sha256, similarity, drift from checks k "
            f"where id = (select id from checks where url = k.url "
            f"order by checked_at desc, id desc limit 1) "
            f"and url in (select url from citations where article_id in ({marks}))",
            ids,
        )
    }
    jobs = []
    for url in urls:
        good = last_good.get(url)
        if good is None or (good["error"] or "").startswith(TEXT_NOT_EXTRACTED):
            jobs.append(UrlJob(url))
        elif refresh:
            similarity, drift = by_check.get(good["id"], (1.0, "unchanged"))
            verdict = None
            seen = last_check.get(url)
            if seen is not None and seen["payload_sha256"] == good["payload_sha256"]:
                similarity, drift = seen["similarity"], seen["drift"]
                verdict = (seen["outcome"], seen["error"])
            jobs.append(
                UrlJob(
                    url,
                    etag=good["etag"],
                    last_modified=good["last_modified"],
                    payload_sha256=good["payload_sha256"],
                    record_id=good["warc_record_id"],
                    captured_at=good["captured_at"],
                    final_url=good["final_url"],
                    similarity=similarity,
                    drift=drift,
                    verdict=verdict,
                )
            )
    claims = claims_citing(db, [job.url for job in jobs])
    return [replace(job, claims=tuple(claims[job.url])) for job in jobs]


# -- the worker -----------------------------------------------------------------------------


def _archive_one(
    job: UrlJob, config: FetchConfig, writer: WarcWriter, extraction: Extraction
) -> UrlResult:
    result = worker_fetch(job.url, config, etag=job.etag, last_modified=job.last_modified)
    try:
        if result.status_code == 304:
            return _unchanged(job, result)
        captured = result.outcome in CAPTURED
        if captured and job.record_id and result.payload_sha256 == job.payload_sha256:
            writer.write_revisit(
                result,
                refers_to=job.record_id,
                refers_to_uri=job.final_url or job.url,
                refers_to_date=job.captured_at or result.captured_at,
            )
            return _unchanged(job, result)
        final = final_response(writer.write_fetch(result))
        capture = result.as_row() | {
            "warc_path": str(final.path) if final else None,
            "warc_offset": final.offset if final else None,
            "warc_record_id": final.record_id if final else None,
        }
        done = UrlResult(job.url, result.outcome, capture=capture)
        if captured and result.body is not None:
            done.extraction = extraction.submit_with_evidence(result, job.claims)
        return done
    finally:
        result.close()


def _unchanged(job: UrlJob, result: FetchResult) -> UrlResult:
    """A 304 or the last capture's payload again: a check row that keeps what is known of it.

    What is known is of the payload; where the redirects led now is the chain's own outcome, so
    it is judged anew: a redirect to the home page is a soft 404, a moved page ``redirected``,
    whatever the last check said.
    """
    row = result.as_check_row(similarity=job.similarity, drift=job.drift)
    row["payload_sha256"] = job.payload_sha256  # a 304 stands for the capture's payload
    found = redirect_reason(job.url, result.final_url)
    if found is not None:
        row.update(outcome=found[0], error=found[1], similarity=None, drift=None)
    elif job.verdict is not None:
        outcome, row["error"] = job.verdict
        if outcome not in CAPTURED:  # an error or challenge page; ok/redirected is the chain's
            row["outcome"] = outcome
    return UrlResult(job.url, row["outcome"], check=row)


def archive_host(jobs: list[UrlJob], config: FetchConfig, warc_dir: str) -> list[UrlResult]:
    """Fetch, preserve and extract URLs of one host, one after another, on any executor.

    Politeness (one request in flight per host, the delay, Retry-After) is kept by the fetcher's
    per-process host throttle; robots.txt is read once per site per process. Extraction is
    inline: a local run's threads use ``fetch_host`` and the shared worker processes instead.

    Args:
        jobs: URLs of a single host.
        config: fetch options.
        warc_dir: where this process writes its WARC files.

    Returns:
        One ``UrlResult`` per job, in order.
    """
    return [result.finish() for result in fetch_host(jobs, config, warc_dir, INLINE)]


def fetch_host(
    jobs: list[UrlJob],
    config: FetchConfig,
    warc_dir: str,
    extraction: Extraction,
    on_fetched: Callable[[str], None] | None = None,
) -> list[UrlResult]:
    """``archive_host`` without waiting for the extractions: results may hold running futures.

    The local run's threads use this, so a thread goes on to its next chunk while the pages of
    the last one are still extracted; ``settle`` waits for them. ``on_fetched`` is called with
    each URL once it is fetched and written, from this thread.
    """
    writer = process_writer(warc_dir)
    results = []
    for job in jobs:
        results.append(_archive_one(job, config, writer, extraction))
        if on_fetched is not None:
            on_fetched(job.url)
    return results


def settle(results: list[UrlResult]) -> Future[list[UrlResult]]:
    """The results of ``fetch_host``, finished, once all their extractions are done."""
    return when_all_done(
        [result.extraction for result in results if result.extraction is not None],
        lambda: [result.finish() for result in results],
    )


# -- the coordinator ------------------------------------------------------------------------


def archive_urls(
    db: Database,
    jobs: list[UrlJob],
    *,
    config: FetchConfig,
    warc_dir: Path,
    executor: Executor | None = None,
    on_fetched: Callable[[str], None] | None = None,
    on_result: Callable[[UrlResult, RunStats], None] | None = None,
) -> RunStats:
    """Fetch every job, host by host in parallel, and record the results as they come.

    Each host has at most one chunk in flight; Ctrl-C stops submitting, keeps what was saved,
    and marks the stats ``interrupted``. So does a failure to write WARC records, which the
    stats keep as ``storage_error``.

    Args:
        executor: where ``archive_host`` runs; a thread pool of ``config.concurrency`` if None.
        on_fetched: called with each URL as soon as it is fetched (progress bars): from the
            fetching threads when they are this process's (so it must be thread-safe), else
            when its chunk comes back.
        on_result: called after each URL's result is saved.
    """
    stats = RunStats(urls=len(jobs))
    if not jobs:
        return stats
    recover_open_files(warc_dir)
    # A refresh replaces sources.text with each new version: keep every version as a row, the
    # archived one before it is replaced and the new ones afterwards (a killed run's at the next).
    refreshing = any(job.record_id for job in jobs)
    if refreshing:
        keep_archived_texts(db)
    pool = executor or ThreadPoolExecutor(max_workers=config.concurrency)
    # Processes are local only. Many pages: workers from the first page, so the coordinator
    # never grows by the lxml trees of inline extractions; few: inline, no process start-up.
    many = len(jobs) >= PROCESS_EXTRACTION_AFTER
    extraction = Extraction(after=1 if many else None) if executor is None else None

    def submit(chunk: list[UrlJob]) -> Future[list[UrlResult]]:
        if extraction is not None:  # threads of this process: extraction goes on after them
            return pool.submit(fetch_host, chunk, config, str(warc_dir), extraction, on_fetched)
        return pool.submit(archive_host, chunk, config, str(warc_dir))

    def save(results: list[UrlResult]) -> None:
        save_results(db, results)
        release_free_memory()  # the chunk's bodies and rows are gone; keep RSS near the heap
        for result in results:
            if executor is not None and on_fetched is not None:  # fetched elsewhere: reported now
                on_fetched(result.url)
            stats.done += 1
            stats.outcomes[result.outcome] += 1
            stats.unchanged += result.check is not None
            if on_result is not None:
                on_result(result, stats)

    run = run_host_chunks(
        chunk_by_host(jobs, lambda job: job.url),
        submit=submit,
        on_done=save,
        settle=settle if extraction is not None else None,
    )
    stats.interrupted, stats.errors = run.interrupted, run.errors
    stats.storage_error = run.storage_error
    pool.shutdown(wait=not run.interrupted, cancel_futures=True)
    if extraction is not None:
        extraction.shutdown()
    if not run.interrupted:
        try:
            close_writers()
        except StorageError as error:  # the folder went away after the last write
            stats.storage_error = stats.storage_error or error
    if refreshing:
        keep_archived_texts(db)
    return stats
