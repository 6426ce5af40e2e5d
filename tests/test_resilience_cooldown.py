"""The cooldown state machine of keys and targets, the in-memory store, and the health report."""

from __future__ import annotations

import math

import pytest

from ccr_aio.resilience.cooldown import CooldownPolicy, Failure, after_failure, after_success
from ccr_aio.resilience.report import health_report
from ccr_aio.resilience.store import MemoryHealthStore
from ccr_aio.resilience.targets import KeyRef, ProviderPool, Target
from tests.resilience_helpers import T0, FakeClock

KEY = KeyRef("ds", 0)
TARGET = Target("ds", "chat")


def rate_limited(at: float, retry_after: float | None = None) -> Failure:
    return Failure("rate_limited", "http 429", at, retry_after)


def failed(at: float) -> Failure:
    return Failure("failed", "http 500", at)


async def test_a_429_key_cools_for_the_providers_retry_after():
    store = MemoryHealthStore()
    health = await store.record_failure(KEY, rate_limited(T0, retry_after=2))
    assert health.state(T0 + 1.9) == "cooling" and health.state(T0 + 2) == "ok"
    assert health.last_error == "http 429" and health.consecutive_failures == 1


async def test_without_retry_after_a_key_backs_off_30s_doubling_to_10_minutes():
    store, clock = MemoryHealthStore(), FakeClock()
    waits = []
    for _ in range(8):
        health = await store.record_failure(KEY, rate_limited(clock()))
        waits.append(health.until - clock())
        clock.now = health.until  # the next 429 comes right when it is tried again
    assert waits == [30, 60, 120, 240, 480, 600, 600, 600]


async def test_success_resets_the_backoff_but_keeps_the_last_error_visible():
    store, clock = MemoryHealthStore(), FakeClock()
    first = await store.record_failure(KEY, rate_limited(clock()))
    clock.now = first.until
    await store.record_failure(KEY, rate_limited(clock()))  # 60 s now
    await store.record_success([KEY])
    (health,) = (await store.read([KEY])).values()
    assert health.state(clock()) == "ok" and health.consecutive_failures == 0
    assert health.last_error == "http 429"
    again = await store.record_failure(KEY, rate_limited(clock()))
    assert again.until - clock() == 30  # back to the first step


async def test_a_rejected_key_is_disabled_until_the_store_is_cleared():
    store = MemoryHealthStore()
    health = await store.record_failure(KEY, Failure("rejected", "http 401", T0))
    assert health.state(T0 + 10**9) == "disabled" and health.ready_at() == math.inf
    await store.clear()  # a config reload
    assert await store.read([KEY]) == {}


async def test_a_target_trips_after_three_consecutive_failures_then_doubles():
    store, clock = MemoryHealthStore(), FakeClock()
    for _ in range(2):
        health = await store.record_failure(TARGET, failed(clock()))
        assert health.state(clock()) == "ok"
    health = await store.record_failure(TARGET, failed(clock()))
    assert health.state(clock()) == "cooling" and health.until - clock() == 30
    clock.now = health.until
    # Half-open: after the cooldown, one more failure re-opens it, for twice as long.
    health = await store.record_failure(TARGET, failed(clock()))
    assert health.until - clock() == 60 and health.consecutive_failures == 4


async def test_a_success_between_failures_breaks_the_streak():
    store = MemoryHealthStore()
    await store.record_failure(TARGET, failed(T0))
    await store.record_failure(TARGET, failed(T0))
    await store.record_success([TARGET])
    health = await store.record_failure(TARGET, failed(T0))
    assert health.state(T0) == "ok" and health.consecutive_failures == 1


async def test_failures_of_calls_already_in_flight_do_not_escalate():
    # 16 concurrent requests hit a dead provider: one cooldown, not a 10-minute ban.
    store = MemoryHealthStore()
    for _ in range(16):
        health = await store.record_failure(TARGET, failed(T0 + 0.01))
    assert health.until == T0 + 0.01 + 30 and health.strikes == 1
    assert health.consecutive_failures == 16


