"""Key pools: round-robin across sessions, sticky within one, skipping cooling keys, bounded."""

from __future__ import annotations

import math

from ccr_aio.resilience.keys import KeyPool, soonest
from tests.resilience_helpers import T0

READY = [0.0, 0.0, 0.0]


def test_new_sessions_take_turns_and_each_keeps_its_key():
    pool = KeyPool()
    firsts = [pool.order("ds", READY, f"s{i}", T0)[0] for i in range(4)]
    assert firsts == [0, 1, 2, 0]
    assert [pool.order("ds", READY, "s1", T0)[0] for _ in range(5)] == [1] * 5
    assert pool.order("ds", READY, "s2", T0) == [2, 0, 1]  # the others follow, in turn


def test_requests_without_a_session_rotate():
    pool = KeyPool()
    assert [pool.order("ds", READY, None, T0)[0] for _ in range(4)] == [0, 1, 2, 0]


def test_providers_rotate_independently():
    pool = KeyPool()
    pool.order("a", READY, None, T0)
    assert pool.order("b", READY, None, T0)[0] == 0


def test_a_cooling_key_is_skipped_and_the_session_moves_to_another():
    pool = KeyPool()
    assert pool.order("ds", READY, "s", T0)[0] == 0
    cooling = [T0 + 30, 0.0, 0.0]
    assert pool.order("ds", cooling, "s", T0) == [1, 2]
    # Key 0 is back, but the session's cache now lives on key 1: it stays there.
    assert pool.order("ds", READY, "s", T0 + 31)[0] == 1


def test_disabled_keys_are_never_offered():
    pool = KeyPool()
    assert pool.order("ds", [math.inf, 0.0, math.inf], None, T0) == [1]


def test_none_usable_is_empty_and_soonest_picks_the_first_to_recover():
    pool = KeyPool()
    ready = [T0 + 50, T0 + 5, math.inf]
    assert pool.order("ds", ready, "s", T0) == []
    assert soonest(ready) == 1
    assert soonest([math.inf, math.inf]) == 0
    assert soonest([]) == 0


def test_stick_moves_a_session_to_the_key_that_answered():
    pool = KeyPool()
    pool.order("ds", READY, "s", T0)
    pool.stick("ds", "s", 2)
    assert pool.order("ds", READY, "s", T0)[0] == 2


def test_remembered_sessions_are_bounded_least_recent_first():
    pool = KeyPool(max_sessions=2)
    pool.order("ds", READY, "a", T0)   # key 0
    pool.order("ds", READY, "b", T0)   # key 1
    pool.order("ds", READY, "a", T0)   # a is recent again
    pool.order("ds", READY, "c", T0)   # key 2; evicts b
    assert pool.order("ds", READY, "a", T0)[0] == 0
    assert pool.order("ds", READY, "b", T0)[0] == 0  # forgotten: a new turn
    assert len(pool) == 2


def test_a_sticky_index_beyond_a_shrunk_pool_is_reassigned():
    pool = KeyPool()
    pool.stick("ds", "s", 4)
    assert pool.order("ds", [0.0, 0.0], "s", T0)[0] in (0, 1)
