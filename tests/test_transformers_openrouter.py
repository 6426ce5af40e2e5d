"""openrouter, vercel, groq, cerebras: transformers.md §5.5 OR1–OR4, GQ1–GQ2 and §3.10.7, with
the [FIX] expectations."""

from __future__ import annotations

import copy

import pytest

from ccr_aio.errors import ApiError
from ccr_aio.transformers.base import UpstreamOptions
from tests.test_transformers_reasoning import (
    PROVIDER,
    SIG,
    TC,
    TH,
    C,
    U,
    anthropic_events,
    blocks,
    chained,
    completion,
    end_of,
    make,
    make_ctx,
    stream,
    usage,
    view,
)

CACHE = {"type": "ephemeral"}
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}, "media_type": "image/png"}


def request_for(model: str) -> dict:
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "sys", "cache_control": CACHE}]},
            {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": CACHE}, IMAGE]},
            {"role": "tool", "content": "result", "tool_call_id": "t1", "cache_control": CACHE},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "iVBORw0KGgoAAA"}}]},
        ],
        "stream": True,
    }


@pytest.mark.parametrize("name", ["openrouter", "vercel"])
async def test_or1_non_claude_request(name):
    request = request_for("deepseek/deepseek-chat")
    before = copy.deepcopy(request)
    out = await make(name, {"provider": {"only": ["x"]}}).request_in(request, PROVIDER, make_ctx())
    assert request == before  # shared client parts are not mutated
    system, user, tool, raw = out["messages"]
    assert system["content"] == [{"type": "text", "text": "sys"}]
    assert user["content"] == [
        {"type": "text", "text": "hi"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},  # OR4 [FIX]: no double prefix
    ]
    assert tool == {"role": "tool", "content": "result", "tool_call_id": "t1"}
    assert raw["content"][0]["image_url"]["url"] == "data:image/png;base64,iVBORw0KGgoAAA"  # raw base64 prefixed
    assert out["provider"] == {"only": ["x"]}


