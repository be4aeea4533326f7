"""WARC writing: records built from real bytes, read back with warcio, checked by ``warcio check``."""

from __future__ import annotations

import base64
import errno
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.capture.warc import (
    REVISIT_PROFILE,
    RecordRef,
    WarcWriter,
    read_records,
    recover_open_files,
    repair,
)
from archiver.net.result import Exchange, FetchResult

HTML = (
    b"<!DOCTYPE html><html><head><title>T</title></head><body><p>Hello, archive.</p></body></html>"
)
GZIPPED_HTML = gzip.compress(HTML * 50, mtime=0)
REPO = Path(__file__).resolve().parents[1]
WARCIO = Path(sys.executable).with_name("warcio")


def spooled(data: bytes) -> IO[bytes]:
    stream: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115
    stream.write(data)
    stream.seek(0)
    return stream


def exchange(
    url: str = "https://example.org/page?q=1",
    *,
    body: bytes | None = GZIPPED_HTML,
    status: int = 200,
    reason: str = "OK",
    headers: list[tuple[str, str]] | None = None,
    started_at: str = "2026-11-28T17:46:23Z",
) -> Exchange:
    if headers is None:
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Encoding", "gzip"),
            ("Transfer-Encoding", "chunked"),
            ("ETag", '"abc"'),
        ]
    return Exchange(
        url=url,
        method="GET",
        request_headers=[("User-Agent", "citation-archiver-test"), ("Accept-Encoding", "gzip")],
        status_code=status,
        reason=reason,
        http_version="HTTP/1.1",
        response_headers=headers,
        raw_body=spooled(body) if body is not None else None,
        ip_address="93.184.216.34",
        started_at=started_at,
    )


def result(*exchanges: Exchange, outcome: str = "ok") -> FetchResult:
    last = exchanges[-1] if exchanges else None
    return FetchResult(
        url=exchanges[0].url if exchanges else "https://example.org/",
        outcome=outcome,
        captured_at="2026-11-28T17:46:23Z",
        status_code=last.status_code if last else None,
        final_url=last.url if last else None,
        exchanges=list(exchanges),
    )


def redirect_then_page() -> FetchResult:
    hop = exchange(
        "http://example.org/old",
        body=None,
        status=301,
        reason="Moved Permanently",
        headers=[("Location", "https://example.org/page?q=1"), ("Content-Length", "0")],
    )
    return result(hop, exchange(started_at="2026-11-28T17:46:24.25Z"), outcome="redirected")


@dataclass
class Read:
    """One record as warcio reads it back."""

    type: str
    headers: dict[str, str]
    http: Any
    payload: bytes
    offset: int


def read_back(path: Path) -> list[Read]:
    out = []
    with open(path, "rb") as handle:
        iterator = ArchiveIterator(handle)
        for record in iterator:
            payload = record.raw_stream.read()
            out.append(
                Read(
                    type=record.rec_type,
                    headers=dict(record.rec_headers.headers),
                    http=record.http_headers,
                    payload=payload,
                    offset=iterator.get_record_offset(),
                )
            )
    return out


def warc_digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(WARCIO), "check", "-v", str(path)], capture_output=True, text=True, check=False
    )


def only_file(directory: Path) -> Path:
    (path,) = directory.iterdir()
    return path


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, list[RecordRef], list[Read]]:
    with WarcWriter(tmp_path) as writer:
        refs = writer.write_fetch(result(exchange()))
    path = only_file(tmp_path)
    return path, refs, read_back(path)


# -- one fetch ------------------------------------------------------------------------------------
def test_records_are_warcinfo_response_request(written: Any) -> None:
    _, _, records = written
    assert [r.type for r in records] == ["warcinfo", "response", "request"]


def test_refs_point_at_the_records(written: Any) -> None:
    path, refs, records = written
    assert [(r.path, r.offset, r.record_type) for r in refs] == [
        (path, rec.offset, rec.type) for rec in records[1:]
    ]


