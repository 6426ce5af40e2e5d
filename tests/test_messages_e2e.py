"""End to end: the official anthropic SDK → ccr-aio → a fake OpenAI provider over HTTP."""

from __future__ import annotations

import asyncio
import io
import json

import anthropic
import pytest

from tests.conftest import FIXTURES, base_config, sdk
from tests.fakes.openai_upstream import (
    chunk,
    completion,
    error_reply,
    json_reply,
    stream_reply,
    text_chunks,
    usage_chunk,
)
from tests.stream_grammar import check_stream, parse_sse_bytes

USER = [{"role": "user", "content": "hi"}]


async def test_text_stream_through_sdk(client, fake):
    fake.queue(stream_reply(text_chunks(["Hel", "lo ", "world"], usage=(100, 7))))
    async with sdk(client).messages.stream(model="claude-sonnet-4", max_tokens=100, messages=USER) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["text"]
    assert final.content[0].text == "Hello world"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 7
    assert final.model == "claude-sonnet-4"  # we report the model the client asked for
    sent = fake.requests[0]
    assert sent.body["model"] == "fake-model" and sent.body["stream"] is True
    assert sent.headers["Authorization"] == "Bearer sk-fake-provider"


async def test_text_non_stream_through_sdk(client, fake):
    fake.queue(json_reply(completion("Plain answer")))
    message = await sdk(client).messages.create(model="claude-sonnet-4", max_tokens=50, messages=USER)
    assert message.content[0].text == "Plain answer"
    assert message.usage.input_tokens == 12 and message.usage.output_tokens == 3
    assert fake.requests[0].body["stream"] is False


async def test_parallel_tool_results_reach_the_provider_in_call_order(client, fake):
    """Two parallel Bash calls whose results Claude Code sends back in completion order (the
    second call finished first): the provider gets the tool messages in the calls' order."""
    fake.queue(json_reply(completion("Both ran.")))
    history = [
        *USER,
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Two at once."},
                {"type": "tool_use", "id": "call_m4a", "name": "Bash", "input": {"command": "cat steps.log"}},
                {"type": "tool_use", "id": "call_m4b", "name": "Bash", "input": {"command": "wc -l < notes.md"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_m4b", "content": "3"},
                {"type": "tool_result", "tool_use_id": "call_m4a", "content": "one"},
            ],
        },
    ]
    message = await sdk(client).messages.create(model="claude-sonnet-4", max_tokens=50, messages=history)
    assert message.content[0].text == "Both ran."
    sent = fake.requests[0].body["messages"]
    assert [c["id"] for c in sent[1]["tool_calls"]] == ["call_m4a", "call_m4b"]
    assert [(m["role"], m["tool_call_id"], m["content"]) for m in sent[2:]] == [
        ("tool", "call_m4a", "one"),
        ("tool", "call_m4b", "3"),
    ]


async def test_parallel_tool_calls_with_split_arguments(client, fake):
    chunks = [
        chunk({"role": "assistant", "content": "Checking."}),
        chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "Read", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "Bash", "arguments": '{"comm'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"file_path":'}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": 'and":"ls"}'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"/a.py"}'}}]}),
        chunk({}, "tool_calls"),
        usage_chunk(50, 20),
    ]
    fake.queue(stream_reply(chunks))
    tools = [
        {"name": "Read", "description": "read", "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}},
        {"name": "Bash", "description": "run", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}},
    ]
    async with sdk(client).messages.stream(model="m", max_tokens=100, messages=USER, tools=tools) as stream:
        final = await stream.get_final_message()
    tool_uses = [b for b in final.content if b.type == "tool_use"]
    assert [(t.id, t.name, t.input) for t in tool_uses] == [
        ("call_a", "Read", {"file_path": "/a.py"}),
        ("call_b", "Bash", {"command": "ls"}),
    ]
    assert final.stop_reason == "tool_use"
    assert fake.requests[0].body["tools"][0]["function"]["name"] == "Read"


async def test_reasoning_becomes_signed_thinking(client, fake):
    chunks = [
        chunk({"role": "assistant", "thinking": {"content": "Let me "}}),
        chunk({"thinking": {"content": "think."}}),
        chunk({"thinking": {"signature": "sig-123"}}),
        chunk({"content": "Answer"}),
        chunk({}, "stop"),
    ]
    fake.queue(stream_reply(chunks))
    async with sdk(client).messages.stream(
        model="m", max_tokens=2000, messages=USER, thinking={"type": "enabled", "budget_tokens": 1024}
    ) as stream:
        final = await stream.get_final_message()
    assert final.content[0].type == "thinking"
    assert final.content[0].thinking == "Let me think."
    assert final.content[0].signature == "sig-123"
    assert final.content[1].text == "Answer"
    assert "reasoning" not in fake.requests[0].body  # no transformer of this chain takes it


