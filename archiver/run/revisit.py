"""The one revisit worker: fetch a cited URL knowing what the archive had, judge the answer,
keep what is new. ``archive`` (first captures and ``--refresh``) and ``check`` both run it.

``revisit_host`` is a plain function of a few URLs of one host that returns row-shaped, picklable
results (``archiver.rows``), so any ``concurrent.futures.Executor`` can run it; it never touches
SQLite (the coordinator, ``engine.fetch_urls``, reads what the archive knows into each ``UrlJob``
and saves the rows).

A URL never captured is fetched and captured (WARC records, a ``captures`` row, its text). A URL
fetched again (``check``, or ``archive --refresh`` of a captured URL) is judged by one set of
rules, so both commands give the same verdict for the same answer:

1. A GET (servers answer HEAD wrongly), conditional on the last good capture's ETag and
   Last-Modified once a check found the page. A 304, or a payload whose digest was seen before,
   learns nothing new of the page: no extraction, the earlier similarity is carried over.
2. The answer is classified (``archiver.linkrot.verdicts``), where its redirects led first,
   whatever the last hop answered (a 304 too): a bot-challenge page or a redirect to a login
   page is ``blocked``;
   a redirect to the home page or a ``/404``-like page, an error-page title, or the same page
   the site serves for a made-up path (one probe per site directory per run) is ``soft_404``.
   Unless that page is a JavaScript app's shell, one page for every path, and the URL's
   archived text was no more than that shell: then the archive never held anything that tells
   this page from a missing one, and the verdict is ``ok`` with a "cannot tell" note in
   ``error`` rather than count towards ``dead`` a page that may well be there.
3. A live page's similarity to the text the claim was archived from gives ``drift``.

What is kept differs by what each command promises. ``check`` records a check, and captures a
live page whose text differs from the last capture's (a later version; ``sources.text`` stays
the cited text). ``archive --refresh`` records the same check and keeps every fetch in the WARC:
the last capture's payload again is a revisit record, anything else a new capture (its verdict
as outcome), and a live page's text becomes the source's.
"""

from __future__ import annotations

import logging
import posixpath
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from archiver.capture.extract import Extracted, sniff_kind
from archiver.capture.warc import WarcWriter
from archiver.evidence.find import CitedClaim, Evidence
from archiver.linkrot.verdicts import (
    CANNOT_TELL,
    app_shell,
    challenge_reason,
    drift_for,
    error_page_reason,
    nearly_empty,
    page_signals,
    path_words,
    redirect_reason,
    same_template,
    similarity,
)
from archiver.net.fetch import FetchConfig
from archiver.net.politeness import DEFAULT_THROTTLE
from archiver.net.result import CAPTURED, FetchResult
from archiver.rows import (
    TEXT_NOT_EXTRACTED,
    CaptureRow,
    CheckRow,
    Known,
    LastCapture,
    SourceText,
    UrlRows,
)
from archiver.run.workers import (
    INLINE,
    Extraction,
    final_response,
    process_write,
    worker_fetch,
)

LOGGER = logging.getLogger(__name__)

Written = TypeVar("Written")

__all__ = ["RevisitConfig", "UrlJob", "UrlResult", "fetch_host", "probe_url", "revisit_host"]

#: Bytes of a body read for titles and challenge markers.
SIGNAL_BYTES = 64_000
#: Extractions in one check run after which they move to worker processes (most need none).
POOL_AFTER = 8


@dataclass(frozen=True)
class RevisitConfig:
    """Options of one run, picklable for any executor."""

    fetch: FetchConfig
    #: Probes are cached per run: a new run asks each site again.
    run_id: str = field(default_factory=lambda: secrets.token_hex(8))
    probe: bool = True  # fetch a made-up path per site directory to find soft 404s
    #: ``archive --refresh``: every fetch goes to the WARC and a live page's text to the source.
    refresh: bool = False


