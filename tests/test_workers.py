"""The extraction pool: bodies handed to worker processes stay within a byte budget."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

from archiver.capture.extract import Extracted
from archiver.evidence.find import CitedClaim
from archiver.net.result import FetchResult
from archiver.run import workers
from archiver.run.extraction_worker import extract_and_trim
from archiver.run.workers import Extraction

PAGE = (
    b"<html><head><title>Port</title></head><body><article><p>The new terminal cost US$1.2 "
    b"billion and was built in three years by Harbour Works, the port authority said.</p>"
    b"</article></body></html>"
)


def _result(i: int) -> FetchResult:
    return FetchResult(
        url=f"http://example.test/{i}",
        outcome="ok",
        captured_at="2026-11-28T00:00:00Z",
        content_type="text/html",
        body=io.BytesIO(PAGE),
    )


def test_a_thread_waits_while_the_queued_bodies_are_over_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With room for one body, the second submission returns only once the first is done
    (the pool's first task waits for a spawned worker to start, so it is slow)."""
    monkeypatch.setattr(workers, "MAX_QUEUED_BYTES", len(PAGE) + 1)
    extraction = Extraction(after=1)
    claims = [CitedClaim(1, "The new terminal cost US$1.2 billion.")]
    try:
        first = extraction.submit_with_evidence(_result(1), claims)
        seen: dict[str, Any] = {}

        def second() -> None:
            future: Future[Any] = extraction.submit_with_evidence(_result(2), claims)
            seen["first_done"] = first.done()
            seen["future"] = future

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=120)
        assert not thread.is_alive()
        assert seen["first_done"] is True
        extracted, found = seen["future"].result(timeout=60)
        assert "US$1.2 billion" in (extracted.text or "")
        assert [(cid, e.label) for cid, e in found] == [(1, "supported")]
    finally:
        extraction.shutdown()
    assert extraction._queued == 0


def test_threads_waiting_for_room_are_woken_one_by_one_and_all_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twelve threads, room for two bodies: every body is extracted (no wake-up is lost when
    waiters are woken one at a time), and never more than two are queued."""
    monkeypatch.setattr(workers, "MAX_QUEUED_BYTES", 2 * len(PAGE))
    peak = 0

    class Watched(Extraction):
        def _wait_for_room(self, size: int) -> None:
            nonlocal peak
            super()._wait_for_room(size)
            peak = max(peak, self._queued)

    extraction = Watched(after=1)
    futures: list[Future[Any]] = []
    claims = [CitedClaim(1, "The new terminal cost US$1.2 billion.")]
    try:
        threads = [
            threading.Thread(
                target=lambda i=i: futures.append(
                    extraction.submit_with_evidence(_result(i), claims)
                )
            )
            for i in range(12)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)
        texts = [future.result(timeout=60)[0].text for future in futures]
    finally:
        extraction.shutdown()
    assert len(texts) == 12 and all("US$1.2 billion" in (text or "") for text in texts)
    assert peak <= 2 * len(PAGE)
    assert extraction._queued == 0


def _extract_once_released(body: bytes, release: str, **kwargs: Any) -> Extracted:
    """Extraction that first waits for the file ``release``: in flight until the test says."""
    while not os.path.exists(release):
        time.sleep(0.01)
    return extract_and_trim(body, **kwargs)


def test_a_worker_that_dies_takes_no_text_with_it(tmp_path: Path) -> None:
    """kill -9 of an extraction worker (as the OOM killer does) fails every task of its pool;
    each runs again in a fresh pool, so every page still gets its text. One task is held in
    flight until the pool has been replaced, so the kill lands mid-work on any machine."""
    release = tmp_path / "release"
    extraction = Extraction(after=1)
    claims = [CitedClaim(1, "The new terminal cost US$1.2 billion.")]
    try:
        held = extraction._submit(_extract_once_released, _result(0), str(release))
        futures = [extraction.submit_with_evidence(_result(i), claims) for i in range(1, 12)]
        first_pool = extraction.pool
        assert first_pool is not None
        victim = next(iter(first_pool._processes.values()))  # the spawned worker processes
        os.kill(victim.pid, signal.SIGKILL)
        deadline = time.monotonic() + 120  # bounds a hang only
        while extraction.pool is first_pool:
            assert time.monotonic() < deadline, "the broken pool was never replaced"
            time.sleep(0.01)
        release.touch()
        texts = [held.result(timeout=120).text]
        texts += [future.result(timeout=120)[0].text for future in futures]
        later = extraction.submit_with_evidence(_result(99), claims).result(timeout=60)
    finally:
        release.touch()
        extraction.shutdown()
    assert all("US$1.2 billion" in (text or "") for text in texts)
    assert "US$1.2 billion" in (later[0].text or "")
    assert extraction._queued == 0


def _kill_own_worker(body: bytes, *claims: Any, **kwargs: Any) -> None:
    """A task that ends its worker process, as a page that crashes lxml would."""
    os._exit(1)


def test_a_page_that_kills_its_worker_every_time_is_tried_twice_then_fails() -> None:
    extraction = Extraction(after=1)
    try:
        doomed = extraction._submit(_kill_own_worker, _result(1))
        with pytest.raises(BrokenProcessPool):
            doomed.result(timeout=60)
        claims = [CitedClaim(1, "The new terminal cost US$1.2 billion.")]
        after = extraction.submit_with_evidence(_result(2), claims).result(timeout=120)
    finally:
        extraction.shutdown()
    assert "US$1.2 billion" in (after[0].text or "")  # the run goes on with a fresh pool
    assert extraction._queued == 0
