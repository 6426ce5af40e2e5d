"""The attempts loop against scripted providers: the behaviours of fallback chains, key pools
and cooldowns across requests, with a settable clock (no HTTP, no sleeping)."""

from __future__ import annotations

import pytest

from ccr_aio.errors import ApiError
from ccr_aio.resilience import Attempt, Attempts, KeyRef, MemoryHealthStore, Outcome, Target
from ccr_aio.resilience.plan import Plan
from tests.resilience_helpers import T0, Reply, make_setup

DS = "deepseek,deepseek-chat"
GLM = "openrouter,z-ai/glm-4.6"
QWEN = "ollama,qwen3-coder"
FALLBACK = {"default": [GLM, QWEN]}


def pooled_setup():
    return make_setup(key_counts={"deepseek": 2}, fallback=dict(FALLBACK))


async def test_429_with_retry_after_moves_to_the_next_key_and_rests_the_first():
    setup = pooled_setup()
    setup.providers.script[(DS, 0)] = [Reply(429, headers={"retry-after": "2"})]
    answered, attempts = await setup.request(DS, session="a")
    assert answered == Attempt(Target.parse(DS), 1) and len(attempts.history) == 2
    assert setup.providers.calls == [(DS, 0), (DS, 1)]
    # Within the 2 s, no request touches key 0, whichever session it belongs to.
    for session in ("a", "b", "c", None):
        setup.clock.advance(0.4)
        await setup.request(DS, session=session)
    assert (DS, 0) not in setup.providers.calls[2:]
    setup.clock.advance(0.5)  # 2.1 s after the 429: key 0 is back in the rotation
    await setup.request(DS, session="d")
    await setup.request(DS, session="e")
    assert (DS, 0) in setup.providers.calls[-2:]


async def test_a_session_keeps_its_key_while_another_session_gets_the_other():
    setup = pooled_setup()
    for _ in range(3):
        await setup.request(DS, session="one")
        await setup.request(DS, session="two")
    assert setup.providers.calls == [(DS, 0), (DS, 1)] * 3


async def test_a_session_stays_on_the_key_that_answered_after_a_429():
    setup = pooled_setup()
    setup.providers.script[(DS, 0)] = [Reply(429, headers={"retry-after": "1"})]
    await setup.request(DS, session="a")
    setup.clock.advance(5)  # key 0 recovered; the session's cache is on key 1 now
    await setup.request(DS, session="a")
    assert setup.providers.calls == [(DS, 0), (DS, 1), (DS, 1)]


async def test_three_500s_open_the_breaker_and_later_requests_skip_the_primary():
    setup = make_setup(fallback=dict(FALLBACK))
    setup.providers.always(DS, Reply(500))
    for _ in range(3):
        answered, _ = await setup.request(DS)
        assert answered.target.label == GLM
    assert setup.providers.calls == [(DS, None), (GLM, None)] * 3
    answered, attempts = await setup.request(DS)
    assert answered.target.label == GLM and len(attempts.history) == 1
    assert setup.providers.calls[-1] == (GLM, None) and len(setup.providers.calls) == 7
    assert attempts.plan.skipped == (Target.parse(DS),)
    setup.clock.advance(30)  # the cooldown is over: the primary is probed again
    await setup.request(DS)
    assert setup.providers.calls[7] == (DS, None)


async def test_when_everything_is_cooling_the_soonest_is_tried():
    setup = make_setup(fallback=dict(FALLBACK))
    setup.providers.always(DS, Reply(429, headers={"retry-after": "60"}), times=1)
    setup.providers.always(GLM, Reply(429, headers={"retry-after": "5"}), times=1)
    setup.providers.always(QWEN, Reply(429, headers={"retry-after": "20"}), times=1)
    answered, _ = await setup.request(DS)
    assert answered is None and len(setup.providers.calls) == 3
    answered, attempts = await setup.request(DS)
    assert answered.target.label == GLM and setup.providers.calls[3:] == [(GLM, None)]


async def test_a_400_is_not_retried_and_comes_back_verbatim():
    setup = make_setup(fallback=dict(FALLBACK))
    wording = 'Error from provider(deepseek,deepseek-chat: 400): {"error":{"message":"prompt is too long"}}'
    setup.providers.script[(DS, None)] = [Reply(400, message=wording)]
    answered, attempts = await setup.request(DS)
    assert answered is None and setup.providers.calls == [(DS, None)]
    error = attempts.final_error()
    assert (error.status, error.message, error.error_type) == (400, wording, "invalid_request_error")
    assert await setup.store.snapshot() == {}  # a bad request says nothing about the provider


async def test_a_rejected_pooled_key_is_disabled_and_never_used_again():
    setup = pooled_setup()
    setup.providers.always(DS, Reply(401), key=0)
    answered, _ = await setup.request(DS, session="a")
    assert answered.key_index == 1
    for session in ("b", "c", "d", "e"):
        await setup.request(DS, session=session)
    setup.clock.advance(10**6)
    await setup.request(DS, session="f")
    assert setup.providers.calls.count((DS, 0)) == 1
    await setup.store.clear()  # a config reload brings it back
    await setup.request(DS, session="g")
    await setup.request(DS, session="h")
    assert setup.providers.calls.count((DS, 0)) == 2


async def test_a_rejected_single_key_goes_back_to_the_client():
    setup = make_setup(fallback=dict(FALLBACK))
    setup.providers.script[(DS, None)] = [Reply(401)]
    answered, attempts = await setup.request(DS)
    assert answered is None and setup.providers.calls == [(DS, None)]
    assert attempts.final_error().status == 401