@dataclass(frozen=True)
class UrlJob:
    """One URL to fetch, with what the archive already knows about it.

    ``known`` lists payload digests seen before (the last capture's first, which a 304 answer
    stands for), so an unchanged body needs no extraction and, once a check found it to be the
    page, no second look. The texts are filled just before the job's chunk is submitted, so a
    run over 10,000 URLs does not hold 10,000 texts.
    """

    url: str
    #: Judge the answer against what was archived (check, refresh); else a first capture.
    revisit: bool = False
    last: LastCapture | None = None  # the last good capture
    known: tuple[Known, ...] = ()
    conditional: bool = True  # send the capture's validators
    cited_text: str | None = None  # sources.text: what the claims were archived from
    capture_text: str | None = None  # text of the last good capture
    #: The claims citing the URL: a new capture's evidence is found where it is extracted.
    claims: tuple[CitedClaim, ...] = ()


@dataclass
class UrlResult(UrlRows):
    """``UrlRows`` whose page may still be extracting in a worker process (a first capture)."""

    extraction: Future[tuple[Extracted, list[tuple[int, Evidence]]]] | None = field(
        default=None, repr=False, compare=False
    )
    #: ``revisit_host``: seconds its process's throttle still kept the host when the chunk
    #: ended, for the coordinator to pace the host's next chunk (``politeness.HostPace``).
    host_wait: float = field(default=0.0, compare=False)

    def finish(self) -> UrlResult:
        """Wait for the extraction (if any) and keep its columns; picklable afterwards.

        A page whose extraction failed (its worker process died twice) is still a capture:
        the WARC holds it, the row says why it has no text, and a rerun fetches it again.
        """
        if self.extraction is not None:
            try:
                extracted, self.evidence = self.extraction.result()
                self.source = SourceText(**extracted.as_dict())
                self.extracted_now = True
            except Exception as error:
                LOGGER.warning("%s: %s%s", self.url, TEXT_NOT_EXTRACTED, error)
                if self.capture is not None:
                    self.capture.error = f"{TEXT_NOT_EXTRACTED}{error}"
            self.extraction = None
        return self


@dataclass
class _Worker:
    """What the jobs of one chunk share in a worker."""

    config: RevisitConfig
    warc_dir: str
    extract: Extraction

    def write(self, records: Callable[[WarcWriter], Written]) -> Written:
        return process_write(self.warc_dir, records)

    def capture(self, result: FetchResult) -> CaptureRow:
        """Write ``result``'s records; the ``captures`` row that points at its final response."""
        final = final_response(self.write(lambda writer: writer.write_fetch(result)))
        return CaptureRow(
            **result.as_row(),
            warc_path=str(final.path) if final else None,
            warc_offset=final.offset if final else None,
            warc_record_id=final.record_id if final else None,
        )


@dataclass(frozen=True)
class _Probe:
    """How a site answers a path that cannot exist."""

    outcome: str
    final_url: str | None
    payload_sha256: str | None
    text: str | None
    url: str


_probe_lock = threading.Lock()
_probes: dict[tuple[str, str, str], _Probe | None] = {}


def probe_url(url: str, token: str) -> str:
    """A made-up sibling of ``url``: same directory and extension, a random name."""
    parts = urlsplit(url)
    directory, name = posixpath.split(parts.path or "/")
    extension = posixpath.splitext(name)[1] if len(posixpath.splitext(name)[1]) <= 6 else ""
    path = posixpath.join(directory or "/", f"{token}{extension}")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _probe(url: str, worker: _Worker) -> _Probe | None:
    """The site's answer for a random path next to ``url``, fetched once per run and directory."""
    config = worker.config
    parts = urlsplit(url)
    key = (config.run_id, f"{parts.scheme}://{parts.netloc}", posixpath.dirname(parts.path))
    with _probe_lock:
        if key in _probes:
            return _probes[key]
        if any(k[0] != config.run_id for k in _probes):  # a new run: forget the last one's
            _probes.clear()
    target = probe_url(url, secrets.token_hex(8))
    result = worker_fetch(target, config.fetch)
    try:
        probe: _Probe | None = None
        if result.outcome in CAPTURED:
            text = worker.extract.submit(result).result().text if result.body is not None else None
            probe = _Probe(result.outcome, result.final_url, result.payload_sha256, text, target)
        elif result.outcome in ("not_found", "gone", "client_error"):
            probe = _Probe(result.outcome, result.final_url, None, None, target)
        # Otherwise (robots, blocked, timeouts) the site's answer is unknown; it stays unknown for
        # this run, so a site that hangs on made-up paths costs one timeout, not one per link.
    finally:
        result.close()
    with _probe_lock:
        _probes[key] = probe
    return probe


