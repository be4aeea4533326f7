"""Revisit one host's cited URLs: the worker side of ``archiver check``.

``check_host`` is a plain function of a few URLs of one host that returns row-shaped, picklable
results, like ``pipeline.archive_host``, so any ``concurrent.futures.Executor`` can run it; it
never touches SQLite (``check.py`` reads what the archive knows into each ``CheckJob`` and saves
the ``CheckResult`` rows).

What one check does:

1. A GET (servers answer HEAD wrongly), conditional on the last good capture's ETag and
   Last-Modified. A 304, or a payload whose digest was seen before, learns nothing new of the
   page: no extraction, no WARC, the earlier similarity is carried over.
2. The answer is classified (``archiver.linkrot.verdicts``), where its redirects led first,
   whatever the last hop answered (a 304 too): a bot-challenge page or a redirect to a login
   page is ``blocked``;
   a redirect to the home page or a ``/404``-like page, an error-page title, or the same page
   the site serves for a made-up path (one probe per site directory per run) is ``soft_404``.
   Unless that page is a JavaScript app's shell, one page for every path, and the URL's
   archived text was no more than that shell: then the archive never held anything that tells
   this page from a missing one, and the check says ``ok`` with a "cannot tell" note in
   ``error`` rather than count towards ``dead`` a page that may well be there.
3. A live page whose text differs from the last capture's is captured again (WARC records, and
   for the coordinator a ``captures`` row and its text), so both versions stay; its similarity
   to the text the claim was archived from gives ``drift``.
"""

from __future__ import annotations

import logging
import posixpath
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from typing import Any
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
from archiver.net.result import FetchResult
from archiver.run.archive import CAPTURED, TEXT_NOT_EXTRACTED
from archiver.run.workers import (
    INLINE,
    Extraction,
    final_response,
    process_writer,
    worker_fetch,
)

LOGGER = logging.getLogger(__name__)

__all__ = ["CheckConfig", "CheckJob", "CheckResult", "check_host", "probe_url"]

#: Bytes of a body read for titles and challenge markers.
SIGNAL_BYTES = 64_000
#: Extractions in one run after which they move to worker processes (most checks need none).
POOL_AFTER = 8


@dataclass(frozen=True)
class CheckConfig:
    """Options of one check run, picklable for any executor."""

    fetch: FetchConfig
    #: Probes are cached per run: a new run asks each site again.
    run_id: str = field(default_factory=lambda: secrets.token_hex(8))
    probe: bool = True  # fetch a made-up path per site directory to find soft 404s


@dataclass(frozen=True)
class CheckJob:
    """One URL to check, with what the archive already knows about it.

    ``known`` lists payload digests seen before (the last capture's first, which a 304 answer
    stands for; then the last check's) with their (similarity, drift) and whether a check already
    found that body to be the page (neither an error nor a challenge page), so an unchanged body
    needs no extraction and, once checked, no second look. The texts are filled just before the
    job's chunk is submitted, so a run over 10,000 URLs does not hold 10,000 texts.
    """

    url: str
    capture_id: int | None = None  # the last good capture
    etag: str | None = None  # its validators, sent when the last check found the page
    last_modified: str | None = None
    known: tuple[tuple[str | None, float | None, str | None, bool], ...] = ()
    has_cited_text: bool = False
    cited_text: str | None = None  # sources.text: what the claim was archived from
    capture_text: str | None = None  # text of the last good capture
    #: The claims citing the URL: a new capture's evidence is found where it is extracted.
    claims: tuple[CitedClaim, ...] = ()


@dataclass
class CheckResult:
    """What checking one URL gave, as rows: always a check, sometimes a new capture."""

    url: str
    outcome: str
    check: dict[str, Any]
    capture: dict[str, Any] | None = None
    text: str | None = None  # the new capture's text
    extracted: dict[str, str | None] | None = None  # sources columns, for a never-archived URL
    extracted_now: bool = False  # whether this check ran the extractor
    evidence: list[tuple[int, Evidence]] | None = None  # the claims against the new capture


@dataclass
class _Worker:
    """What the checks of one chunk share in a worker."""

    config: CheckConfig
    warc_dir: str
    extract: Extraction

    def writer(self) -> WarcWriter:
        return process_writer(self.warc_dir)


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


def _probe_says(job: CheckJob, result: FetchResult, text: str | None, probe: _Probe) -> str | None:
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
    """A live page whose new text is being extracted; its fetch result stays open till then."""

    job: CheckJob
    result: FetchResult
    row: dict[str, Any]
    extracted: Future[tuple[Extracted, list[tuple[int, Evidence]]]]


def _check_one(job: CheckJob, worker: _Worker) -> CheckResult | _Pending:
    result = worker_fetch(
        job.url, worker.config.fetch, etag=job.etag, last_modified=job.last_modified
    )
    judged: CheckResult | _Pending | None = None
    try:
        judged = _judge(job, result, worker)
        return judged
    finally:
        if not isinstance(judged, _Pending):
            result.close()