@pytest.mark.parametrize("status, error_cls, error_type", [
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
])
async def test_upstream_errors_keep_status_and_wording(client, fake, status, error_cls, error_type):
    fake.queue(error_reply(status, "provider says: slow down, context_length_exceeded"))
    with pytest.raises(error_cls) as info:
        async with sdk(client).messages.stream(model="m", max_tokens=10, messages=USER) as stream:
            await stream.get_final_message()
    assert info.value.status_code == status
    body = info.value.body
    assert body["type"] == "error" and body["error"]["type"] == error_type
    assert "provider says: slow down, context_length_exceeded" in body["error"]["message"]
    assert "fake" in body["error"]["message"] and "fake-model" in body["error"]["message"]


async def test_upstream_drop_mid_stream_gives_error_event_and_no_message_stop(client, fake):
    fake.queue(stream_reply(text_chunks(["partial", " answer", " never", " finished"]), drop_after=3))
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 10, "messages": USER, "stream": True})
    assert response.status == 200
    events = parse_sse_bytes(await response.read())
    assert events[-1]["type"] == "error"
    assert "dropped" in events[-1]["error"]["message"]
    assert not any(e["type"] == "message_stop" for e in events)
    check_stream(events, complete=False)
    fake.queue(stream_reply(text_chunks(["a", "b", "c"]), drop_after=2))
    with pytest.raises(anthropic.APIError):  # the SDK must not take a cut answer as complete
        async with sdk(client).messages.stream(model="m", max_tokens=10, messages=USER) as stream:
            await stream.get_final_message()


async def test_client_disconnect_cancels_upstream(client, fake):
    fake.queue(stream_reply(text_chunks(["first", "second"]), hang_after=2))
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 10, "messages": USER, "stream": True})
    first = await response.content.readuntil(b"\n\n")
    assert b"message_start" in first
    await asyncio.wait_for(fake.hanging.wait(), 5)
    response.close()  # the client goes away mid-stream
    await asyncio.wait_for(fake.cancelled.wait(), 5)


async def test_malformed_json(client):
    response = await client.post("/v1/messages", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status == 400
    body = await response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "Invalid JSON" in body["error"]["message"]


async def test_missing_messages(client):
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 1})
    assert response.status == 400
    assert (await response.json())["error"]["message"] == "messages is required"


async def test_unknown_explicit_model_is_400_naming_it(client):
    response = await client.post("/v1/messages", json={"model": "nope,zzz", "max_tokens": 1, "messages": USER})
    assert response.status == 400
    assert "nope,zzz" in (await response.json())["error"]["message"]


async def test_explicit_provider_model_case_insensitive(client, fake):
    fake.queue(json_reply(completion("ok")))
    response = await client.post("/v1/messages", json={"model": "FAKE,other-model", "max_tokens": 1, "messages": USER})
    assert response.status == 200
    assert fake.requests[0].body["model"] == "Other-Model"


async def test_unknown_route_and_method(client):
    response = await client.get("/v1/nothing")
    assert response.status == 404
    assert (await response.json())["error"]["type"] == "not_found_error"
    response = await client.get("/v1/messages")
    assert response.status == 405
    assert (await response.json())["type"] == "error"


async def test_huge_body_is_413(client):
    response = await client.post("/v1/messages", data=io.BytesIO(b"x" * (65 * 1024 * 1024)))
    assert response.status == 413
    assert (await response.json())["error"]["type"] == "request_too_large"


@pytest.mark.parametrize("headers, status, message", [
    ({}, 401, "APIKEY is missing"),
    ({"x-api-key": "wrong"}, 401, "Invalid API key"),
    ({"Authorization": "Bearer wrong"}, 401, "Invalid API key"),
    ({"x-api-key": "secret-key"}, 200, None),
    ({"Authorization": "Bearer secret-key"}, 200, None),
])
async def test_auth(make_client, fake, headers, status, message):
    client = await make_client(base_config(fake, APIKEY="secret-key"))
    fake.queue(json_reply(completion("ok")))
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 1, "messages": USER}, headers=headers)
    assert response.status == status
    if message:
        body = await response.json()
        assert body == {"type": "error", "error": {"type": "authentication_error", "message": message}}
    assert (await client.get("/health")).status == 200


async def test_sdk_with_api_key(make_client, fake):
    client = await make_client(base_config(fake, APIKEY="secret-key"))
    fake.queue(json_reply(completion("ok")))
    message = await sdk(client, api_key="secret-key").messages.create(model="m", max_tokens=5, messages=USER)
    assert message.content[0].text == "ok"
    assert "secret-key" not in json.dumps(fake.requests[0].headers)


async def test_claude_code_body_shape(client, fake):
    body = json.loads((FIXTURES / "claude-code-2.1.328-first-turn.json").read_text())
    fake.queue(stream_reply(text_chunks(["hi!"])))
    headers = {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27",
        "x-api-key": "anything",
        "X-Claude-Code-Session-Id": "3e0e4e65-087a-48b5-af5d-18b03a0d6929",
        "x-app": "cli",
    }
    response = await client.post("/v1/messages?beta=true", json=body, headers=headers)
    assert response.status == 200
    events = parse_sse_bytes(await response.read())
    check_stream(events)
    sent = fake.requests[0].body
    for key in ("metadata", "context_management", "output_config", "thinking"):
        assert key not in sent
    assert "null" not in json.dumps(sent)
    assert "cache_control" not in json.dumps(sent)  # an Anthropic-only field, dropped for OpenAI wire
    assert "reasoning" not in sent  # no transformer of this chain takes it
    system_texts = json.dumps([m for m in sent["messages"] if m["role"] == "system"])
    assert "x-anthropic-billing-header" not in system_texts
    assert "# Environment" in system_texts  # the role:"system" message inside messages survives
    assert "anthropic-version" not in {k.lower() for k in fake.requests[0].headers}