def _headers(result: FetchResult) -> dict[str, str]:
    if not result.exchanges:
        return {}
    return {k.lower(): v for k, v in result.exchanges[-1].response_headers}


def _same_text(a: str | None, b: str | None) -> bool:
    return " ".join((a or "").split()) == " ".join((b or "").split())


def _classify(result: FetchResult, head: bytes) -> tuple[str, str] | None:
    """(outcome, reason) for a final response body that is not the page asked for.

    A 404 or 410 is taken at its word; any other answer may be a challenge page (they come as
    200, 403, 429 or 503), and a page that answered may be an error page served with a 200.
    """
    if result.outcome in ("not_found", "gone") or sniff_kind(head, result.content_type) != "html":
        return None
    signals = page_signals(head, result.charset)
    reason = challenge_reason(signals, _headers(result))
    if reason is not None:
        return "blocked", reason
    reason = error_page_reason(signals)
    if reason is not None and result.outcome in CAPTURED:
        return "soft_404", reason
    return None


def _probe_says(job: UrlJob, result: FetchResult, text: str | None, probe: _Probe) -> str | None:
    """Why the page is what the site serves for any path (a soft 404), or None."""
    if probe.outcome not in CAPTURED:
        return None
    redirected = result.final_url not in (None, job.url)
    if redirected and probe.final_url == result.final_url:
        return f"soft 404: a made-up path redirects to the same page {result.final_url}"
    if probe.payload_sha256 is not None and probe.payload_sha256 == result.payload_sha256:
        return "soft 404: a made-up path on the site answers the same page"
    if same_template(text, probe.text, drop=path_words(job.url, probe.url, result.final_url)):
        return "soft 404: a made-up path on the site answers a page with the same text"
    return None


@dataclass
class _Pending:
    """A live page whose new text is being extracted; its fetch result stays open till then.

    ``seen``: a refresh found a body a check already found to be the page, but not the last
    capture's: it is extracted for the source, and its verdict is the one already found.
    """

    job: UrlJob
    result: FetchResult
    row: CheckRow
    extracted: Future[tuple[Extracted, list[tuple[int, Evidence]]]]
    seen: Known | None = None


def _fetch_one(job: UrlJob, worker: _Worker) -> UrlResult | _Pending:
    last = job.last if job.conditional else None
    result = worker_fetch(
        job.url,
        worker.config.fetch,
        etag=last.etag if last else None,
        last_modified=last.last_modified if last else None,
    )
    judged: UrlResult | _Pending | None = None
    try:
        judged = _judge(job, result, worker) if job.revisit else _first(job, result, worker)
        return judged
    finally:
        if not isinstance(judged, _Pending):
            result.close()


def _first(job: UrlJob, result: FetchResult, worker: _Worker) -> UrlResult:
    """A URL never captured: capture whatever it answers; a page's text is extracted."""
    done = UrlResult(job.url, result.outcome, capture=worker.capture(result))
    if result.outcome in CAPTURED and result.body is not None:
        done.extraction = worker.extract.submit_with_evidence(result, job.claims)
    return done