def test_each_record_is_its_own_gzip_member_at_the_default_level(written: Any) -> None:
    """Record-at-a-time compression at ``GZIP_LEVEL`` (gzip's XFL byte 0), not warcio's 9 (XFL 2),
    which takes four times the CPU for a 7% smaller file."""
    path, refs, records = written
    data = path.read_bytes()
    starts = [rec.offset for rec in records]
    for start, end in zip(starts, [*starts[1:], len(data)], strict=True):
        member = data[start:end]
        assert member[:2] == b"\x1f\x8b" and member[8] == 0
        assert gzip.decompress(member).startswith(b"WARC/1.1\r\n")
    assert [(ref.offset, ref.length) for ref in refs] == [
        (start, end - start)
        for start, end in zip(starts[1:], [*starts[2:], len(data)], strict=True)
    ]


def test_response_payload_is_the_stored_entity(written: Any) -> None:
    _, _, records = written
    assert records[1].payload == GZIPPED_HTML


def test_payload_digest_is_sha1_base32_of_the_entity(written: Any) -> None:
    _, refs, records = written
    assert records[1].headers["WARC-Payload-Digest"] == warc_digest(GZIPPED_HTML)
    assert refs[0].payload_digest == warc_digest(GZIPPED_HTML)


def test_block_digest_covers_http_head_and_body(written: Any) -> None:
    path, refs, records = written
    with open(path, "rb") as handle:
        handle.seek(refs[0].offset)
        member = gzip.decompress(handle.read(refs[0].length))
    head, _, rest = member.partition(b"\r\n\r\n")
    block = rest[: int(records[1].headers["Content-Length"])]
    assert records[1].headers["WARC-Block-Digest"] == warc_digest(block)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WARC-Target-URI", "https://example.org/page?q=1"),
        ("WARC-Date", "2026-11-28T17:46:23Z"),
        ("WARC-IP-Address", "93.184.216.34"),
        ("Content-Type", "application/http; msgtype=response"),
    ],
)
def test_response_warc_headers(written: Any, name: str, value: str) -> None:
    assert written[2][1].headers[name] == value


def test_response_http_head_drops_transfer_encoding_keeps_content_encoding(written: Any) -> None:
    http = written[2][1].http
    assert http.statusline == "200 OK"
    assert http.get_header("Transfer-Encoding") is None
    assert http.get_header("Content-Encoding") == "gzip"


def test_request_record_reconstructs_the_request_head(written: Any) -> None:
    http = written[2][2].http
    assert (http.protocol, http.statusline) == ("GET", "/page?q=1 HTTP/1.1")
    assert http.headers[0] == ("Host", "example.org")


def test_request_is_concurrent_to_its_response(written: Any) -> None:
    _, _, records = written
    assert records[2].headers["WARC-Concurrent-To"] == records[1].headers["WARC-Record-ID"]


def test_warcinfo_names_the_software_and_format(written: Any) -> None:
    info = written[2][0].payload.decode()
    assert "software: citation-archiver/" in info
    assert "format: WARC File Format 1.1" in info
    assert "conformsTo: https://iipc.github.io/" in info


def test_warcio_check_passes(written: Any) -> None:
    checked = warcio_check(written[0])
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.count("digest pass") == 3


