"""Results of fetching, shaped like the rows they become.

``Exchange`` is one HTTP request/response hop (a redirect chain has several); ``FetchResult`` is
everything one fetch of one URL produced. The WARC writer turns exchanges into records, the
database turns a ``FetchResult`` into a ``captures`` row. Bodies live in spooled temporary files
so a 50 MB page never sits in memory whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import IO, Any

#: Outcomes that mean the page itself answered (its body is the page, or a redirect's target);
#: a tuple, so that it reads as SQL too (``outcome in ('ok', 'redirected')``).
CAPTURED = ("ok", "redirected")


@dataclass
class Exchange:
    """One HTTP hop as sent and received, enough to write WARC request/response records."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    status_code: int
    reason: str
    http_version: str  # "HTTP/1.1"
    response_headers: list[tuple[str, str]]
    #: Entity body as received (content-encoding kept, transfer-encoding removed); None when no
    #: body was read (e.g. a redirect hop whose body was skipped).
    raw_body: IO[bytes] | None = None
    ip_address: str | None = None
    started_at: str = ""  # ISO 8601 UTC, "2026-11-28T17:46:23Z"


@dataclass
class FetchResult:
    """What fetching one URL produced, successful or not. ``as_row()`` gives a ``captures`` row."""

    url: str
    outcome: str
    captured_at: str
    status_code: int | None = None
    final_url: str | None = None
    redirects: list[dict[str, Any]] = field(
        default_factory=list
    )  # [{"url", "status_code", "location"}]
    content_type: str | None = None  # media type only, lower case: "text/html"
    charset: str | None = None  # from the Content-Type header, if declared
    content_length: int | None = None  # decoded (decompressed) body length in bytes
    payload_sha256: str | None = None  # hex digest of the decoded body
    etag: str | None = None
    last_modified: str | None = None
    elapsed_ms: int | None = None
    error: str | None = None
    #: Decoded body (content-encoding undone), positioned at 0; None when nothing was kept.
    body: IO[bytes] | None = None
    exchanges: list[Exchange] = field(default_factory=list)

    def as_row(self) -> dict[str, Any]:
        """The columns of ``captures`` this result fills (warc_path/offset are added later)."""
        return {
            "url": self.url,
            "captured_at": self.captured_at,
            "outcome": self.outcome,
            "status_code": self.status_code,
            "final_url": self.final_url,
            "redirects": json.dumps(self.redirects) if self.redirects else None,
            "content_type": self.content_type,
            "content_length": self.content_length,
            "payload_sha256": self.payload_sha256,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "elapsed_ms": self.elapsed_ms,
            "error": self.error,
        }

    def as_check_row(
        self, *, similarity: float | None = None, drift: str | None = None
    ) -> dict[str, Any]:
        """The ``checks`` row of this fetch seen as a revisit of an archived URL."""
        return {
            "url": self.url,
            "checked_at": self.captured_at,
            "outcome": self.outcome,
            "status_code": self.status_code,
            "final_url": self.final_url,
            "similarity": similarity,
            "drift": drift,
            "error": self.error,
            "elapsed_ms": self.elapsed_ms,
            "payload_sha256": self.payload_sha256,
        }

    def close(self) -> None:
        """Release the temporary files behind the bodies."""
        for stream in [self.body, *(e.raw_body for e in self.exchanges)]:
            if stream is not None:
                stream.close()
