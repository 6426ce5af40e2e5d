"""Freed memory goes back to the system after a burst, and only while the server is idle."""

from __future__ import annotations

import platform
import sys

from ccr_aio import memory


def test_malloc_trim_is_found_with_glibc():
    with_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert memory.release_free_memory() is with_glibc


def test_trims_once_after_requests_finish_and_none_is_in_flight():
    trims: list[str] = []
    trimmer = memory.IdleTrimmer(release=lambda: trims.append("trim"))
    assert not trimmer.check(in_flight=0, finished=0)  # nothing happened yet
    assert not trimmer.check(in_flight=1, finished=3)  # requests finished, one still running
    assert trimmer.check(in_flight=0, finished=3)
    assert not trimmer.check(in_flight=0, finished=3)  # nothing finished since
    assert not trimmer.check(in_flight=2, finished=5)
    assert trimmer.check(in_flight=0, finished=6)
    assert trims == ["trim", "trim"]
