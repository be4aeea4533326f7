"""What runs inside an extraction worker process, and nothing more.

A spawned worker imports the module of the function it is sent, so the tasks live here, apart
from the fetching side (requests, WARC, robots): each worker then holds trafilatura and its own
pages, not a copy of the whole archiver (bench/README.md has the figures).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Sequence
from typing import Any

from archiver.capture.extract import Extracted, extract
from archiver.evidence.find import CitedClaim, Evidence, evidence_for
from archiver.run.memory import release_free_memory

#: After extracting a body this large, a worker returns freed memory to the system.
TRIM_AFTER_BYTES = 1_000_000


def start_worker(parent: int) -> None:
    """Initializer of an extraction worker: Ctrl-C is the archiver's to handle, not the worker's.

    A terminal sends Ctrl-C to the whole process group; a worker that took it would print a
    KeyboardInterrupt traceback and die, breaking the pool. The worker starts with SIGINT
    blocked (``workers.py``), so one sent while it still imports is dropped here too.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    exit_with_parent(parent)


def exit_with_parent(parent: int) -> None:
    """Extraction workers end when the archiver does, even after ``kill -9``.

    A pool's workers otherwise wait forever for work from a parent that is gone.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def extract_and_trim(body: bytes, **kwargs: Any) -> Extracted:
    """Extraction; hands the memory of a big page back to the system.

    glibc keeps a worker at its high-water mark after a large lxml tree otherwise.
    """
    extracted = extract(body, **kwargs)
    if len(body) > TRIM_AFTER_BYTES:
        release_free_memory()
    return extracted


def extract_with_evidence(
    body: bytes, claims: Sequence[CitedClaim], **kwargs: Any
) -> tuple[Extracted, list[tuple[int, Evidence]]]:
    """Extraction, then the evidence of the claims citing the page, from the text in hand.

    Done in the worker: the coordinator would otherwise read every text back from SQLite and
    rank it on the one core that also runs the fetching threads.
    """
    extracted = extract_and_trim(body, **kwargs)
    return extracted, evidence_for(extracted.text, claims)
