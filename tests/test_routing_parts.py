"""Routing pieces: session ids, the subagent tag, /v1/models, the shared token cache."""

from __future__ import annotations

import json

import pytest

from ccr_aio.routing.prompt import take_subagent_tag
from ccr_aio.routing.sessions import LRU, Sessions, session_id
from ccr_aio.routing.tokens import TOKENS
from tests.conftest import provider_config
from tests.fakes.openai_upstream import completion, json_reply

HEADER = "X-Claude-Code-Session-Id"


@pytest.mark.parametrize("body, headers, expected", [
    ({"metadata": {"user_id": "user_abc_account__session_1234-5678"}}, {}, "1234-5678"),
    ({"metadata": {"user_id": json.dumps({"device_id": "d", "account_uuid": "", "session_id": "s-json"})}}, {}, "s-json"),
    ({"metadata": {"user_id": "no-session-here"}}, {HEADER: "from-header"}, "from-header"),
    ({}, {HEADER: "from-header"}, "from-header"),
    ({"metadata": {"user_id": "{broken json"}}, {}, None),
    ({}, {}, None),
])
def test_session_id_forms(body, headers, expected):
    assert session_id(body, headers) == expected


def test_subagent_tag_only_at_start_and_removed():
    body = {"system": "prefix <CCR-SUBAGENT-MODEL>a,b</CCR-SUBAGENT-MODEL>", "messages": []}
    assert take_subagent_tag(body) is None
    body = {"system": "<CCR-SUBAGENT-MODEL>a,b</CCR-SUBAGENT-MODEL>\nrest", "messages": []}
    assert take_subagent_tag(body) == "a,b" and body["system"] == "rest"


def test_lru_is_bounded():
    cache: LRU[str, int] = LRU(2)
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1
    cache.set("c", 3)  # evicts b, the least recently used
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3


def test_usage_counts_cached_prompt_tokens():
    sessions = Sessions()
    sessions.record_usage("s", {"input_tokens": 100, "cache_read_input_tokens": 900, "output_tokens": 5})
    assert sessions.usage.get("s") == 1000


async def test_models_list_and_pagination(make_client, fake):
    models = [f"m{i}" for i in range(25)]
    client = await make_client({"Providers": [provider_config(fake, models=models)], "Router": {"default": "fake,m0"}})
    page = await (await client.get("/v1/models")).json()
    assert len(page["data"]) == 20 and page["has_more"] is True
    assert page["data"][0] == {**page["data"][0], "type": "model", "id": "fake,m0"}
    assert page["first_id"] == "fake,m0" and page["last_id"] == "fake,m19"
    assert "created_at" in page["data"][0] and "display_name" in page["data"][0]
    rest = await (await client.get("/v1/models", params={"after_id": "fake,m19"})).json()
    assert [m["id"] for m in rest["data"]] == [f"fake,m{i}" for i in range(20, 25)] and rest["has_more"] is False
    before = await (await client.get("/v1/models", params={"before_id": "fake,m5", "limit": "2"})).json()
    assert [m["id"] for m in before["data"]] == ["fake,m3", "fake,m4"] and before["has_more"] is True
    one = await client.get("/v1/models/FAKE,M3")
    assert (await one.json())["id"] == "fake,m3"
    assert (await client.get("/v1/models/nope")).status == 404
    assert (await client.get("/v1/models", params={"limit": "0"})).status == 400


@pytest.mark.in_process  # reads the app's token counter
async def test_second_request_tokenizes_only_the_new_message(make_client, fake):
    router = {"default": "fake,fake-model", "longContext": "fake,Other-Model", "longContextThreshold": 10}
    client = await make_client({"Providers": [provider_config(fake)], "Router": router})
    stats = client.app[TOKENS].stats
    messages = [{"role": "user", "content": f"message number {i} with some words in it"} for i in range(30)]
    fake.queue(json_reply(completion("ok")), json_reply(completion("ok")))
    await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": messages})
    before = stats.tokenized_chars
    new = {"role": "user", "content": "one more message"}
    await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": [*messages, new]})
    assert stats.tokenized_chars - before == len("one more message")
    # count_tokens shares the cache
    before = stats.tokenized_chars
    response = await client.post("/v1/messages/count_tokens", json={"messages": [*messages, new]})
    assert (await response.json())["input_tokens"] > 30 and stats.tokenized_chars == before


@pytest.mark.in_process  # reads the app's token counter
async def test_no_counting_when_no_rule_needs_it(client):
    stats = client.app[TOKENS].stats
    await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x" * 5000}]})
    assert stats.misses == 0 and stats.hits == 0


async def test_shipped_example_custom_router_loads_and_runs():
    from pathlib import Path

    from ccr_aio.routing.custom import call_custom_router, load_custom_router

    router = load_custom_router(Path(__file__).resolve().parents[1] / "examples" / "custom_router.py")
    assert router is not None
    context = {"token_count": 40_000, "session_id": None, "project": None, "scenario": "think"}
    assert await call_custom_router(router, {}, {}, context) == "deepseek,deepseek-reasoner"
    assert await call_custom_router(router, {}, {}, {**context, "scenario": "default"}) is None