def _judge(job: UrlJob, result: FetchResult, worker: _Worker) -> UrlResult | _Pending:
    """What the response says at once; a page with a new body is left to ``_finish``.

    Where the redirects led is judged first: it is the outcome of the whole chain, whatever the
    last hop answered (a 304 or a body seen before says nothing about the chain).
    """
    row = CheckRow(**result.as_check_row())
    found = redirect_reason(job.url, result.final_url) if result.outcome in CAPTURED else None
    if found is not None:
        row.outcome, row.error = found
        return _keep(job, result, row, worker)
    if result.status_code == 304:  # unchanged since the last capture, whose validators were sent
        if job.known:
            first = job.known[0]
            row.payload_sha256, row.similarity, row.drift = (
                first.payload_sha256,
                first.similarity,
                first.drift,
            )
        return _keep(job, result, row, worker)
    if result.body is None:
        return _keep(job, result, row, worker)
    known = {entry.payload_sha256: entry for entry in job.known if entry.payload_sha256}
    seen = known.get(result.payload_sha256 or "")
    if seen is None or not seen.found or result.outcome not in CAPTURED:
        result.body.seek(0)
        found = _classify(result, result.body.read(SIGNAL_BYTES))
        if found is not None:
            row.outcome, row.error = found
            return _keep(job, result, row, worker)
    if result.outcome not in CAPTURED:
        return _keep(job, result, row, worker)
    if seen is None or (seen.found and _new_payload(job, result, worker)):
        extracting = worker.extract.submit_with_evidence(result, job.claims)
        return _Pending(job, result, row, extracting, seen)
    row.similarity, row.drift = seen.similarity, seen.drift
    if not seen.found:  # the body is the last capture's, not yet found to be the page
        _by_probe(job, result, job.capture_text, row, worker)
    return _keep(job, result, row, worker)


def _new_payload(job: UrlJob, result: FetchResult, worker: _Worker) -> bool:
    """Is this a payload a refresh keeps as a new capture (not the last capture's)?"""
    last = job.last
    return worker.config.refresh and (last is None or last.payload_sha256 != result.payload_sha256)


def _keep(job: UrlJob, result: FetchResult, row: CheckRow, worker: _Worker) -> UrlResult:
    """The check row of a verdict with no new text to keep, and what a refresh writes of it.

    A refresh keeps every fetch but a 304 in the WARC: the last capture's payload again as a
    revisit record, anything else as a capture whose outcome is the verdict (``archive``
    records every outcome as a capture).
    """
    done = UrlResult(job.url, row.outcome, check=row)
    if not worker.config.refresh or result.status_code == 304:
        return done
    if job.last is not None and not _new_payload(job, result, worker):
        last = job.last
        worker.write(
            lambda writer: writer.write_revisit(
                result,
                refers_to=last.record_id or "",
                refers_to_uri=last.final_url or job.url,
                refers_to_date=last.captured_at or result.captured_at,
            )
        )
        return done
    done.capture = worker.capture(result)
    done.capture.outcome, done.capture.error = row.outcome, row.error
    return done


def _by_probe(
    job: UrlJob, result: FetchResult, text: str | None, row: CheckRow, worker: _Worker
) -> str:
    """The outcome once the site's answer for a made-up path is known; ``row`` is updated.

    ``soft_404`` when the page is that answer; but a JavaScript app's shell that the URL was
    archived as too stays ``ok`` with a note: nothing archived tells it from a missing page.
    """
    probe = _probe(job.url, worker) if worker.config.probe else None
    reason = _probe_says(job, result, text, probe) if probe is not None else None
    if reason is None:
        return result.outcome
    if _shell_as_archived(job, result, text):
        row.error = (
            f"{CANNOT_TELL}the site answers any path with the same JavaScript app shell, as this "
            "URL did when archived; the page is made in the browser"
        )
        return result.outcome
    row.outcome, row.error, row.similarity, row.drift = "soft_404", reason, None, None
    return "soft_404"


def _shell_as_archived(job: UrlJob, result: FetchResult, text: str | None) -> bool:
    """Is the page an app shell whose text is what was archived from the URL (or next to none)?

    Then the archived page was the shell too (a page with text of its own that is now answered by
    the shell is a soft 404, as ever).
    """
    if result.body is None:
        return False
    result.body.seek(0)
    if not app_shell(page_signals(result.body.read(SIGNAL_BYTES), result.charset)):
        return False
    cited = job.cited_text
    if nearly_empty(cited) and nearly_empty(text):
        return True
    return _same_text(text, cited) or same_template(
        text, cited, drop=path_words(job.url, result.final_url)
    )