def test_file_is_renamed_from_open_when_closed(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    writer.write_fetch(result(exchange()))
    during = sorted(p.name for p in tmp_path.iterdir())
    writer.close()
    assert [name.endswith(".warc.gz.open") for name in during] == [True]
    assert [p.name for p in tmp_path.iterdir()] == [during[0].removesuffix(".open")]


def test_body_stream_is_rewound_after_writing(tmp_path: Path) -> None:
    fetched = result(exchange())
    with WarcWriter(tmp_path) as writer:
        writer.write_fetch(fetched)
    assert fetched.exchanges[0].raw_body is not None
    assert fetched.exchanges[0].raw_body.read() == GZIPPED_HTML


def test_nothing_exchanged_writes_nothing(tmp_path: Path) -> None:
    with WarcWriter(tmp_path) as writer:
        assert writer.write_fetch(result(outcome="unreachable")) == []
    assert list(tmp_path.iterdir()) == []


def test_fraction_of_a_second_is_kept_in_warc_1_1(tmp_path: Path) -> None:
    with WarcWriter(tmp_path) as writer:
        writer.write_fetch(result(exchange(started_at="2026-11-28T17:46:24.25+00:00")))
    assert read_back(only_file(tmp_path))[1].headers["WARC-Date"] == "2026-11-28T17:46:24.250000Z"


def test_warc_1_0_files_pass_check(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, warc_version="WARC/1.0") as writer:
        writer.write_fetch(result(exchange(started_at="2026-11-28T17:46:24.25Z")))
    path = only_file(tmp_path)
    assert gzip.open(path).read(9) == b"WARC/1.0\r"
    assert warcio_check(path).returncode == 0


# -- redirects, truncation, failures ------------------------------------------------------------
def test_redirect_chain_gives_a_pair_per_hop(tmp_path: Path) -> None:
    with WarcWriter(tmp_path) as writer:
        refs = writer.write_fetch(redirect_then_page())
    assert [(r.record_type, r.target_uri) for r in refs] == [
        ("response", "http://example.org/old"),
        ("request", "http://example.org/old"),
        ("response", "https://example.org/page?q=1"),
        ("request", "https://example.org/page?q=1"),
    ]


def test_final_response_ref_can_be_opened_by_offset(tmp_path: Path) -> None:
    with WarcWriter(tmp_path) as writer:
        final = writer.write_fetch(redirect_then_page())[2]
    with open(final.path, "rb") as handle:
        handle.seek(final.offset)
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers.get_header("WARC-Record-ID") == final.record_id
        assert record.raw_stream.read() == GZIPPED_HTML


def test_redirect_chain_passes_warcio_check(tmp_path: Path) -> None:
    with WarcWriter(tmp_path) as writer:
        writer.write_fetch(redirect_then_page())
    assert warcio_check(only_file(tmp_path)).returncode == 0


def test_body_cut_by_the_byte_cap_is_marked_truncated(tmp_path: Path) -> None:
    with WarcWriter(tmp_path) as writer:
        writer.write_fetch(result(exchange(body=GZIPPED_HTML[:100]), outcome="too_large"))
    assert read_back(only_file(tmp_path))[1].headers["WARC-Truncated"] == "length"


def test_complete_body_is_not_marked_truncated(written: Any) -> None:
    assert "WARC-Truncated" not in written[2][1].headers


def test_failed_write_leaves_no_partial_fetch(tmp_path: Path) -> None:
    broken = redirect_then_page()
    assert broken.exchanges[1].raw_body is not None
    broken.exchanges[1].raw_body.close()  # the second hop's body cannot be read
    with WarcWriter(tmp_path) as writer:
        with pytest.raises(ValueError):
            writer.write_fetch(broken)
        writer.write_fetch(result(exchange()))
    path = only_file(tmp_path)
    assert [r.type for r in read_back(path)] == ["warcinfo", "response", "request"]
    assert warcio_check(path).returncode == 0


def test_large_body_is_streamed_not_loaded(tmp_path: Path) -> None:
    size = 12 * 1024 * 1024
    body = tempfile.TemporaryFile()
    body.write(random.Random(1).randbytes(size))
    body.seek(0)
    big = exchange(body=None, headers=[("Content-Type", "application/octet-stream")])
    big.raw_body = body
    tracemalloc.start()
    try:
        with WarcWriter(tmp_path) as writer:
            ref = writer.write_fetch(result(big))[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        body.close()
    assert peak < size // 4
    assert ref.length > size


# -- rotation and names --------------------------------------------------------------------------
def test_rotation_starts_a_new_file_past_max_bytes(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, max_bytes=1) as writer:
        for _ in range(3):
            writer.write_fetch(result(exchange()))
    paths = sorted(tmp_path.iterdir())
    assert len(paths) == 3
    assert all(read_back(p)[0].type == "warcinfo" for p in paths)


def test_rotated_files_have_increasing_serials(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, max_bytes=1) as writer:
        for _ in range(3):
            writer.write_fetch(result(exchange()))
    assert [p.name.rsplit("-", 1)[1] for p in sorted(tmp_path.iterdir())] == [
        f"{n:05d}.warc.gz" for n in (1, 2, 3)
    ]


def test_rotation_renames_every_finished_file(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, max_bytes=1) as writer:
        for _ in range(2):
            writer.write_fetch(result(exchange()))
        assert not any(p.name.endswith(".open") for p in tmp_path.iterdir())


def test_two_writers_in_one_directory_never_share_a_file(tmp_path: Path) -> None:
    with WarcWriter(tmp_path) as first, WarcWriter(tmp_path) as second:
        a = first.write_fetch(result(exchange()))[0]
        b = second.write_fetch(result(exchange()))[0]
    assert a.path != b.path
    assert all(len(read_back(p)) == 3 for p in tmp_path.iterdir())


def test_file_name_carries_prefix_host_and_pid(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, prefix="cites") as writer:
        ref = writer.write_fetch(result(exchange()))[0]
    assert ref.path.name.startswith("cites-")
    assert f"-{os.getpid()}-" in ref.path.name
    assert ref.path.name.endswith("-00001.warc.gz")


# -- revisits -------------------------------------------------------------------------------------
@pytest.fixture
def revisited(tmp_path: Path) -> tuple[Path, RecordRef, list[RecordRef], list[Read]]:
    with WarcWriter(tmp_path) as writer:
        original = writer.write_fetch(result(exchange()))[0]
        refs = writer.write_revisit(
            result(exchange(started_at="2026-12-05T08:00:00Z")),
            refers_to=original,
            refers_to_uri="https://example.org/page?q=1",
            refers_to_date="2026-11-28T17:46:23Z",
        )
    path = only_file(tmp_path)
    return path, original, refs, read_back(path)


def test_revisit_record_follows_the_profile(revisited: Any) -> None:
    _, original, refs, records = revisited
    revisit = records[3]
    assert [r.record_type for r in refs] == ["revisit", "request"]
    assert revisit.headers["WARC-Profile"] == REVISIT_PROFILE
    assert revisit.headers["WARC-Refers-To"] == original.record_id
    assert revisit.headers["WARC-Refers-To-Target-URI"] == "https://example.org/page?q=1"
    assert revisit.headers["WARC-Refers-To-Date"] == "2026-11-28T17:46:23Z"
    assert revisit.headers["WARC-Payload-Digest"] == original.payload_digest


def test_revisit_stores_headers_only(revisited: Any) -> None:
    revisit = revisited[3][3]
    assert revisit.payload == b""
    assert revisit.http.get_header("ETag") == '"abc"'


def test_revisit_file_passes_warcio_check(revisited: Any) -> None:
    assert warcio_check(revisited[0]).returncode == 0


def test_revisit_with_a_changed_payload_writes_a_full_response(tmp_path: Path) -> None:
    with WarcWriter(tmp_path) as writer:
        original = writer.write_fetch(result(exchange()))[0]
        refs = writer.write_revisit(
            result(exchange(body=b"changed")),
            refers_to=original,
            refers_to_uri=original.target_uri or "",
            refers_to_date="2026-11-28T17:46:23Z",
        )
    assert [r.record_type for r in refs] == ["response", "request"]


# -- torn files and recovery ----------------------------------------------------------------------
def torn_copy(written_path: Path, directory: Path, cut: int = 30) -> Path:
    """A copy of a finished file with its last gzip member cut short, as a killed writer leaves."""
    torn = directory / (written_path.name + ".open")
    data = written_path.read_bytes()
    torn.write_bytes(data[:-cut])
    return torn


def test_read_records_counts_complete_records(written: Any) -> None:
    scan = read_records(written[0])
    assert (scan.count, scan.torn, scan.valid_length) == (3, False, written[0].stat().st_size)


def test_read_records_tolerates_a_torn_last_record(written: Any, tmp_path: Path) -> None:
    torn = torn_copy(written[0], tmp_path)
    scan = read_records(torn)
    assert (scan.count, scan.torn) == (2, True)
    assert scan.valid_length == written[1][1].offset


def test_read_records_notices_a_missing_gzip_trailer(written: Any, tmp_path: Path) -> None:
    scan = read_records(torn_copy(written[0], tmp_path, cut=4))  # record whole, member not
    assert (scan.count, scan.torn) == (2, True)


def test_repair_truncates_and_renames(written: Any, tmp_path: Path) -> None:
    original = written[0]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    torn = torn_copy(original, elsewhere)
    repaired = repair(torn)
    assert repaired == elsewhere / original.name
    assert not torn.exists()
    assert repaired.read_bytes() == original.read_bytes()[: written[1][1].offset]


def test_repaired_file_passes_warcio_check(written: Any, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    repaired = repair(torn_copy(written[0], elsewhere))
    assert repaired is not None
    assert warcio_check(repaired).returncode == 0


@pytest.mark.parametrize("size", [60_000, 65_536, 100_000, 300_000])
def test_repair_keeps_every_record_larger_than_a_read(tmp_path: Path, size: int) -> None:
    """Records that decompress to more than one 64 KB read: zlib then reports the bytes after a
    member twice (unconsumed_tail and unused_data), which once made repair compute negative
    offsets and crash the rerun after a Ctrl-C."""
    rng = random.Random(size)
    words = [f"{rng.choice('abcdefghij')}{rng.randrange(10**6)}" for _ in range(size // 7)]
    with WarcWriter(tmp_path) as writer:
        refs = [
            ref
            for i in range(4)
            for ref in writer.write_fetch(
                result(
                    exchange(
                        f"https://example.org/{i}", body=" ".join(words).encode()[:size], headers=[]
                    )
                )
            )
        ]
    torn = torn_copy(only_file(tmp_path), tmp_path)
    only_file_name = torn.name.removesuffix(".open")
    (tmp_path / only_file_name).unlink()
    repaired = repair(torn)
    assert repaired is not None
    assert repaired.stat().st_size == refs[-1].offset  # only the torn last record is gone
    assert read_records(repaired).count == 1 + len(refs) - 1


def test_repair_removes_a_file_without_a_complete_record(tmp_path: Path) -> None:
    torn = tmp_path / "archiver-x.warc.gz.open"
    torn.write_bytes(gzip.compress(b"WARC/1.1\r\n" * 100)[:25])
    assert (repair(torn), torn.exists()) == (None, False)


KILLED_WRITER = textwrap.dedent(
    """
    import gzip, os, signal, sys, tempfile
    from pathlib import Path
    from archiver.net.result import Exchange, FetchResult
    from archiver.capture.warc import WarcWriter

    body = tempfile.TemporaryFile()
    body.write(b"<html><body>kept</body></html>")
    body.seek(0)
    hop = Exchange(url="https://example.org/", method="GET", request_headers=[],
                   status_code=200, reason="OK", http_version="HTTP/1.1",
                   response_headers=[("Content-Type", "text/html")], raw_body=body,
                   started_at="2026-11-28T17:46:23Z")
    writer = WarcWriter(Path(sys.argv[1]))
    writer.write_fetch(FetchResult(url=hop.url, outcome="ok", captured_at=hop.started_at,
                                   exchanges=[hop]))
    # the next record is in flight when the process is killed
    (path,) = Path(sys.argv[1]).glob("*.open")
    with open(path, "ab") as handle:
        handle.write(gzip.compress(b"WARC/1.1\\r\\nWARC-Type: response\\r\\n" * 50)[:40])
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.fixture
def killed_writer_dir(tmp_path: Path) -> Path:
    child = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path)], cwd=REPO, check=False
    )
    assert child.returncode == -signal.SIGKILL
    return tmp_path


def test_recover_repairs_the_file_of_a_killed_writer(killed_writer_dir: Path) -> None:
    (repaired,) = recover_open_files(killed_writer_dir)
    assert list(killed_writer_dir.iterdir()) == [repaired]
    assert (read_records(repaired).count, read_records(repaired).torn) == (3, False)


def test_recovered_file_passes_warcio_check(killed_writer_dir: Path) -> None:
    (repaired,) = recover_open_files(killed_writer_dir)
    assert warcio_check(repaired).returncode == 0


def test_recover_leaves_a_live_writers_file_alone(tmp_path: Path) -> None:
    with WarcWriter(tmp_path) as writer:
        writer.write_fetch(result(exchange()))
        assert recover_open_files(tmp_path) == []
        assert [p.suffix for p in tmp_path.iterdir()] == [".open"]


def test_recover_leaves_another_hosts_file_alone(killed_writer_dir: Path) -> None:
    (leftover,) = killed_writer_dir.glob("*.open")
    foreign = (
        killed_writer_dir / "archiver-20260101000000000-otherhost-123-0badcafe-00001.warc.gz.open"
    )
    shutil.move(leftover, foreign)
    assert recover_open_files(killed_writer_dir) == []
    assert recover_open_files(killed_writer_dir, force=True) == [foreign.with_suffix("")]


def named_for_pid(path: Path, pid: int) -> Path:
    """``path`` renamed to carry ``pid`` where its writer's pid goes."""
    renamed = path.with_name(
        re.sub(r"-\d+(-[0-9a-f]+-\d{5}\.warc\.gz\.open)$", rf"-{pid}\1", path.name)
    )
    assert renamed != path
    return path.rename(renamed)


def test_recover_repairs_an_unlocked_file_named_for_a_live_pid(killed_writer_dir: Path) -> None:
    """pids are reused, quickly in containers: a process that now has the dead writer's pid
    does not hold its file, so the file is repaired (it once stayed ``.open`` for good)."""
    (leftover,) = killed_writer_dir.glob("*.open")
    with subprocess.Popen(["sleep", "600"]) as other:
        try:
            reused = named_for_pid(leftover, other.pid)
            repaired = recover_open_files(killed_writer_dir)
        finally:
            other.kill()
    assert repaired == [reused.with_suffix("")]
    assert read_records(repaired[0]).count == 3


LOCK_HOLDER = textwrap.dedent(
    """
    import fcntl, sys
    handle = open(sys.argv[1], "rb")
    fcntl.flock(handle, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.read()
    """
)


def test_recover_leaves_a_locked_file_alone_until_its_holder_dies(killed_writer_dir: Path) -> None:
    """The lock, not the name, says a writer is alive: here the name carries this very
    process's pid, none of whose writers holds the file, and another process holds its lock."""
    (leftover,) = killed_writer_dir.glob("*.open")
    held = named_for_pid(leftover, os.getpid())
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(held)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        assert recover_open_files(killed_writer_dir) == []
        assert held.exists()
    finally:
        holder.kill()
        holder.communicate()
    assert recover_open_files(killed_writer_dir) == [held.with_suffix("")]


FILE_TOO_LARGE = textwrap.dedent(
    """
    import json, random, resource, signal, sys, tempfile
    from pathlib import Path
    from archiver.errors import StorageError
    from archiver.net.result import Exchange, FetchResult
    from archiver.capture.warc import WarcWriter, recover_open_files

    def fetch(number):
        body = tempfile.SpooledTemporaryFile()
        body.write(random.Random(number).randbytes(20_000))  # incompressible
        body.seek(0)
        hop = Exchange(url=f"https://example.org/{number}", method="GET", request_headers=[],
                       status_code=200, reason="OK", http_version="HTTP/1.1",
                       response_headers=[("Content-Type", "application/octet-stream")],
                       raw_body=body, started_at="2026-11-28T17:46:23Z")
        return FetchResult(url=hop.url, outcome="ok", captured_at=hop.started_at, exchanges=[hop])

    directory = Path(sys.argv[1])
    writer = WarcWriter(directory)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, hard))
    written = 0
    try:
        while True:
            writer.write_fetch(fetch(written))
            written += 1
    except StorageError as error:
        failure = {"errno": error.errno, "message": str(error)}
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # room again
    recovered = [str(path) for path in recover_open_files(directory)]
    [after] = writer.write_fetch(fetch(written))[:1]
    writer.close()
    print(json.dumps({"written": written, "failure": failure, "recovered": recovered,
                      "after": str(after.path)}))
    """
)


def test_a_write_the_file_system_refuses_is_a_storage_error(tmp_path: Path) -> None:
    """A real OS write failure (EFBIG past RLIMIT_FSIZE, as ENOSPC on a full disk): a typed
    error naming the folder and the reason; the writer lets go of the file, which recovery
    repairs to the fetches written before, and its next write starts a new file."""
    child = subprocess.run(
        [sys.executable, "-c", FILE_TOO_LARGE, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    assert report["failure"] == {
        "errno": errno.EFBIG,
        "message": f"cannot write WARC records to {tmp_path}: File too large",
    }
    [recovered] = map(Path, report["recovered"])
    scan = read_records(recovered)
    assert (scan.count, scan.torn) == (1 + 2 * report["written"], False)
    after = Path(report["after"])
    assert after != recovered
    assert [r.type for r in read_back(after)] == ["warcinfo", "response", "request"]
