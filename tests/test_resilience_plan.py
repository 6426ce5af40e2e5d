"""The attempt list: fallback lookup, key expansion, skipping cooling targets, the bound."""

from __future__ import annotations

import pytest

from ccr_aio.resilience.cooldown import Failure
from ccr_aio.resilience.keys import KeyPool
from ccr_aio.resilience.plan import build_plan, fallback_targets, max_attempts
from ccr_aio.resilience.store import MemoryHealthStore
from ccr_aio.resilience.targets import SCENARIOS, Attempt, KeyRef, Target
from tests.resilience_helpers import T0

DS = Target("deepseek", "deepseek-chat")
R1 = Target("deepseek", "deepseek-reasoner")
GLM = Target("openrouter", "z-ai/glm-4.6")
QWEN = Target("ollama", "qwen3-coder")
FALLBACK = {
    "default": ["openrouter,z-ai/glm-4.6", "ollama,qwen3-coder"],
    "deepseek,deepseek-reasoner": ["openrouter,deepseek/deepseek-r1"],
    "think": ["ollama,qwen3-coder"],
}


def labels(targets):
    return [t.label for t in targets]


def test_the_scenario_list_follows_the_chosen_target():
    assert labels(fallback_targets(DS, "default", FALLBACK)) == [
        "deepseek,deepseek-chat", "openrouter,z-ai/glm-4.6", "ollama,qwen3-coder"]


def test_a_provider_model_entry_wins_over_the_scenario():
    assert labels(fallback_targets(R1, "think", FALLBACK)) == [
        "deepseek,deepseek-reasoner", "openrouter,deepseek/deepseek-r1"]


def test_provider_model_keys_match_case_insensitively_like_the_router():
    fallback = {"DeepSeek, DeepSeek-Reasoner": ["openrouter,z-ai/glm-4.6"]}
    assert labels(fallback_targets(R1, "think", fallback))[1:] == ["openrouter,z-ai/glm-4.6"]


def test_an_empty_provider_model_entry_means_no_fallback():
    fallback = {**FALLBACK, "deepseek,deepseek-chat": []}
    assert fallback_targets(DS, "default", fallback) == [DS]


def test_no_entry_no_fallback_and_no_inheritance_from_default():
    assert fallback_targets(DS, "background", FALLBACK) == [DS]
    assert fallback_targets(DS, "default", {}) == [DS]


def test_duplicates_the_chosen_target_and_malformed_entries_are_dropped():
    fallback = {"default": ["Deepseek,deepseek-chat", "ollama,qwen3-coder", "nonsense", 7,
                            "OLLAMA,QWEN3-CODER", ",x"]}
    assert fallback_targets(DS, "default", fallback) == [DS, QWEN]


def test_scenarios_cover_the_routers_and_the_explicit_kinds():
    assert {"default", "background", "think", "longContext", "webSearch", "image",
            "explicit", "subagent", "custom"} <= set(SCENARIOS)


def test_the_bound_is_fallback_length_plus_the_largest_pool():
    assert max_attempts([DS, GLM, QWEN], {"deepseek": 3}) == 2 + 3
    assert max_attempts([DS, GLM], {}) == 2
    assert max_attempts([DS], {"deepseek": 0}) == 1  # a keyless provider (a local Ollama)


async def plan_for(targets, key_counts=None, store=None, keys=None, session=None, now=T0, budget_s=60.0):
    return await build_plan(targets, key_counts or {}, store or MemoryHealthStore(), keys or KeyPool(),
                            session=session, now=now, budget_s=budget_s)


async def test_each_target_is_expanded_by_its_pool_session_key_first():
    keys = KeyPool()
    keys.stick("deepseek", "s", 1)
    plan = await plan_for([DS, GLM], {"deepseek": 3}, keys=keys, session="s")
    assert plan.attempts == (Attempt(DS, 1), Attempt(DS, 2), Attempt(DS, 0), Attempt(GLM))
    assert plan.deadline == T0 + 60 and plan.session == "s" and plan.skipped == ()