@pytest.mark.parametrize("name", ["openrouter", "vercel"])
async def test_or2_claude_request_keeps_cache_control(name):
    out = await make(name, {"models": ["a", "b"]}).request_in(request_for("anthropic/claude-sonnet-4"), PROVIDER, make_ctx())
    system, user, tool, _ = out["messages"]
    assert system["content"][0]["cache_control"] == CACHE
    assert user["content"][0]["cache_control"] == CACHE
    assert tool["cache_control"] == CACHE
    assert user["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}
    assert out["models"] == ["a", "b"]


def OR3_CHUNKS() -> list[dict]:
    return [
        C({"reasoning": "R1"}),
        C({"content": "T"}),
        C({"tool_calls": [{"index": 0, "id": "0", "function": {"name": "A", "arguments": "{}"}}]}),
        C({}, "stop", usage(1, 1)),
        U(1, 1),
        C({}, "error", error={"message": "upstream"}),
    ]


@pytest.mark.parametrize("name", ["openrouter", "vercel"])
async def test_or3_stream(name):
    out = [view(c) for c in await stream(make(name), OR3_CHUNKS())]
    assert out == [
        TH("R1"),
        SIG(),
        {"content": "T"},
        {"tool_calls": [{"index": 0, "id": "call_u1", "function": {"name": "A", "arguments": "{}"}}]},
        {"finish": "tool_calls", "usage": usage(1, 1)},
        {"usage": usage(1, 1)},
        {"error": {"message": "upstream"}},
        {"finish": "error"},
    ]
    events = await chained(make(name), OR3_CHUNKS(), complete=False)
    assert [b[0] for b in blocks(events)] == ["thinking", "text", "tool_use"]
    assert events[-1] == {"type": "error", "error": {"type": "api_error", "message": "upstream"}}
    events = await chained(make(name), OR3_CHUNKS()[:-1])
    assert end_of(events) == ("tool_use", 1, 1)


async def test_or_top_level_error_with_error_finish_is_not_doubled():
    failing = {**C({"content": ""}, "error"), "error": {"code": 502, "message": "Upstream overloaded"}}
    out = await stream(make("openrouter"), [C({"content": "a"}), failing])
    assert [view(c) for c in out][-1]["error"] == {"code": 502, "message": "Upstream overloaded"}
    assert sum("error" in c for c in out) == 1
    events = await anthropic_events(out, complete=False)
    assert events[-1]["error"] == {"type": "api_error", "message": "Upstream overloaded"}


async def test_or_usage_on_every_chunk_does_not_force_finish():
    chunks = [C({"content": "a"}, usage=usage(1, 1)), C({"content": "b"}, usage=usage(1, 2)), C({}, "stop", usage(1, 2))]
    out = [view(c) for c in await stream(make("openrouter"), chunks)]
    assert [c.get("finish") for c in out] == [None, None, "stop"]
    assert blocks(await chained(make("openrouter"), chunks)) == [("text", "ab", None)]


async def test_or_missing_tool_id_gets_call_uuid_once():
    chunks = [
        C({"tool_calls": [TC(0, name="A", args="")]}),
        C({"tool_calls": [TC(0, args='{"x":1}')]}),
        C({"tool_calls": [TC(1, id="call_real", name="B", args="{}")]}),
        C({}, "tool_calls"),
    ]
    out = [view(c) for c in await stream(make("openrouter"), chunks)]
    assert out[0]["tool_calls"][0]["id"] == "call_u1"
    assert "id" not in out[1]["tool_calls"][0]
    assert out[2]["tool_calls"][0]["id"] == "call_real"
    events = await chained(make("openrouter"), chunks)
    assert blocks(events) == [("tool_use", '{"x":1}', None), ("tool_use", "{}", None)]


def details(text: str = "", signature: str | None = None) -> dict:
    item = {"type": "reasoning.text", "text": text, "format": "anthropic-claude-v1", "index": 0}
    if signature:
        item["signature"] = signature
    return {"reasoning": text or None, "reasoning_details": [item]}


async def test_or_real_signature_is_relayed_tagged_and_replayed():
    chunks = [C(details("Let me")), C(details(" see")), C(details(signature="REAL")), C({"content": "Done"}), C({}, "stop")]
    out = [view(c) for c in await stream(make("openrouter"), chunks)]
    tagged = "ccr_openrouter:anthropic-claude-v1:REAL"
    assert out == [TH("Let me"), TH(" see"), SIG(tagged), {"content": "Done"}, {"finish": "stop"}]
    events = await anthropic_events(await stream(make("openrouter"), chunks))
    assert blocks(events) == [("thinking", "Let me see", tagged), ("text", "Done", None)]

    turn = {"role": "assistant", "content": "Done", "thinking": {"content": "Let me see", "signature": tagged}}
    request = {"model": "anthropic/claude-sonnet-4", "messages": [{"role": "user", "content": "q"}, turn]}
    replayed = (await make("openrouter").request_in(request, PROVIDER, make_ctx()))["messages"][1]
    assert replayed == {
        "role": "assistant",
        "content": "Done",
        "reasoning_details": [
            {"type": "reasoning.text", "text": "Let me see", "signature": "REAL", "format": "anthropic-claude-v1"}
        ],
    }


@pytest.mark.parametrize("signature", ["ccr_17", "1700000000000", "ccr_vercel:x:REAL", "EqQBCkYIBxgCKkD-anthropic"])
async def test_or_foreign_signatures_are_never_replayed(signature):
    turn = {"role": "assistant", "content": "A", "thinking": {"content": "why", "signature": signature}}
    for model, expected in (
        ("anthropic/claude-sonnet-4", {"role": "assistant", "content": "A"}),  # unsigned thinking would be rejected
        ("deepseek/deepseek-r1", {"role": "assistant", "content": "A", "reasoning": "why"}),
    ):
        out = await make("openrouter").request_in({"model": model, "messages": [turn]}, PROVIDER, make_ctx())
        assert out["messages"] == [expected]


async def test_or_non_stream():
    body = completion({"content": "A", "reasoning": "r", "reasoning_details": [{"type": "reasoning.text", "text": "r"}],
                       "tool_calls": [{"id": "7", "type": "function", "function": {"name": "X", "arguments": "{}"}}]})
    out = make("openrouter").json_out(body, make_ctx())
    message = out["choices"][0]["message"]
    assert message["thinking"] == {"content": "r", "signature": "ccr_1"}
    assert "reasoning" not in message and "reasoning_details" not in message
    assert message["tool_calls"][0]["id"] == "call_u1"
    with pytest.raises(ApiError) as err:
        make("vercel").json_out(completion({"content": None}, "error"), make_ctx())
    assert err.value.status == 502


# -- groq -----------------------------------------------------------------------------------

SCHEMA = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {}}


