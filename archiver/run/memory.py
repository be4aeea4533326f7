"""Keep a long run's resident memory close to what it really holds (glibc malloc tuning).

glibc gives every thread that allocates an arena of its own (up to eight per core) and keeps
freed memory in it for reuse. With 50 fetching threads each streaming bodies, the coordinator's
resident size was about twice its live heap on the real-page benchmark (bench/README.md). Both
calls are no-ops where the C library is not glibc.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools

#: mallopt parameter number of M_ARENA_MAX (malloc.h).
_M_ARENA_MAX = -8


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    with contextlib.suppress(OSError):
        return ctypes.CDLL(name or "libc.so.6")
    return None


def limit_arenas(count: int = 2) -> None:
    """Let all threads share ``count`` malloc arenas; call before starting threads."""
    libc = _libc()
    with contextlib.suppress(AttributeError):
        if libc is not None:
            libc.mallopt(_M_ARENA_MAX, count)


def release_free_memory() -> None:
    """Hand pages that malloc holds free back to the system (about a millisecond)."""
    libc = _libc()
    with contextlib.suppress(AttributeError):
        if libc is not None:
            libc.malloc_trim(0)
