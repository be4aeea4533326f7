"""WARC 1.1 files for captures: request, response and revisit records written with warcio.

Records are built explicitly with ``WARCWriter.create_warc_record`` (never ``capture_http``, which
monkeypatches ``http.client``) from the ``Exchange`` objects the fetcher returns, so any web-archive
tool (pywb, replayweb.page, ``warcio check``) can open the files.

Files and crash safety, following the Heritrix conventions:

* Names are ``{prefix}-{UTC timestamp}-{hostname}-{pid}-{random hex}-{serial:05d}.warc.gz``, so
  writers in several threads, processes or machines sharing one directory never collide; the file
  is created with ``O_EXCL`` as a last guard.
* A file is written as ``NAME.warc.gz.open`` and renamed to ``NAME.warc.gz`` when it is closed or
  rotated, so readers and rsync jobs can tell finished files from live ones.
* Each record is its own gzip member (the WARC "record-at-a-time compression" of ISO 28500 annex
  D), so a reader can seek to a record's offset. After each fetch the file is flushed and fsynced:
  a ``kill -9`` or a power cut loses at most the fetch in flight.
* A writer holds an exclusive ``flock`` on its ``.open`` file for as long as it writes it; the
  kernel releases it when the process dies, ``kill -9`` included. That lock, not the pid in the
  name, tells a live writer from a dead one: pids are reused, quickly in containers, and a new
  process with a dead writer's pid once kept its file ``.open`` for good.
* After each fetch the writer also makes sure its file is still where the rows will point: a
  folder removed or moved mid-run is a ``StorageError`` at once, like a full disk, not a loss
  found at the end.
* Recovery: a complete gzip member (its CRC-32 and size trailer verified by zlib) is a complete
  record, because the writer ends a member only after the record's last byte. ``repair`` walks the
  members of a leftover ``.open`` file, truncates it after the last complete one and renames it;
  ``recover_open_files`` does that for the files no writer holds found in a directory.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import io
import logging
import os
import re
import secrets
import socket
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.warcwriter import WARCWriter as _WarcioWriter
from zlib_ng import zlib_ng

from archiver.errors import StorageError
from archiver.net.result import Exchange, FetchResult
from archiver.version import __version__

LOGGER = logging.getLogger(__name__)

__all__ = [
    "REVISIT_PROFILE",
    "RecordRef",
    "WarcScan",
    "WarcWriter",
    "read_records",
    "recover_open_files",
    "repair",
]

REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
OPEN_SUFFIX = ".open"
#: A low level: the coordinator compresses every page it archives, and higher levels cost much
#: more CPU for files barely smaller (bench/README.md, "Where the CPU goes").
GZIP_LEVEL = 3
_CHUNK = 1 << 16
#: Heritrix-style 17-digit timestamp, then host, pid, per-writer random token and serial.
_NAME_RE = re.compile(
    r"^(?P<prefix>.+?)-(?P<ts>\d{17})-(?P<host>.+)-(?P<pid>\d+)-(?P<token>[0-9a-f]+)"
    r"-(?P<serial>\d{5,})\.warc\.gz(?:\.open)?$"
)


@dataclass(frozen=True)
class RecordRef:
    """Where one written record lives, so the db can point at it (``warc_path``/``warc_offset``).

    ``path`` is the file's final name (without ``.open``), valid once the writer closes or rotates
    the file, or after ``repair``. ``length`` is the compressed size of the record's gzip member.
    """

    path: Path
    offset: int
    length: int
    record_id: str
    payload_digest: str | None
    record_type: str
    target_uri: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "offset": self.offset,
            "length": self.length,
            "record_id": self.record_id,
            "payload_digest": self.payload_digest,
            "record_type": self.record_type,
            "target_uri": self.target_uri,
        }


@dataclass
class WarcScan:
    """What ``read_records`` found: the complete records and whether the file ends torn."""

    path: Path
    records: list[RecordRef] = field(default_factory=list)
    #: True when the file ends with an incomplete record (a writer killed mid-record).
    torn: bool = False
    #: Byte length of the file up to the end of the last complete record.
    valid_length: int = 0
    error: str | None = None

    @property
    def count(self) -> int:
        return len(self.records)


class _WireHeaders(StatusAndHeaders):  # type: ignore[misc]
    """HTTP headers serialised as Latin-1, the bytes that crossed the wire.

    ``requests``/``http.client`` decode header bytes as Latin-1, so encoding them back gives the
    original bytes; warcio's default would percent-encode any non-ASCII value instead.
    """

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        try:
            self.headers_buff = self.to_str(header_filter).encode("latin-1") + b"\r\n"
        except UnicodeEncodeError:  # not from the wire: let warcio percent-encode (RFC 8187)
            super().compute_headers_buffer(header_filter)


def sha1_digest(stream: IO[bytes]) -> str:
    """WARC-style ``sha1:BASE32`` digest of a whole stream, read in chunks, then rewound."""
    digester = hashlib.sha1()
    stream.seek(0)
    for chunk in iter(lambda: stream.read(_CHUNK), b""):
        digester.update(chunk)
    stream.seek(0)
    return "sha1:" + base64.b32encode(digester.digest()).decode("ascii")


def warc_date(value: str | None, *, micros: bool = True) -> str:
    """An ISO 8601 timestamp as a WARC-Date (UTC, ``Z``); now when missing or unparseable."""
    moment = None
    if value:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            LOGGER.warning("unparseable timestamp %r, using the current time", value)
    if moment is None:
        moment = datetime.now(UTC)
    if moment.tzinfo is None:  # naive timestamps in records.py are UTC by contract
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if micros and moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def _stream_length(stream: IO[bytes]) -> int:
    stream.seek(0, io.SEEK_END)
    length = stream.tell()
    stream.seek(0)
    return length


def _safe_host(name: str) -> str:
    """Hostname as a file-name part: only letters, digits, dot, hyphen and underscore."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "localhost"


