"""The row shapes every layer shares: what a fetch of a cited URL gave, as the store keeps it.

The workers (``run/``) build these, the store (``store/``) writes and reads them, and neither
imports the other: a capture, a check, a source's extracted columns, what the archive already
knows of a payload, and one URL's outcome, each a dataclass with ``as_dict()`` for sqlite-utils.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the evidence stage imports nothing from here
    from archiver.evidence.find import Evidence

#: Starts the ``error`` of a capture whose text could not be extracted; a rerun fetches it again.
TEXT_NOT_EXTRACTED = "text not extracted: "


class _Columns:
    """A row of flat values (str, int, float, None): its columns are its fields, copied
    shallowly; ``dataclasses.asdict`` would deep-copy each value, for every row saved."""

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class CaptureRow(_Columns):
    """A ``captures`` row: one fetch, the WARC record it was written to (if any)."""

    url: str
    captured_at: str
    outcome: str
    status_code: int | None = None
    final_url: str | None = None
    redirects: str | None = None  # JSON list of hops
    content_type: str | None = None
    content_length: int | None = None
    payload_sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    elapsed_ms: int | None = None
    error: str | None = None
    warc_path: str | None = None
    warc_offset: int | None = None
    warc_record_id: str | None = None


@dataclass
class CheckRow(_Columns):
    """A ``checks`` row: the state of a link now, judged against what was archived."""

    url: str
    checked_at: str
    outcome: str
    status_code: int | None = None
    final_url: str | None = None
    similarity: float | None = None
    drift: str | None = None
    error: str | None = None
    elapsed_ms: int | None = None
    payload_sha256: str | None = None
    capture_id: int | None = None  # the capture this check made, if the text had changed


@dataclass(frozen=True)
class SourceText(_Columns):
    """The ``sources`` columns an extraction fills: text and metadata of one body."""

    title: str | None = None
    author: str | None = None
    published: str | None = None
    published_from: str | None = None
    sitename: str | None = None
    language: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class Known:
    """A payload seen before, and what was found of it (a 304 stands for the capture's).

    ``found``: a check already found this very body to be the page (neither an error nor a
    challenge page), so seeing it again teaches nothing new.
    """

    payload_sha256: str | None
    similarity: float | None
    drift: str | None
    found: bool = False


@dataclass(frozen=True)
class LastCapture:
    """The last good capture of a URL: its validators and the WARC record a revisit refers to."""

    id: int
    payload_sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    record_id: str | None = None
    captured_at: str | None = None
    final_url: str | None = None
    #: Its text could not be extracted: ``archive`` fetches the URL again as if never captured.
    text_missing: bool = False
    cited: bool = False  # ``sources.text`` holds the text the claims were archived from


@dataclass
class UrlRows:
    """What one fetch of a cited URL gave, as rows: a capture, a check, or both.

    ``source`` holds the ``sources`` columns to write (a capture whose text becomes the source's);
    ``version`` the text of a later version, kept in ``capture_texts``; ``evidence`` the claims
    citing the URL against the new capture, as (citation id, evidence).
    """

    url: str
    outcome: str
    capture: CaptureRow | None = None
    check: CheckRow | None = None
    source: SourceText | None = None
    version: str | None = None
    evidence: list[tuple[int, Evidence]] = field(default_factory=list)
    extracted_now: bool = False  # the extractor ran for this URL