async def test_a_longer_retry_after_during_a_cooldown_extends_it():
    store = MemoryHealthStore()
    await store.record_failure(KEY, rate_limited(T0, retry_after=5))
    health = await store.record_failure(KEY, rate_limited(T0 + 1, retry_after=20))
    assert health.until == T0 + 21
    health = await store.record_failure(KEY, rate_limited(T0 + 2, retry_after=1))
    assert health.until == T0 + 21  # a shorter one does not cut it


async def test_a_429_on_a_target_cools_it_at_once():
    store = MemoryHealthStore()
    health = await store.record_failure(TARGET, rate_limited(T0, retry_after=7))
    assert health.state(T0) == "cooling" and health.until == T0 + 7
    health = await store.record_failure(Target("x", "y"), rate_limited(T0))
    assert health.until == T0 + 30


def test_retry_after_is_trusted_only_up_to_the_policy_limit():
    policy = CooldownPolicy(max_retry_after_s=3600)
    health = after_failure(None, rate_limited(T0, retry_after=10**9), policy)
    assert health.until == T0 + 3600


def test_the_policy_is_adjustable():
    policy = CooldownPolicy(base_s=1, cap_s=5, failures_to_trip=1)
    health = after_failure(None, failed(T0), policy)
    assert health.until == T0 + 1
    assert [policy.backoff(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    assert policy.backoff(10**6) == 5  # no overflow on absurd streaks


def test_success_on_a_healthy_record_writes_nothing():
    assert after_success(None) is None
    noted = after_failure(None, failed(T0), CooldownPolicy())
    reset = after_success(noted)
    assert reset is not None and reset.consecutive_failures == 0
    assert after_success(reset) is None


async def test_read_returns_only_recorded_subjects():
    store = MemoryHealthStore()
    assert await store.read([KEY, TARGET]) == {}
    await store.record_failure(TARGET, failed(T0))
    assert set(await store.read([KEY, TARGET])) == {TARGET}


async def test_health_report_lists_every_provider_model_and_pooled_key_by_index():
    store = MemoryHealthStore()
    providers = [ProviderPool("ds", ("chat", "reasoner"), key_count=2),
                 ProviderPool("or", ("glm",), key_count=1)]
    await store.record_failure(KeyRef("ds", 1), rate_limited(T0, retry_after=90))
    await store.record_failure(KeyRef("ds", 0), Failure("rejected", "http 403", T0))
    for _ in range(3):
        await store.record_failure(Target("ds", "reasoner"), failed(T0))
    report = await health_report(store, providers, T0 + 10)
    ds, openrouter = report["providers"]
    assert ds["name"] == "ds" and openrouter["keys"] == []  # one key: not a pool
    chat, reasoner = ds["models"]
    assert chat["model"] == "chat" and chat["state"] == "ok" and chat["last_error"] is None
    assert reasoner["state"] == "cooling" and reasoner["seconds_left"] == 20
    assert reasoner["consecutive_failures"] == 3 and reasoner["last_error"] == "http 500"
    assert reasoner["until_iso"].endswith("+00:00")
    key0, key1 = ds["keys"]
    assert key0 == {**key0, "index": 0, "state": "disabled", "until": None, "last_error": "http 403"}
    assert key1 == {**key1, "index": 1, "state": "cooling", "until": T0 + 90, "seconds_left": 80}
    assert openrouter["models"][0]["state"] == "ok"


@pytest.mark.parametrize("now, state", [(T0 + 29.9, "cooling"), (T0 + 30, "ok")])
async def test_report_state_follows_the_clock(now, state):
    store = MemoryHealthStore()
    await store.record_failure(KeyRef("ds", 0), rate_limited(T0))
    report = await health_report(store, [ProviderPool("ds", ("chat",), 2)], now)
    assert report["providers"][0]["keys"][0]["state"] == state