async def test_cooling_keys_are_left_out():
    store = MemoryHealthStore()
    await store.record_failure(KeyRef("deepseek", 0), Failure("rate_limited", "http 429", T0, 5))
    await store.record_failure(KeyRef("deepseek", 2), Failure("rejected", "http 401", T0))
    plan = await plan_for([DS, GLM], {"deepseek": 3}, store=store)
    assert plan.attempts == (Attempt(DS, 1), Attempt(GLM))


async def test_a_cooling_target_is_skipped():
    store = MemoryHealthStore()
    await store.record_failure(DS, Failure("rate_limited", "http 429", T0, 30))
    plan = await plan_for([DS, GLM, QWEN], store=store)
    assert plan.attempts == (Attempt(GLM), Attempt(QWEN)) and plan.skipped == (DS,)


async def test_a_target_whose_keys_are_all_cooling_is_skipped():
    store = MemoryHealthStore()
    for index in range(2):
        await store.record_failure(KeyRef("deepseek", index), Failure("rate_limited", "http 429", T0, 10))
    plan = await plan_for([DS, GLM], {"deepseek": 2}, store=store)
    assert plan.attempts == (Attempt(GLM),)


async def test_when_everything_is_cooling_the_soonest_to_recover_is_tried():
    store = MemoryHealthStore()
    await store.record_failure(DS, Failure("rate_limited", "http 429", T0, 50))
    await store.record_failure(GLM, Failure("rate_limited", "http 429", T0, 5))
    await store.record_failure(QWEN, Failure("rate_limited", "http 429", T0, 20))
    plan = await plan_for([DS, GLM, QWEN], store=store)
    assert plan.attempts == (Attempt(GLM),) and plan.skipped == (DS, QWEN)


async def test_the_soonest_key_counts_when_a_pool_is_all_cooling():
    store = MemoryHealthStore()
    await store.record_failure(KeyRef("deepseek", 0), Failure("rate_limited", "http 429", T0, 40))
    await store.record_failure(KeyRef("deepseek", 1), Failure("rate_limited", "http 429", T0, 3))
    await store.record_failure(GLM, Failure("rate_limited", "http 429", T0, 10))
    plan = await plan_for([DS, GLM], {"deepseek": 2}, store=store)
    assert plan.attempts == (Attempt(DS, 1),)


async def test_a_cooling_target_recovers_no_sooner_than_its_key():
    store = MemoryHealthStore()
    await store.record_failure(DS, Failure("rate_limited", "http 429", T0, 5))
    await store.record_failure(KeyRef("deepseek", 0), Failure("rate_limited", "http 429", T0, 60))
    await store.record_failure(KeyRef("deepseek", 1), Failure("rate_limited", "http 429", T0, 60))
    await store.record_failure(GLM, Failure("rate_limited", "http 429", T0, 30))
    plan = await plan_for([DS, GLM], {"deepseek": 2}, store=store)
    assert plan.attempts == (Attempt(GLM),)


async def test_all_keys_disabled_everywhere_still_makes_one_call():
    # The client then gets the provider's own 401 instead of an error made up here.
    store = MemoryHealthStore()
    for index in range(2):
        await store.record_failure(KeyRef("deepseek", index), Failure("rejected", "http 401", T0))
    plan = await plan_for([DS], {"deepseek": 2}, store=store)
    assert plan.attempts == (Attempt(DS, 0),)


async def test_the_attempt_list_is_bounded_and_every_target_keeps_a_turn():
    many = [Target(f"p{i}", "m") for i in range(3)]
    counts = {"p0": 2, "p1": 4, "p2": 4}
    plan = await plan_for(many, counts)
    assert len(plan.attempts) == max_attempts(many, counts) == 6
    # The spare attempts go to the earlier targets' extra keys; the last model still gets one.
    assert [a.target.provider for a in plan.attempts] == ["p0", "p0", "p1", "p1", "p1", "p2"]


async def test_the_bound_never_cuts_the_primarys_pool():
    targets = [DS, GLM, QWEN]
    plan = await plan_for(targets, {"deepseek": 3, "openrouter": 2})
    # Bound 2 + 3: the primary's three keys, then one per fallback target.
    assert plan.attempts == (Attempt(DS, 0), Attempt(DS, 1), Attempt(DS, 2),
                             Attempt(GLM, 0), Attempt(QWEN))


async def test_a_plan_needs_a_target():
    with pytest.raises(ValueError):
        await plan_for([])