def _finish(pending: _Pending, worker: _Worker) -> UrlResult:
    """Drift against the cited text, the soft-404 probe, and a new capture if the text changed."""
    job, result, row = pending.job, pending.result, pending.row
    try:
        try:
            page, evidence = pending.extracted.result()
        except CancelledError:  # Ctrl-C: nothing failed, and the chunk is not saved
            raise
        except Exception as error:  # its worker process died twice: cannot tell, look again
            LOGGER.warning("%s: %s%s", job.url, TEXT_NOT_EXTRACTED, error)
            row.similarity, row.drift = None, None
            row.error = f"{TEXT_NOT_EXTRACTED}{error}"
            return _keep(job, result, row, worker)
        extracted = SourceText(**page.as_dict())
        if pending.seen is not None:  # judged before: the text is wanted for the source only
            row.similarity, row.drift = pending.seen.similarity, pending.seen.drift
        else:
            row.similarity = similarity(job.cited_text, extracted.text)
            row.drift = drift_for(row.similarity)
            _by_probe(job, result, extracted.text, row, worker)
        if row.outcome not in CAPTURED:
            return _keep(job, result, row, worker)
        done = UrlResult(job.url, row.outcome, check=row, extracted_now=True)
        cited = job.last is not None and job.last.cited
        if worker.config.refresh:  # a new version of the archive: its text is the source's
            done.capture, done.source = worker.capture(result), extracted
        elif job.last is None or not _same_text(extracted.text, job.capture_text):
            done.capture, done.version = worker.capture(result), extracted.text
            done.source = None if cited else extracted
        if done.capture is not None:
            done.evidence = evidence
        return done
    finally:
        result.close()


def fetch_host(
    jobs: list[UrlJob],
    config: RevisitConfig,
    warc_dir: str,
    extraction: Extraction,
    on_fetched: Callable[[str], None] | None = None,
) -> list[UrlResult]:
    """Fetch URLs of one host, one after another (the fetcher keeps the politeness).

    First captures may come back still extracting (``UrlResult.finish`` waits), so a local
    run's thread goes on to its next chunk while the pages of the last one are extracted;
    revisits are judged to the end here, since a changed page may need the probe and a capture.

    Args:
        jobs: URLs of a single host, revisits with their texts filled in.
        config: the run's options.
        warc_dir: where this process writes its WARC files.
        extraction: shared by the threads of a run (``INLINE`` elsewhere).
        on_fetched: called with each URL once it is fetched, from this thread (progress bars).

    Returns:
        One ``UrlResult`` per job, in order.
    """
    worker = _Worker(config, warc_dir, extraction)
    fetched: list[UrlResult | _Pending] = []
    try:
        for job in jobs:
            fetched.append(_fetch_one(job, worker))
            if on_fetched is not None:
                on_fetched(job.url)
        return [_finish(r, worker) if isinstance(r, _Pending) else r for r in fetched]
    finally:
        for item in fetched:  # kept open only if something failed (closing twice is harmless)
            if isinstance(item, _Pending):
                item.result.close()


def revisit_host(
    jobs: list[UrlJob], config: RevisitConfig, warc_dir: str, wait: float = 0.0
) -> list[UrlResult]:
    """``fetch_host`` for any executor: inline extraction, every result finished (picklable).

    The host's last chunk may have run in another process (a cluster's workers), whose throttle
    this one does not share: the host is left alone for ``wait`` seconds first, and each result's
    ``host_wait`` says how long this process's throttle keeps the host once the chunk is done.

    Args:
        jobs: URLs of a single host.
        wait: seconds before the host may be contacted (``politeness.HostPace.left``).
    """
    if not jobs:
        return []
    host = urlsplit(jobs[0].url).hostname or ""
    DEFAULT_THROTTLE.defer(host, wait)
    results = [result.finish() for result in fetch_host(jobs, config, warc_dir, INLINE)]
    left = DEFAULT_THROTTLE.wait_time(host)
    for result in results:
        result.host_wait = left
    return results
