"""Giving freed memory back to the system once a burst of large requests is over.

A 380 KB Claude Code body turns into a few MB of short-lived objects and buffers per request.
CPython hands whole empty arenas back by itself, but glibc's malloc keeps the free holes that
large buffers leave inside its heaps (one heap per thread that allocated), so after a burst the
resident size stays where the burst took it: ~15 MB more after eight such requests at once.
`malloc_trim` returns those free pages. It takes ~1-2 ms, so it runs only while no request is
in flight, at most once per interval, and only after requests have finished since the last time.
"""

from __future__ import annotations

import asyncio
import ctypes
import sys
from collections.abc import Callable

TRIM_INTERVAL_S = 5.0


def _find_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the process already runs on
    except (OSError, AttributeError):  # e.g. musl, which has no malloc_trim
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _find_malloc_trim()


def release_free_memory() -> bool:
    """Return malloc's free pages to the system; False where the C library cannot."""
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True


class IdleTrimmer:
    """Trims when requests have finished since the last trim and none is in flight now."""

    def __init__(self, release: Callable[[], object] = release_free_memory) -> None:
        self._release = release
        self._trimmed_at = 0  # the `finished` count at the last trim

    def check(self, in_flight: int, finished: int) -> bool:
        """Trim if it is time to; True when it did."""
        if in_flight or finished == self._trimmed_at:
            return False
        self._release()
        self._trimmed_at = finished
        return True


async def trim_when_idle(
    in_flight: Callable[[], int], finished: Callable[[], int], interval_s: float = TRIM_INTERVAL_S
) -> None:
    """Forever: check every `interval_s`; `in_flight` and `finished` count the server's requests."""
    trimmer = IdleTrimmer()
    while True:
        await asyncio.sleep(interval_s)
        trimmer.check(in_flight(), finished())