async def test_gq1_request():
    request = request_for("llama-3.3-70b")
    request["reasoning"] = {"effort": "medium", "enabled": True}
    request["messages"].append({"role": "assistant", "content": "x", "thinking": {"content": "t", "signature": "s"}})
    request["tools"] = [
        {"type": "function", "function": {"name": "Read", "description": "", "parameters": SCHEMA}},
        {"type": "function", "function": {"name": "web_search", "description": ""}, "server_tool_type": "web_search_20250305"},
    ]
    before = copy.deepcopy(request)
    out = await make("groq").request_in(request, PROVIDER, make_ctx())
    assert request == before and SCHEMA["$schema"]  # shared schemas untouched
    assert "reasoning" not in out
    system, user, tool, raw, assistant = out["messages"]
    assert system["content"] == [{"type": "text", "text": "sys"}]
    assert user["content"][0] == {"type": "text", "text": "hi"} and "media_type" not in user["content"][1]
    assert "cache_control" not in tool
    assert assistant == {"role": "assistant", "content": "x"}
    assert out["tools"] == [
        {"type": "function", "function": {"name": "Read", "description": "", "parameters": {"type": "object", "properties": {}}}},
        {"type": "function", "function": {"name": "web_search", "description": ""}},  # [FIX]: no crash
    ]


async def test_gq2_stream_ids_and_error():
    chunks = [
        C({"content": "Hi"}),
        C({"tool_calls": [TC(0, "call_groq_a", "A", "{}"), TC(1, "call_groq_b", "B", '{"k":2}')]}),
        C({}, "tool_calls"),
        {"error": {"message": "rate limited", "type": "rate_limit_error"}},
    ]
    out = [view(c) for c in await stream(make("groq"), chunks)]
    assert [call["id"] for call in out[1]["tool_calls"]] == ["call_u1", "call_u2"]
    assert out[3] == chunks[3]
    events = await chained(make("groq"), chunks, complete=False)
    assert [(b[0], b[1]) for b in blocks(events)] == [("text", "Hi"), ("tool_use", "{}"), ("tool_use", '{"k":2}')]
    assert events[-1]["type"] == "error" and events[-1]["error"]["message"] == "rate limited"


async def test_gq_reasoning_field_becomes_thinking():
    chunks = [C({"reasoning": "hmm"}), C({"content": "A"}), C({}, "stop"), U(3, 2)]
    events = await chained(make("groq"), chunks)
    assert blocks(events) == [("thinking", "hmm", "ccr_1"), ("text", "A", None)]
    assert end_of(events) == ("end_turn", 3, 2)


# -- cerebras -------------------------------------------------------------------------------


async def test_cerebras_request():
    turn = {"role": "assistant", "content": "x", "thinking": {"content": "t", "signature": "s"}}
    body, options = await make("cerebras").request_in({"messages": [turn], "reasoning": {"effort": "low"}}, PROVIDER, make_ctx())
    assert body == {"messages": [{"role": "assistant", "content": "x"}]}
    assert isinstance(options, UpstreamOptions)
    assert options.headers == {"Content-Type": "application/json", "Authorization": "Bearer sk-test"}
    body, _ = await make("cerebras").request_in({"messages": []}, PROVIDER, make_ctx())
    assert body == {"messages": [], "disable_reasoning": False}
    assert not make("cerebras").overrides("stream_out") and not make("cerebras").overrides("json_out")