async def test_a_refused_connection_falls_back():
    setup = make_setup(fallback=dict(FALLBACK))
    setup.providers.script[(DS, None)] = [Reply(exception="connection_refused")]
    answered, attempts = await setup.request(DS)
    assert answered.target.label == GLM
    assert [r.outcome.reason if r.outcome else "ok" for r in attempts.history] == ["connection_refused", "ok"]


async def test_a_target_failure_skips_the_rest_of_its_keys():
    setup = pooled_setup()
    setup.providers.script[(DS, 0)] = [Reply(503)]
    answered, _ = await setup.request(DS)
    assert answered.target.label == GLM and setup.providers.calls == [(DS, 0), (GLM, None)]


async def test_a_key_dropped_in_this_request_is_skipped_for_other_models_of_its_provider():
    setup = make_setup(key_counts={"deepseek": 2},
                       fallback={"default": ["deepseek,deepseek-reasoner"]})
    setup.providers.always(DS, Reply(429), key=0, times=1)
    setup.providers.always(DS, Reply(503), key=1, times=1)
    answered, _ = await setup.request(DS)
    assert answered == Attempt(Target("deepseek", "deepseek-reasoner"), 1)
    assert setup.providers.calls == [(DS, 0), (DS, 1), ("deepseek,deepseek-reasoner", 1)]


async def test_all_failed_gives_the_last_providers_status_wording_and_retry_after():
    setup = make_setup(key_counts={"deepseek": 2}, fallback=dict(FALLBACK))
    setup.providers.always(DS, Reply(429), key=0)
    setup.providers.always(DS, Reply(429), key=1)
    setup.providers.always(GLM, Reply(503))
    setup.providers.always(QWEN, Reply(429, message="Error from provider(ollama,qwen3-coder: 429): slow down",
                                       headers={"Retry-After": "7", "retry-after-ms": "7000", "x-other": "1"}))
    answered, attempts = await setup.request(DS)
    assert answered is None
    error = attempts.final_error()
    assert isinstance(error, ApiError) and error.status == 429 and error.error_type == "rate_limit_error"
    assert error.message == ("Error from provider(ollama,qwen3-coder: 429): slow down [tried: "
                             "deepseek,deepseek-chat (keys #0, #1); openrouter,z-ai/glm-4.6; "
                             "ollama,qwen3-coder]")
    assert error.headers == {"Retry-After": "7", "retry-after-ms": "7000"}
    assert error.body()["error"]["message"] == error.message


async def test_the_retry_after_sent_sets_the_cooldown():
    setup = pooled_setup()
    setup.providers.script[(DS, 0)] = [Reply(429, headers={"x-ratelimit-reset-requests": "1m30s"})]
    await setup.request(DS)
    record = (await setup.store.read([KeyRef("deepseek", 0)]))[KeyRef("deepseek", 0)]
    assert record.until == T0 + 90 and record.last_error == "http 429"


async def test_the_time_budget_stops_further_attempts_but_the_first_always_runs():
    setup = make_setup(fallback=dict(FALLBACK))
    setup.providers.always(DS, Reply(exception="timeout_before_headers", takes_s=10))
    setup.providers.always(GLM, Reply(503))
    answered, attempts = await setup.request(DS, budget_s=5)
    assert answered is None and setup.providers.calls == [(DS, None)]
    assert attempts.out_of_time and attempts.remaining_s() == 0
    error = attempts.final_error()
    assert error.status == 502 and error.message.endswith("[tried: deepseek,deepseek-chat; time budget used up]")


async def test_remaining_time_bounds_each_attempt():
    setup = make_setup(fallback=dict(FALLBACK))
    setup.providers.always(DS, Reply(503, takes_s=3))
    answered, attempts = await setup.request(DS, budget_s=10)
    assert answered.target.label == GLM and attempts.remaining_s() == 7
    assert [round(r.elapsed_s, 3) for r in attempts.history] == [3.0, 0.0]


async def test_history_names_each_attempts_target_key_and_reason():
    setup = pooled_setup()
    setup.providers.script[(DS, 0)] = [Reply(429)]
    answered, attempts = await setup.request(DS)
    assert [(r.attempt.target.label, r.attempt.key_index, r.outcome.reason if r.outcome else None,
             r.verdict.decision if r.verdict else None) for r in attempts.history] == [
        (DS, 0, "http 429", "retry_same_provider_next_key"), (DS, 1, None, None)]


async def test_success_resets_the_target_streak():
    setup = make_setup(fallback=dict(FALLBACK))
    setup.providers.script[(DS, None)] = [Reply(500), Reply(500), Reply(), Reply(500), Reply(500)]
    for _ in range(5):
        await setup.request(DS)
    record = (await setup.store.read([Target.parse(DS)]))[Target.parse(DS)]
    assert record.consecutive_failures == 2 and record.state(setup.clock()) == "ok"


def test_final_error_before_any_failure_is_a_bug():
    plan = Plan((Attempt(Target("a", "b")),), T0 + 1)
    with pytest.raises(RuntimeError):
        Attempts(plan, MemoryHealthStore(), None).final_error()  # type: ignore[arg-type]


async def test_after_give_up_the_loop_ends_even_with_attempts_left():
    plan = Plan((Attempt(Target("a", "b")), Attempt(Target("c", "d"))), T0 + 60)
    store = MemoryHealthStore()
    attempts = Attempts(plan, store, None, clock=lambda: T0)  # type: ignore[arg-type]
    tried = []
    for attempt in attempts:
        tried.append(attempt)
        await attempts.failed(attempt, Outcome.http(422), ApiError(422, "bad"))
    assert tried == [plan.attempts[0]]