async def test_stream_requested_but_upstream_answers_json(client, fake):
    fake.queue(json_reply(completion("from json", tool_calls=[{"id": "c1", "type": "function", "function": {"name": "Read", "arguments": '{"a":1}'}}], finish="tool_calls")))
    async with sdk(client).messages.stream(model="m", max_tokens=10, messages=USER) as stream:
        final = await stream.get_final_message()
    assert final.content[0].text == "from json"
    assert final.content[1].input == {"a": 1}
    assert final.stop_reason == "tool_use"


async def test_json_requested_but_upstream_streams(client, fake):
    fake.queue(stream_reply(text_chunks(["agg", "regated"])))
    message = await sdk(client).messages.create(model="m", max_tokens=10, messages=USER)
    assert message.content[0].text == "aggregated"


async def test_count_tokens(client):
    response = await client.post("/v1/messages/count_tokens", json={"messages": [{"role": "user", "content": "Hello, world!"}]})
    assert response.status == 200
    assert await response.json() == {"input_tokens": 4}


async def test_info_routes(client):
    root = await (await client.get("/")).json()
    assert "version" in root
    health = await (await client.get("/health")).json()
    assert health["status"] == "ok" and health["timestamp"].endswith("Z")


async def test_openai_gateway_can_keep_cache_control(make_client, fake):
    config = base_config(fake)
    config["Providers"][0]["transformer"] = {"use": [["openai", {"cache_control": True}]]}
    client = await make_client(config)
    fake.queue(json_reply(completion("ok")))
    system = [{"type": "text", "text": "big prompt", "cache_control": {"type": "ephemeral"}}]
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "system": system, "messages": USER})
    assert response.status == 200
    assert fake.requests[0].body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}


async def test_browser_origin_must_be_local_without_apikey(client, fake):
    fake.queue(json_reply(completion("ok")))
    body = {"model": "m", "max_tokens": 5, "messages": USER}
    evil = await client.post("/v1/messages", json=body, headers={"Origin": "http://evil.example"})
    assert evil.status == 403
    assert (await evil.json())["error"]["type"] == "permission_error"
    local = await client.post("/v1/messages", json=body, headers={"Origin": f"http://127.0.0.1:{client.port}"})
    assert local.status == 200


async def test_a_crash_is_a_500_without_traceback(make_client, fake, tmp_path):
    plugin = tmp_path / "boom.py"
    plugin.write_text(
        "from ccr_aio.transformers.base import Transformer\n"
        "class Boom(Transformer):\n"
        "    name = 'boom'\n"
        "    async def request_in(self, request, provider, ctx):\n"
        "        raise RuntimeError('internal detail sk-do-not-leak')\n"
    )
    config = base_config(fake, transformers=[{"path": str(plugin)}])
    config["Providers"][0]["transformer"] = {"use": ["boom"]}
    client = await make_client(config)
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER})
    assert response.status == 500
    body = await response.json()
    assert body == {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}
    assert not fake.requests


@pytest.mark.in_process  # shortens the app's ping interval
async def test_pings_keep_a_silent_stream_alive(client, fake, monkeypatch):
    from ccr_aio.pipeline import exchange

    monkeypatch.setattr(exchange, "PING_INTERVAL_S", 0.05)
    fake.queue(stream_reply(text_chunks(["thinking hard", " done"]), hang_after=2))
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 10, "messages": USER, "stream": True})
    seen = b""
    while seen.count(b"event: ping") < 2:  # the provider is silent: pings must arrive
        seen += await asyncio.wait_for(response.content.readany(), 5)
    events = parse_sse_bytes(seen[: seen.rindex(b"\n\n") + 2])
    assert events[0]["type"] == "message_start"
    assert {"type": "ping"} in events
    response.close()


@pytest.mark.in_process  # reads the app's log events
async def test_client_leaving_a_fast_stream_is_not_blamed_on_the_provider(client, fake, caplog):
    from structlog.testing import capture_logs

    fake.queue(stream_reply(text_chunks([f"w{i} " for i in range(3000)])))
    with capture_logs() as logs:
        response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 10, "messages": USER, "stream": True})
        await response.content.readany()
        response.close()
        fake.queue(json_reply(completion("still fine")))
        after = await client.post("/v1/messages", json={"model": "m", "max_tokens": 10, "messages": USER})
        assert (await after.json())["content"][0]["text"] == "still fine"
    events = [entry["event"] for entry in logs]
    assert "stream_aborted" not in events and "stream_failed" not in events
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # no "Error handling request" traceback
