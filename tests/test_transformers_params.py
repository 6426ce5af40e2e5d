"""The small request transformers: transformers.md §5.7 (SM1–SM6) with the [FIX] expectations
(`customparams` treats unset/None as absent), plus end-to-end checks of what the provider
receives when they are chained at provider and model level."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ccr_aio.settings import ConfigError
from ccr_aio.transformers import BUILTINS
from ccr_aio.transformers.base import Context
from ccr_aio.transformers.endpoint.request import anthropic_to_unified
from tests.conftest import provider_config, sdk
from tests.fakes.openai_upstream import (
    completion,
    json_reply,
    stream_reply,
    text_chunks,
)
from tests.stream_grammar import check_stream, parse_sse_bytes

REQUEST_ONLY = ["maxtoken", "sampling", "maxcompletiontokens", "streamoptions", "cleancache", "customparams"]
USER = [{"role": "user", "content": "hi"}]


async def apply(name: str, request: dict[str, Any], options: dict[str, Any] | None = None) -> dict[str, Any]:
    return await BUILTINS.create(name, options).request_in(request, None, Context())


@pytest.mark.parametrize("name", REQUEST_ONLY)
def test_request_only_transformers_skip_the_response_hooks(name):
    transformer = BUILTINS.create(name)
    assert transformer.name == name and transformer.overrides("request_in")
    assert not any(transformer.overrides(hook) for hook in ("stream_out", "json_out"))


# -- SM1 maxtoken --------------------------------------------------------------------------------


@pytest.mark.parametrize("given, expected", [(32000, 16384), (100, 100), (16384, 16384)])
async def test_sm1_maxtoken_caps(given, expected):
    request = {"model": "m", "max_tokens": given}
    assert (await apply("maxtoken", request, {"max_tokens": 16384}))["max_tokens"] == expected
    assert request["max_tokens"] == given


async def test_sm1_maxtoken_absent_stays_absent_and_no_options_is_a_no_op():
    assert "max_tokens" not in await apply("maxtoken", {"model": "m"}, {"max_tokens": 10})
    request = {"model": "m", "max_tokens": 32000}
    assert await apply("maxtoken", request) is request
    assert (await apply("maxtoken", {"max_tokens": 500}, {"max_tokens": "200"}))["max_tokens"] == 200


@pytest.mark.parametrize("name", ["maxtoken", "sampling"])
@pytest.mark.parametrize("limit", [16384.0, "16384.0", 1.6384e4])
async def test_a_cap_written_as_a_float_goes_out_as_an_integer(name, limit):
    capped = (await apply(name, {"model": "m", "max_tokens": 32000}, {"max_tokens": limit}))["max_tokens"]
    assert capped == 16384 and type(capped) is int


@pytest.mark.parametrize("name", ["maxtoken", "sampling"])
def test_bad_numeric_option_is_a_config_error(name):
    with pytest.raises(ConfigError, match=f"'{name}'.*max_tokens"):
        BUILTINS.create(name, {"max_tokens": "lots"})


# -- SM2 sampling ----------------------------------------------------------------------------------


async def test_sm2_sampling_caps_and_overwrites():
    out = await apply("sampling", {"max_tokens": 32000, "temperature": 1}, {"max_tokens": 100, "temperature": 0.5, "top_k": 20})
    assert out == {"max_tokens": 100, "temperature": 0.5, "top_k": 20}
    out = await apply("sampling", {"temperature": 1}, {"top_p": 0.9, "repetition_penalty": 1.1})
    assert out == {"temperature": 1, "top_p": 0.9, "repetition_penalty": 1.1}
    request = {"max_tokens": 32000, "temperature": 1}
    assert await apply("sampling", request) == {"max_tokens": 32000, "temperature": 1}


# -- SM3 maxcompletiontokens / SM4 streamoptions -----------------------------------------------------


async def test_sm3_maxcompletiontokens_moves_the_value():
    assert await apply("maxcompletiontokens", {"model": "m", "max_tokens": 32000}) == {"model": "m", "max_completion_tokens": 32000}
    request = {"model": "m"}
    assert await apply("maxcompletiontokens", request) is request


async def test_sm4_streamoptions_only_for_streams():
    assert (await apply("streamoptions", {"stream": True, "stream_options": {"x": 1}}))["stream_options"] == {"include_usage": True}
    request = {"stream": False}
    assert await apply("streamoptions", request) is request


# -- SM5 cleancache ---------------------------------------------------------------------------------


async def test_sm5_cleancache_strips_everywhere_without_editing_the_client_body():
    ephemeral = {"type": "ephemeral"}
    client_body = {
        "model": "m",
        "max_tokens": 10,
        "system": [{"type": "text", "text": "sys", "cache_control": ephemeral}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": ephemeral}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "A", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok", "cache_control": ephemeral}]},
        ],
        "tools": [{"name": "A", "description": "a", "input_schema": {"type": "object"}, "cache_control": ephemeral}],
    }
    before = copy.deepcopy(client_body)
    unified = anthropic_to_unified(client_body)
    unified["messages"].append({"role": "user", "content": [{"type": "text", "text": "x"}], "cache_control": ephemeral})
    unified["tools"][0]["cache_control"] = ephemeral
    out = await apply("cleancache", unified)
    assert "cache_control" not in repr(out)
    assert out["messages"][0]["content"][0]["text"] == "sys" and out["messages"][1]["content"][0]["text"] == "hi"
    assert client_body == before  # the text blocks shared with the client body were not edited
    assert any("cache_control" in p for m in unified["messages"] if isinstance(m["content"], list) for p in m["content"])


async def test_sm5_cleancache_without_markers_returns_the_same_request():
    request = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}, {"role": "user", "content": "s"}]}
    assert await apply("cleancache", request) is request


# -- SM6 customparams -------------------------------------------------------------------------------

SM6_OPTIONS = {"temperature": 0.1, "extra_body": {"a": {"b": 1}}, "reasoning": {"effort": "low", "x": 1}, "arr": [1]}


async def test_sm6_customparams_merge_rules():
    request = {"temperature": 1, "reasoning": {"effort": "high", "enabled": True}}
    out = await apply("customparams", request, SM6_OPTIONS)
    assert out == {"temperature": 1, "reasoning": {"effort": "low", "enabled": True, "x": 1}, "extra_body": {"a": {"b": 1}}, "arr": [1]}
    assert request == {"temperature": 1, "reasoning": {"effort": "high", "enabled": True}}
    out["extra_body"]["a"]["b"] = 99  # later transformers may edit the body: options stay intact
    out2 = await apply("customparams", {}, SM6_OPTIONS)
    assert out2["extra_body"] == {"a": {"b": 1}}


async def test_sm6_customparams_none_is_absent():
    out = await apply("customparams", {"temperature": None, "top_p": 0.5}, {"temperature": 0.2, "top_p": 0.9, "seed": None})
    assert out == {"temperature": 0.2, "top_p": 0.5}


# -- end to end ---------------------------------------------------------------------------------------


def config_with(fake: Any, transformer: dict[str, Any]) -> dict[str, Any]:
    return {"Providers": [provider_config(fake, transformer=transformer)], "Router": {"default": "fake,fake-model"}}


async def test_e2e_maxtoken_cap_reaches_the_provider(make_client, fake):
    client = await make_client(config_with(fake, {"use": [["maxtoken", {"max_tokens": 1000}]]}))
    fake.queue(json_reply(completion("ok")))
    message = await sdk(client).messages.create(model="m", max_tokens=20000, messages=USER)
    assert message.content[0].text == "ok"
    assert fake.requests[0].body["max_tokens"] == 1000
    for asked, sent in ((32000, 1000), (500, 500)):
        async with sdk(client).messages.stream(model="m", max_tokens=asked, messages=USER) as stream:
            final = await stream.get_final_message()
        assert final.content[0].text == "Hello from fake"
        assert fake.requests[-1].body["max_tokens"] == sent


async def test_e2e_provider_and_model_chains(make_client, fake):
    transformer = {
        "use": [["maxtoken", {"max_tokens": 1000}], "streamoptions", ["customparams", {"temperature": 0.2, "top_p": 0.9}]],
        "fake-model": {"use": ["maxcompletiontokens", "cleancache"]},
    }
    client = await make_client(config_with(fake, transformer))
    fake.queue(stream_reply(text_chunks(["Hi", "!"], usage=(7, 2))))
    system = [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}]
    response = await client.post(
        "/v1/messages",
        json={"model": "m", "max_tokens": 32000, "messages": USER, "system": system, "stream": True},
    )
    events = parse_sse_bytes(await response.read())
    check_stream(events)
    assert events[-2]["usage"]["output_tokens"] == 2
    sent = fake.requests[0].body
    assert sent["max_completion_tokens"] == 1000 and "max_tokens" not in sent
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["temperature"] == 0.2 and sent["top_p"] == 0.9  # [FIX] injected though the client sent none
    assert "cache_control" not in repr(sent["messages"])


async def test_e2e_sampling_non_stream(make_client, fake):
    client = await make_client(config_with(fake, {"use": [["sampling", {"temperature": 0.3, "top_k": 40}]]}))
    fake.queue(json_reply(completion("ok")))
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 100, "temperature": 1.0, "messages": USER})
    assert (await response.json())["content"][0]["text"] == "ok"
    sent = fake.requests[0].body
    assert sent["temperature"] == 0.3 and sent["top_k"] == 40 and sent["max_tokens"] == 100


async def test_e2e_bad_option_fails_at_start_up(make_client, fake):
    with pytest.raises(ConfigError, match="maxtoken"):
        await make_client(config_with(fake, {"use": [["maxtoken", {"max_tokens": "many"}]]}))