class _GzipMemberPerRecord:
    """A file wrapper that gzips what is written, one gzip member per ``flush``.

    warcio writes each record and then flushes, so this gives the same record-at-a-time
    compression as its own ``gzip=True``, but with zlib-ng at ``GZIP_LEVEL`` instead of
    warcio's fixed 9: the coordinator compresses every page it archives.
    """

    def __init__(self, out: IO[bytes], directory: Path, level: int = GZIP_LEVEL) -> None:
        self.out = out
        self.directory = directory
        self.level = level
        self._compressor = self._new()

    def _new(self) -> Any:
        return zlib_ng.compressobj(self.level, zlib_ng.DEFLATED, zlib_ng.MAX_WBITS + 16)

    def write(self, data: bytes) -> int:
        try:
            self.out.write(self._compressor.compress(data))
        except OSError as error:  # only the file's own errors: the body is read by the caller
            raise _unwritable(self.directory, error) from error
        return len(data)

    def flush(self) -> None:
        try:
            self.out.write(self._compressor.flush())
            self._compressor = self._new()
            self.out.flush()
        except OSError as error:
            raise _unwritable(self.directory, error) from error


def _unwritable(directory: Path, error: OSError) -> StorageError:
    """The ``StorageError`` for an OS error met writing WARC records into ``directory``."""
    return StorageError(str(directory), error.strerror or str(error), errno=error.errno)