def _judge(job: CheckJob, result: FetchResult, worker: _Worker) -> CheckResult | _Pending:
    """What the response says at once; a page with a new body is left to ``_finish``.

    Where the redirects led is judged first: it is the outcome of the whole chain, whatever the
    last hop answered (a 304 or a body seen before says nothing about the chain).
    """
    row = result.as_check_row()
    found = redirect_reason(job.url, result.final_url) if result.outcome in CAPTURED else None
    if found is not None:
        row["outcome"], row["error"] = found
        return CheckResult(job.url, found[0], row)
    known = {entry[0]: entry[1:] for entry in job.known if entry[0]}
    if result.status_code == 304:  # unchanged since the last capture, whose validators were sent
        if job.known:
            row["payload_sha256"], row["similarity"], row["drift"], _ = job.known[0]
        return CheckResult(job.url, result.outcome, row)
    if result.body is None:
        return CheckResult(job.url, result.outcome, row)
    seen = known.get(result.payload_sha256 or "")
    if seen is None or not seen[2] or result.outcome not in CAPTURED:
        result.body.seek(0)
        found = _classify(result, result.body.read(SIGNAL_BYTES))
        if found is not None:
            row["outcome"], row["error"] = found
            return CheckResult(job.url, found[0], row)
    if result.outcome not in CAPTURED:
        return CheckResult(job.url, result.outcome, row)
    if seen is None:
        return _Pending(job, result, row, worker.extract.submit_with_evidence(result, job.claims))
    row["similarity"], row["drift"] = seen[:2]
    if seen[2]:  # a check found this very body to be the page: nothing new to learn
        return CheckResult(job.url, result.outcome, row)
    # The body is the last capture's, not yet found to be the page: its text is the capture's.
    return CheckResult(job.url, _by_probe(job, result, job.capture_text, row, worker), row)


def _by_probe(
    job: CheckJob, result: FetchResult, text: str | None, row: dict[str, Any], worker: _Worker
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
        row["error"] = (
            f"{CANNOT_TELL}the site answers any path with the same JavaScript app shell, as this "
            "URL did when archived; the page is made in the browser"
        )
        return result.outcome
    row.update(outcome="soft_404", error=reason, similarity=None, drift=None)
    return "soft_404"


def _shell_as_archived(job: CheckJob, result: FetchResult, text: str | None) -> bool:
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


def _finish(pending: _Pending, worker: _Worker) -> CheckResult:
    """Drift against the cited text, the soft-404 probe, and a new capture if the text changed."""
    job, result, row = pending.job, pending.result, pending.row
    try:
        try:
            page, evidence = pending.extracted.result()
        except CancelledError:  # Ctrl-C: nothing failed, and the chunk is not saved
            raise
        except Exception as error:  # its worker process died twice: cannot tell, look again
            LOGGER.warning("%s: %s%s", job.url, TEXT_NOT_EXTRACTED, error)
            row.update(similarity=None, drift=None, error=f"{TEXT_NOT_EXTRACTED}{error}")
            return CheckResult(job.url, row["outcome"], row)
        extracted = page.as_dict()
        text = extracted["text"]
        row["similarity"] = similarity(job.cited_text, text)
        row["drift"] = drift_for(row["similarity"])
        outcome = _by_probe(job, result, text, row, worker)
        check = CheckResult(job.url, outcome, row, extracted_now=True)
        if outcome not in CAPTURED:
            return check
        if job.capture_id is None or not _same_text(text, job.capture_text):
            final = final_response(worker.writer().write_fetch(result))
            check.capture = result.as_row() | {
                "warc_path": str(final.path) if final else None,
                "warc_offset": final.offset if final else None,
                "warc_record_id": final.record_id if final else None,
            }
            check.text = text
            check.evidence = evidence
            if not job.has_cited_text:
                check.extracted = extracted
        return check
    finally:
        result.close()


def check_host(
    jobs: list[CheckJob],
    config: CheckConfig,
    warc_dir: str,
    *,
    extraction: Extraction | None = None,
    on_fetched: Callable[[str], None] | None = None,
) -> list[CheckResult]:
    """Check URLs of one host, one after another (the fetcher keeps the politeness).

    Args:
        jobs: URLs of a single host, with their texts filled in.
        config: check options.
        warc_dir: where this process writes new snapshots (opened only if one is needed).
        extraction: shared by the threads of a run; inline extraction when None.
        on_fetched: called with each URL once it is fetched, from this thread (progress bars).

    Returns:
        One ``CheckResult`` per job, in order.
    """
    worker = _Worker(config, warc_dir, extraction or INLINE)
    judged: list[CheckResult | _Pending] = []
    try:
        for job in jobs:
            judged.append(_check_one(job, worker))
            if on_fetched is not None:
                on_fetched(job.url)
        return [_finish(r, worker) if isinstance(r, _Pending) else r for r in judged]
    finally:
        for item in judged:  # kept open only if something failed (closing twice is harmless)
            if isinstance(item, _Pending):
                item.result.close()
