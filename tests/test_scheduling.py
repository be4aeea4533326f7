"""Per-host chunks: a host's next chunk does not wait for the last one to settle or be saved."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from archiver.run.engine import chunks_of, ctrl_c_pressed, run_host_chunks, when_all_done


def test_a_host_s_next_chunk_is_submitted_while_the_last_one_settles() -> None:
    """The first chunk settles only once the second has been submitted: a scheduler that
    waited for settling before submitting would see it settle after the 10 s fallback."""
    second_submitted = threading.Event()
    events: list[str] = []
    chunks = [("a.test", iter([[1], [2]]))]

    def submit(chunk: list[int]) -> Future[list[int]]:
        events.append(f"submit {chunk[0]}")
        if chunk[0] == 2:
            second_submitted.set()
        done: Future[list[int]] = Future()
        done.set_result(chunk)
        return done

    def settle(results: list[int]) -> Future[list[int]]:
        settled: Future[list[int]] = Future()

        def later() -> None:
            in_time = results[0] != 1 or second_submitted.wait(timeout=10)
            events.append(f"settled {results[0]}" + ("" if in_time else " (fallback)"))
            settled.set_result(results)

        threading.Thread(target=later).start()
        return settled

    saved: list[list[int]] = []
    run = run_host_chunks(chunks, submit=submit, on_done=saved.append, settle=settle)
    assert not run.interrupted and not run.errors
    assert sorted(saved) == [[1], [2]]
    assert events.index("submit 2") < events.index("settled 1")


def test_a_chunk_that_fails_to_settle_is_counted_and_the_others_are_saved() -> None:
    chunks = [
        (f"h{h}.test", iter([[f"http://h{h}.test/{i}"] for i in range(h, 6, 2)])) for h in (0, 1)
    ]
    pool = ThreadPoolExecutor(max_workers=2)

    def submit(chunk: list[str]) -> Future[list[str]]:
        return pool.submit(lambda: chunk)

    def settle(results: list[str]) -> Future[list[str]]:
        def then() -> list[str]:
            if results[0].endswith("/3"):
                raise ValueError("extraction failed")
            return results

        return when_all_done([], then)

    saved: list[str] = []
    try:
        run = run_host_chunks(chunks, submit=submit, on_done=saved.extend, settle=settle)
    finally:
        pool.shutdown()
    assert sorted(saved) == sorted(f"http://h{i % 2}.test/{i}" for i in (0, 1, 2, 4, 5))
    assert run.errors == ["h1.test: extraction failed"]


def test_when_all_done_runs_once_every_future_is_done() -> None:
    first: Future[int] = Future()
    second: Future[int] = Future()
    calls: list[bool] = []

    def then() -> int:
        calls.append(True)
        return len(calls)

    combined = when_all_done([first, second], then)
    first.set_result(1)
    assert not combined.done() and not calls
    second.set_exception(RuntimeError("a failed extraction still counts as done"))
    assert combined.result(timeout=1) == 1
    assert calls == [True]
    assert not combined.cancel()  # done: Ctrl-C cannot undo it


def test_when_all_done_is_cancelled_when_one_future_was() -> None:
    """Ctrl-C cancels the extractions still queued: their chunk neither fails nor finishes
    (issue 10: it was finished as if they had failed, one warning per page)."""
    extracted: Future[int] = Future()
    queued: Future[int] = Future()
    calls: list[bool] = []
    combined = when_all_done([extracted, queued], lambda: calls.append(True))
    extracted.set_result(1)
    assert queued.cancel()
    assert combined.cancelled()
    assert calls == []


def test_when_all_done_passes_on_what_then_raises() -> None:
    def then() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        when_all_done([], then).result(timeout=1)


def test_ctrl_c_while_chunks_run_stops_the_run_without_an_exception() -> None:
    """Ctrl-C sets a flag the coordinator reads between waits: no KeyboardInterrupt can land
    inside ``concurrent.futures.wait`` and leave its futures' locks held (a hang at shutdown)."""
    never: Future[list[int]] = Future()
    submitted = threading.Event()

    def submit(chunk: list[int]) -> Future[list[int]]:
        submitted.set()
        return never

    def press_ctrl_c() -> None:
        submitted.wait()
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    run = run_host_chunks([("a", iter([[1]]))], submit=submit, on_done=lambda _: None)
    presser.join()
    assert run.interrupted and never.cancelled()


def test_ctrl_c_outside_a_run_is_a_keyboard_interrupt_again() -> None:
    # As in an interactive session: a background job may have started us with SIGINT ignored.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with ctrl_c_pressed() as ctrl_c:
            os.kill(os.getpid(), signal.SIGINT)
        assert ctrl_c.pressed
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            signal.pthread_sigmask(signal.SIG_BLOCK, [])  # a bytecode boundary for the handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_hosts_are_read_as_the_window_frees_and_in_order() -> None:
    """200 hosts of two chunks, a window of three: at any submit, at most three hosts (and the
    one just finished) were taken from the frontier and not yet saved; none is taken early."""
    taken: list[str] = []
    saved: dict[str, int] = {}
    ahead: list[int] = []

    def hosts() -> Iterator[tuple[str, Iterator[list[str]]]]:
        for h in range(200):
            host = f"h{h}.test"
            taken.append(host)
            yield host, chunks_of([f"http://{host}/{i}" for i in range(4)], 2)

    pool = ThreadPoolExecutor(max_workers=2)

    def submit(chunk: list[str]) -> Future[list[str]]:
        ahead.append(len(taken) - sum(n == 4 for n in saved.values()))
        return pool.submit(lambda: chunk)

    def on_done(results: list[str]) -> None:
        host = results[0].split("/")[2]
        saved[host] = saved.get(host, 0) + len(results)

    try:
        run = run_host_chunks(hosts(), submit=submit, on_done=on_done, window=3)
    finally:
        pool.shutdown()
    assert not run.errors and len(ahead) == 400 and set(saved.values()) == {4}
    assert max(ahead) <= 3 + 1
    assert taken[:3] == ["h0.test", "h1.test", "h2.test"] and len(taken) == 200