class WarcWriter:
    """Append fetches to rotating, gzip-per-record WARC files in one directory.

    One writer is safe to share between threads (a lock serialises fetches); processes and
    machines each use their own writer, and the unique file names keep them apart.

    Args:
        directory: where the files go (created if missing).
        prefix: first part of every file name.
        max_bytes: a file is closed and a new one started once it passes this size; a single
            fetch is never split across files, so a file can exceed it by one fetch.
        warc_version: ``WARC/1.1`` (the default) or ``WARC/1.0``.
        info: extra ``warcinfo`` fields (operator, robots policy, http-header-user-agent...).
        fsync: fsync after each fetch (the default) so a crash loses at most the fetch in flight.
    """

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str = "archiver",
        max_bytes: int = 1_000_000_000,
        warc_version: str = "WARC/1.1",
        info: Mapping[str, str] | None = None,
        fsync: bool = True,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if "/" in prefix or os.sep in prefix:
            raise ValueError(f"prefix must not contain a path separator: {prefix!r}")
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # a file in its place, a read-only parent
            raise _unwritable(self.directory, error) from error
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.warc_version = warc_version
        self._micros = warc_version != "WARC/1.0"  # WARC 1.1 allows sub-second WARC-Date
        self.info = dict(info or {})
        self.fsync = fsync
        self.hostname = socket.gethostname()
        self._host_part = _safe_host(self.hostname)
        self._token = secrets.token_hex(4)
        self._serial = 0
        self._lock = threading.RLock()
        self._file: IO[bytes] | None = None
        self._writer: Any = None
        self._open_path: Path | None = None
        self._final_path: Path | None = None
        #: Final paths of every file this writer has started, in order.
        self.paths: list[Path] = []
        self.closed = False

    # -- context manager ---------------------------------------------------------------------
    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def current_path(self) -> Path | None:
        """Final name of the file being written, or None between files."""
        return self._final_path

    # -- public API --------------------------------------------------------------------------
    def write_fetch(self, result: FetchResult) -> list[RecordRef]:
        """Write a response and a request record for every hop of ``result``.

        Returns:
            One ``RecordRef`` per record, in file order (response, then its request, per hop);
            the last ``response`` ref is the final capture. Empty when nothing was exchanged.
        """
        if not result.exchanges:
            return []
        last = len(result.exchanges) - 1
        return self._write_atomically(
            lambda: [
                ref
                for index, exchange in enumerate(result.exchanges)
                for ref in self._write_exchange(
                    exchange, _truncation(result, exchange, final=index == last)
                )
            ]
        )

    def write_revisit(
        self,
        result: FetchResult,
        *,
        refers_to: RecordRef | str,
        refers_to_uri: str,
        refers_to_date: str,
    ) -> list[RecordRef]:
        """Record a refresh whose final payload is identical to an earlier capture.

        Earlier hops (redirects) are written in full; the final hop becomes a headers-only
        ``revisit`` record (identical-payload-digest profile) plus its request. When the new
        payload's digest differs from ``refers_to.payload_digest`` the final hop is written as a
        full response instead, so nothing is lost on a caller's mistake.

        Args:
            refers_to: the earlier response record, or its WARC-Record-ID.
            refers_to_uri: WARC-Target-URI of that record.
            refers_to_date: its WARC-Date (or the capture's ISO timestamp).
        """
        if not result.exchanges:
            return []
        final = result.exchanges[-1]
        digest = sha1_digest(final.raw_body) if final.raw_body is not None else _EMPTY_SHA1
        if isinstance(refers_to, RecordRef):
            record_id = refers_to.record_id
            if refers_to.payload_digest and refers_to.payload_digest != digest:
                LOGGER.warning(
                    "payload of %s changed (%s != %s): writing a full response, not a revisit",
                    final.url,
                    digest,
                    refers_to.payload_digest,
                )
                return self.write_fetch(result)
        else:
            record_id = refers_to

        def write_all() -> list[RecordRef]:
            refs: list[RecordRef] = []
            for exchange in result.exchanges[:-1]:
                refs += self._write_exchange(exchange, _truncation(result, exchange, final=False))
            revisit = self._writer.create_revisit_record(
                final.url,
                digest,
                refers_to_uri,
                warc_date(refers_to_date, micros=self._micros),
                http_headers=_response_headers(final),
                warc_headers_dict=self._common_headers(final, "revisit"),
            )
            revisit.rec_headers.add_header("WARC-Refers-To", record_id)
            revisit_ref = self._write_record(revisit)
            refs.append(revisit_ref)
            refs.append(self._write_request(final, revisit_ref.record_id))
            return refs

        return self._write_atomically(write_all)

    def close(self) -> None:
        """Finish the current file (flush, fsync, rename from ``.open``). Safe to call twice.

        Raises:
            StorageError: the file could not be finished; it stays ``.open`` for recovery.
        """
        with self._lock:
            self.closed = True
            self._finish_file()

    # -- files -------------------------------------------------------------------------------
    def _write_atomically(self, write: Callable[[], list[RecordRef]]) -> list[RecordRef]:
        """Run ``write`` so that a fetch lands whole or not at all, then sync and maybe rotate.

        Raises:
            StorageError: the records cannot be written (disk full, folder gone); the file is
                let go (``_abandon_file``) and the next write starts a new one.
        """
        with self._lock:
            if self.closed:
                raise ValueError("write to a closed WarcWriter")
            start = 0
            try:
                self._ensure_file()
                assert self._file is not None
                start = self._file.tell()
                refs = write()
                self._sync()
            except StorageError:
                self._abandon_file(start)
                raise
            except BaseException:
                # A half-written gzip member would make every later record unreadable: cut it off.
                LOGGER.exception("WARC write failed; truncating %s to %d", self._open_path, start)
                if self._file is not None:
                    self._file.seek(start)
                    self._file.truncate(start)
                    self._sync()
                raise
            if self._file.tell() >= self.max_bytes:
                self._finish_file()
            return refs

    def _ensure_file(self) -> None:
        if self._file is not None:
            return
        while True:
            self._serial += 1
            stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
            name = (
                f"{self.prefix}-{stamp}-{self._host_part}-{os.getpid()}-{self._token}"
                f"-{self._serial:05d}.warc.gz"
            )
            final_path = self.directory / name
            open_path = self.directory / (name + OPEN_SUFFIX)
            if final_path.exists():  # only after a clock jump with the same token: take the next
                continue
            try:
                handle = open(open_path, "xb")  # noqa: SIM115 -- lives until _finish_file
            except FileExistsError:
                continue
            except OSError as error:
                raise _unwritable(self.directory, error) from error
            # Between open and lock the empty file looks dead: a recovery that took it then
            # removes it, so it is not ours to write unless the lock and the name are.
            try:
                ours = _try_lock(handle) is not False and _same_file(handle, open_path)
            except OSError as error:
                handle.close()
                raise _unwritable(self.directory, error) from error
            if ours:
                break
            handle.close()
        self._file = handle
        self._open_path = open_path
        self._final_path = final_path
        self.paths.append(final_path)
        self._writer = _WarcioWriter(
            _GzipMemberPerRecord(handle, self.directory), gzip=False, warc_version=self.warc_version
        )
        self._write_record(self._writer.create_warcinfo_record(name, self._warcinfo()))
        self._sync()
        LOGGER.info("started WARC file %s", open_path)

    def _finish_file(self) -> None:
        """Sync the file and rename it from ``.open`` while it is still locked, then let go."""
        if self._file is None:
            return
        assert self._open_path is not None and self._final_path is not None
        try:
            self._sync()
            try:
                os.replace(self._open_path, self._final_path)
            except OSError as error:
                raise _unwritable(self.directory, error) from error
        except StorageError:
            self._abandon_file(None)
            raise
        self._file.close()  # releases the lock
        _fsync_directory(self.directory)
        LOGGER.info("finished WARC file %s", self._final_path)
        self._file = None
        self._writer = None
        self._open_path = None
        self._final_path = None

    def _abandon_file(self, cut_at: int | None) -> None:
        """Let go of a file that cannot be written: it stays ``.open`` and unlocked, so the next
        recovery repairs it, and the next write starts a new file.

        The failed fetch is cut off at ``cut_at`` where the file still allows it; where not,
        the repair cuts the torn record instead.
        """
        handle = self._file
        self._file = None
        self._writer = None
        self._open_path = None
        self._final_path = None
        if handle is None:
            return
        if cut_at is not None:
            with contextlib.suppress(OSError):
                handle.seek(cut_at)
                handle.truncate(cut_at)
        with contextlib.suppress(OSError):  # the buffered bytes are the failed fetch's
            handle.close()

    def _sync(self) -> None:
        """Flush and fsync, then make sure the file is still where the rows will point."""
        assert self._file is not None and self._open_path is not None
        try:
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())
            in_place = _same_file(self._file, self._open_path)
        except OSError as error:
            raise _unwritable(self.directory, error) from error
        if not in_place:
            raise StorageError(
                str(self.directory), f"{self._open_path.name} was moved or deleted while written"
            )

    def _warcinfo(self) -> dict[str, str]:
        version = self.warc_version.removeprefix("WARC/")
        fields = {
            "software": f"citation-archiver/{__version__} (warcio)",
            "format": f"WARC File Format {version}",
            "conformsTo": (
                "https://iipc.github.io/warc-specifications/specifications/warc-format/"
                f"warc-{version}/"
            ),
            "hostname": self.hostname,
            "isPartOf": self.prefix,
        }
        fields.update(self.info)
        return fields

    # -- records -----------------------------------------------------------------------------
    def _common_headers(self, exchange: Exchange, record_type: str) -> dict[str, str]:
        """WARC headers in the customary order (type, id, URI, date first); warcio keeps it."""
        headers = {
            "WARC-Type": record_type,
            "WARC-Record-ID": StatusAndHeadersParser.make_warc_id(),
            "WARC-Target-URI": exchange.url,
            "WARC-Date": warc_date(exchange.started_at, micros=self._micros),
        }
        if exchange.ip_address:
            headers["WARC-IP-Address"] = exchange.ip_address
        return headers

    def _write_exchange(self, exchange: Exchange, truncated: str | None) -> list[RecordRef]:
        """Response record (streamed body), then the request record pointing at it."""
        warc_headers = self._common_headers(exchange, "response")
        if truncated:
            warc_headers["WARC-Truncated"] = truncated
        body: IO[bytes] = exchange.raw_body if exchange.raw_body is not None else io.BytesIO()
        length = _stream_length(body)
        response = self._writer.create_warc_record(
            exchange.url,
            "response",
            payload=body,
            length=length,
            http_headers=_response_headers(exchange),
            warc_headers_dict=warc_headers,
        )
        try:
            response_ref = self._write_record(response)
        finally:
            body.seek(0)
        return [response_ref, self._write_request(exchange, response_ref.record_id)]

    def _write_request(self, exchange: Exchange, concurrent_to: str) -> RecordRef:
        parts = urlsplit(exchange.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = list(exchange.request_headers)
        if not any(name.lower() == "host" for name, _ in headers):
            headers.insert(0, ("Host", parts.netloc.rpartition("@")[2]))
        # requests/urllib3 only speak HTTP/1.1, whatever version the server answered with.
        http_headers = _WireHeaders(f"{target} HTTP/1.1", headers, protocol=exchange.method.upper())
        warc_headers = self._common_headers(exchange, "request")
        warc_headers["WARC-Concurrent-To"] = concurrent_to
        request = self._writer.create_warc_record(
            exchange.url,
            "request",
            payload=io.BytesIO(),
            length=0,
            http_headers=http_headers,
            warc_headers_dict=warc_headers,
        )
        return self._write_record(request)

    def _write_record(self, record: Any) -> RecordRef:
        assert self._file is not None and self._final_path is not None
        offset = self._file.tell()
        self._writer.write_record(record)
        headers = record.rec_headers
        return RecordRef(
            path=self._final_path,
            offset=offset,
            length=self._file.tell() - offset,
            record_id=headers.get_header("WARC-Record-ID"),
            payload_digest=headers.get_header("WARC-Payload-Digest"),
            record_type=headers.get_header("WARC-Type"),
            target_uri=headers.get_header("WARC-Target-URI"),
        )


_EMPTY_SHA1 = "sha1:" + base64.b32encode(hashlib.sha1(b"").digest()).decode("ascii")


def _response_headers(exchange: Exchange) -> _WireHeaders:
    """Status line and headers as received, minus ``Transfer-Encoding``.

    The stored body has chunked framing removed (content-encoding kept), so keeping the header
    would make replay tools try to de-chunk it.
    """
    headers = [(n, v) for n, v in exchange.response_headers if n.lower() != "transfer-encoding"]
    statusline = f"{exchange.status_code} {exchange.reason}".rstrip()
    return _WireHeaders(statusline, headers, protocol=exchange.http_version or "HTTP/1.1")


def _truncation(result: FetchResult, exchange: Exchange, *, final: bool) -> str | None:
    """WARC-Truncated reason when the stored body is shorter than what the server sent."""
    if exchange.raw_body is None and exchange.status_code in (204, 304):
        return None
    if final and result.outcome == "too_large":
        return "length"
    if final and result.outcome == "timeout":
        return "time"
    declared = next(
        (v for n, v in exchange.response_headers if n.lower() == "content-length"), None
    )
    if declared is None or exchange.method.upper() == "HEAD":
        return None
    try:
        declared_length = int(declared.strip())
    except ValueError:
        return None
    stored = _stream_length(exchange.raw_body) if exchange.raw_body is not None else 0
    return "unspecified" if stored < declared_length else None


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable; not possible on every platform, so best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- reading and recovery ------------------------------------------------------------------------
def _gzip_members(path: Path) -> tuple[list[int], bool]:
    """End offsets of the complete gzip members of ``path``, and whether a torn one follows.

    zlib checks each member's CRC-32 and length trailer before reporting its end, so a listed
    member is whole. Output is discarded in bounded pieces: memory stays flat for any file.
    """
    ends: list[int] = []
    consumed = 0  # compressed bytes belonging to finished members
    with open(path, "rb") as handle:
        decomp = zlib.decompressobj(zlib.MAX_WBITS | 16)
        in_member = 0
        pending = b""
        while True:
            data = pending or handle.read(_CHUNK)
            pending = b""
            if not data:
                break
            try:
                while data:
                    decomp.decompress(data, _CHUNK)
                    if decomp.eof:
                        # What follows the member is in unused_data; when the output limit was
                        # reached at the same call, zlib leaves it in unconsumed_tail as well.
                        unused = decomp.unused_data
                        consumed += in_member + len(data) - len(unused)
                        ends.append(consumed)
                        in_member = 0
                        decomp = zlib.decompressobj(zlib.MAX_WBITS | 16)
                        data = unused
                    else:
                        in_member += len(data) - len(decomp.unconsumed_tail)
                        data = decomp.unconsumed_tail
            except zlib.error:
                return ends, True
        return ends, in_member > 0


def read_records(path: Path) -> WarcScan:
    """Read every record of a WARC file with warcio, tolerating a torn last record.

    A record counts when warcio reads all ``Content-Length`` bytes of it and, for gzip files, its
    member ends with a valid trailer. Reading stops at the first record that fails.
    """
    path = Path(path)
    scan = WarcScan(path=path)
    final_path = Path(str(path).removesuffix(OPEN_SUFFIX))
    gzipped = _is_gzip(path)
    member_ends: set[int] = set()
    if gzipped:
        ends, scan.torn = _gzip_members(path)
        member_ends = set(ends)
    try:
        with open(path, "rb") as handle:
            iterator = ArchiveIterator(handle)
            for record in iterator:
                stream = record.raw_stream
                while stream.read(_CHUNK):
                    pass
                short = getattr(stream, "limit", 0) > 0  # fewer bytes than Content-Length
                offset = iterator.get_record_offset()
                length = iterator.get_record_length()
                if short or (gzipped and offset + length not in member_ends):
                    scan.torn = True
                    break
                headers = record.rec_headers
                scan.records.append(
                    RecordRef(
                        path=final_path,
                        offset=offset,
                        length=length,
                        record_id=headers.get_header("WARC-Record-ID"),
                        payload_digest=headers.get_header("WARC-Payload-Digest"),
                        record_type=headers.get_header("WARC-Type"),
                        target_uri=headers.get_header("WARC-Target-URI"),
                    )
                )
                scan.valid_length = offset + length
    except Exception as err:  # warcio raises ArchiveLoadFailed, EOFError, zlib.error, ValueError...
        scan.torn = True
        scan.error = f"{type(err).__name__}: {err}".strip()
    if scan.torn:
        LOGGER.warning("%s: torn after %d complete records", path, scan.count)
    return scan


def _is_gzip(path: Path) -> bool:
    """Starts with the gzip magic (or the first byte of it: a file torn after one byte)."""
    with open(path, "rb") as handle:
        head = handle.read(2)
    return bool(head) and b"\x1f\x8b".startswith(head)


def repair(path: Path) -> Path | None:
    """Cut a gzip WARC file after its last complete record and drop a ``.open`` suffix.

    Returns:
        The repaired file's path, or None when it held no complete record and was removed.
    """
    path = Path(path)
    if not _is_gzip(path) and path.stat().st_size > 0:
        raise ValueError(f"{path} is not a gzip WARC file; only those can be repaired")
    ends, torn = _gzip_members(path)
    if not ends:
        LOGGER.warning("%s holds no complete WARC record: removed", path)
        path.unlink()
        return None
    if torn or ends[-1] != path.stat().st_size:
        LOGGER.warning("%s: truncating torn tail after byte %d", path, ends[-1])
        with open(path, "r+b") as handle:
            handle.truncate(ends[-1])
            handle.flush()
            os.fsync(handle.fileno())
    final = Path(str(path).removesuffix(OPEN_SUFFIX))
    if final != path:
        if final.exists():
            raise FileExistsError(f"cannot rename {path}: {final} exists")
        os.replace(path, final)
        _fsync_directory(final.parent)
    return final


def recover_open_files(directory: Path, *, force: bool = False) -> list[Path]:
    """Repair ``.open`` files left in ``directory`` by writers that died.

    A file is repaired only when no writer holds its lock: a live writer, in this process or
    another, always does, and the kernel lets go of a dead one's. That is certain on this host
    only (a lock over NFS may not be seen by every client), so files named for other hosts, or
    with names this module did not make, are left alone unless ``force`` is true. Returns the
    repaired files' paths.
    """
    repaired: list[Path] = []
    for path in sorted(Path(directory).glob(f"*.warc.gz{OPEN_SUFFIX}")):
        if not force and not _named_for_this_host(path):
            LOGGER.info("leaving %s alone: written on another host, or not by the archiver", path)
            continue
        try:
            handle = open(path, "rb")  # noqa: SIM115 -- holds the lock while repairing
        except FileNotFoundError:  # another run's recovery finished it meanwhile
            continue
        with handle:
            if not _try_lock(handle) or not _same_file(handle, path):
                LOGGER.info("leaving %s alone: its writer may be alive", path)
                continue
            result = repair(path)
        if result is not None:
            repaired.append(result)
    return repaired


def _named_for_this_host(path: Path) -> bool:
    match = _NAME_RE.match(path.name)
    return match is not None and match["host"] == _safe_host(socket.gethostname())


def _try_lock(handle: IO[bytes]) -> bool | None:
    """Take the exclusive lock of an open WARC file without waiting.

    Returns:
        True when taken, False when another open file (a live writer, a recovery) holds it,
        None when the file system has no locks (an NFS mount without lockd): then a writer
        goes on unlocked and recovery, which cannot tell, leaves the file alone.
    """
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as error:
        LOGGER.info("no lock for %s: %s", handle.name, error.strerror or error)
        return None
    return True


def _same_file(handle: IO[bytes], path: Path) -> bool:
    """Does ``path`` still name the file ``handle`` has open (not removed, moved or replaced)?"""
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except (FileNotFoundError, NotADirectoryError):
        return False
