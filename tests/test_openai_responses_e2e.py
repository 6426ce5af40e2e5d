"""End to end: the anthropic SDK → ccr-aio → a fake OpenAI Responses API provider over HTTP."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from ccr_aio.transformers.dialects.responses.common import encrypted_reasoning
from tests.conftest import sdk
from tests.fakes.responses_upstream import (
    MODEL,
    ResponsesReply,
    ResponsesUpstream,
    function_call_item,
    message_item,
    reasoning_item,
    reply,
    response_object,
    stream_events,
    usage,
)
from tests.stream_grammar import check_stream, parse_sse_bytes

USER = [{"role": "user", "content": "hi"}]
TOOLS = [
    {"name": "Read", "description": "Read a file", "input_schema": {
        "type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}},
    {"name": "Bash", "description": "Run a command", "input_schema": {
        "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
]
TWO_CALLS = [function_call_item("call_a", "Read", '{"file_path":"/a.py"}'),
             function_call_item("call_b", "Bash", '{"command":"ls"}')]


@pytest.fixture
async def upstream(aiohttp_server: Any) -> ResponsesUpstream:
    fake = ResponsesUpstream()
    server = await aiohttp_server(fake.app(), host="127.0.0.1")
    fake.url = str(server.make_url("/v1/responses"))
    return fake


@pytest.fixture
async def client(make_client: Any, upstream: ResponsesUpstream) -> Any:
    provider = {"name": "resp", "api_base_url": upstream.url, "api_key": "sk-resp", "models": [MODEL],
                "transformer": {"use": ["openai-responses"]}}
    return await make_client({"Providers": [provider], "Router": {"default": f"resp,{MODEL}"}})


async def raw_stream(client: Any, **body: Any) -> list[dict]:
    payload = {"model": "claude-sonnet-4", "max_tokens": 100, "messages": USER, "stream": True, **body}
    response = await client.post("/v1/messages", json=payload)
    assert response.status == 200
    return parse_sse_bytes(await response.read())


async def test_text_stream(client, upstream):
    upstream.queue(reply([message_item("Hello from gpt")], usage_=usage(42, 7, cached=10)))
    async with sdk(client).messages.stream(model="claude-sonnet-4", max_tokens=100, messages=USER) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["text"] and final.content[0].text == "Hello from gpt"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_input_tokens) == (32, 7, 10)
    sent = upstream.requests[0]
    assert sent.path == "/v1/responses"
    assert sent.headers["Authorization"] == "Bearer sk-resp"
    assert sent.body["model"] == MODEL and sent.body["stream"] is True
    assert sent.body["input"] == [{"role": "user", "content": "hi"}]
    assert sent.body["max_output_tokens"] == 100 and "messages" not in sent.body and "max_tokens" not in sent.body

    upstream.queue(reply([message_item("Again")]))
    events = await raw_stream(client)
    check_stream(events)
    assert "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta") == "Again"


async def test_text_non_stream(client, upstream):
    upstream.queue(reply([message_item("Plain answer")], usage_=usage(12, 3)))
    message = await sdk(client).messages.create(model="claude-sonnet-4", max_tokens=50, messages=USER)
    assert message.content[0].text == "Plain answer"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 12 and message.usage.output_tokens == 3
    assert upstream.requests[0].body["stream"] is False


async def test_two_tool_calls_stream(client, upstream):
    upstream.queue(reply([message_item("Checking."), *TWO_CALLS]))
    events = await raw_stream(client, tools=TOOLS)
    check_stream(events)
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [(b["type"], b.get("id")) for b in starts] == [("text", None), ("tool_use", "call_a"), ("tool_use", "call_b")]
    assert events[-2]["delta"]["stop_reason"] == "tool_use"

    upstream.queue(reply([message_item("Checking."), *TWO_CALLS]))
    async with sdk(client).messages.stream(model="m", max_tokens=100, messages=USER, tools=TOOLS) as stream:
        final = await stream.get_final_message()
    calls = [(b.id, b.name, b.input) for b in final.content if b.type == "tool_use"]
    assert calls == [("call_a", "Read", {"file_path": "/a.py"}), ("call_b", "Bash", {"command": "ls"})]
    sent = upstream.requests[0].body
    assert [t["name"] for t in sent["tools"]] == ["Read", "Bash"] and sent["parallel_tool_calls"] is False


async def test_two_tool_calls_non_stream(client, upstream):
    upstream.queue(reply(TWO_CALLS))
    message = await sdk(client).messages.create(model="m", max_tokens=100, messages=USER, tools=TOOLS,
                                                tool_choice={"type": "tool", "name": "Read"})
    assert [(b.id, b.input) for b in message.content] == [("call_a", {"file_path": "/a.py"}), ("call_b", {"command": "ls"})]
    assert message.stop_reason == "tool_use"
    assert upstream.requests[0].body["tool_choice"] == {"type": "function", "name": "Read"}


@pytest.mark.parametrize("stream", [True, False])
async def test_reasoning_becomes_signed_thinking(client, upstream, stream):
    upstream.queue(reply([reasoning_item("Plan the answer.", encrypted="gAAAAB-enc"), message_item("42")]))
    kwargs = {"model": "m", "max_tokens": 8000, "messages": USER, "thinking": {"type": "enabled", "budget_tokens": 4000}}
    if stream:
        async with sdk(client).messages.stream(**kwargs) as s:
            final = await s.get_final_message()
    else:
        final = await sdk(client).messages.create(**kwargs)
    thinking, text = final.content
    assert thinking.type == "thinking" and thinking.thinking == "Plan the answer."
    assert encrypted_reasoning(thinking.signature, "resp") == "gAAAAB-enc"
    assert text.text == "42"
    sent = upstream.requests[0].body
    assert sent["reasoning"] == {"effort": "medium", "summary": "detailed"}
    assert sent["include"] == ["reasoning.encrypted_content"]


async def test_response_failed_stream_is_an_error_event(client, upstream):
    failed = response_object([], status="failed", error={"code": "rate_limit_exceeded", "message": "Quota hit"})
    partial = [e for e in stream_events(response_object([message_item("Partial")])) if e["type"] != "response.completed"]
    upstream.queue(ResponsesReply(events=[*partial, stream_events(failed)[-1]]))
    events = await raw_stream(client)
    check_stream(events, complete=False)
    assert events[-1] == {"type": "error", "error": {"type": "rate_limit_error", "message": "Quota hit"}}
    assert not any(e["type"] == "message_stop" for e in events)

    upstream.queue(ResponsesReply(response=failed))
    with pytest.raises(anthropic.APIError):  # the SDK must not take a failed answer as complete
        async with sdk(client).messages.stream(model="m", max_tokens=10, messages=USER) as s:
            await s.get_final_message()


async def test_response_failed_non_stream_keeps_the_status(client, upstream):
    upstream.queue(ResponsesReply(response=response_object([], status="failed", error={"code": "rate_limit_exceeded", "message": "Quota hit"})))
    with pytest.raises(anthropic.RateLimitError) as info:
        await sdk(client).messages.create(model="m", max_tokens=10, messages=USER)
    assert "Quota hit" in info.value.body["error"]["message"]


async def test_upstream_http_error_keeps_status_and_wording(client, upstream):
    body = {"error": {"message": "Unsupported parameter: 'temperature'", "type": "invalid_request_error"}}
    upstream.queue(ResponsesReply(status=400, error_body=body))
    with pytest.raises(anthropic.BadRequestError) as info:
        await sdk(client).messages.create(model="m", max_tokens=10, messages=USER)
    assert "Unsupported parameter" in info.value.body["error"]["message"]


@pytest.mark.parametrize("stream", [True, False])
async def test_tool_round_trip_replays_calls_outputs_and_reasoning(client, upstream, stream):
    first = [reasoning_item("Need the file.", encrypted="gAAAAB-turn1"), message_item("Reading."),
             function_call_item("call_r", "Read", '{"file_path":"/a.py"}')]
    upstream.queue(reply(first), reply([message_item("It prints 1.")]))
    api = sdk(client)
    kwargs = {"model": "m", "max_tokens": 8000, "tools": TOOLS, "thinking": {"type": "enabled", "budget_tokens": 2000}}
    if stream:
        async with api.messages.stream(messages=USER, **kwargs) as s:
            turn = await s.get_final_message()
    else:
        turn = await api.messages.create(messages=USER, **kwargs)
    assert [b.type for b in turn.content] == ["thinking", "text", "tool_use"]
    history = [
        *USER,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in turn.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_r", "content": "print(1)"}]},
    ]
    answer = await api.messages.create(messages=history, **kwargs)
    assert answer.content[-1].text == "It prints 1."
    assert upstream.requests[1].body["input"] == [
        {"role": "user", "content": "hi"},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Need the file."}], "encrypted_content": "gAAAAB-turn1"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Reading."}]},
        {"type": "function_call", "arguments": '{"file_path":"/a.py"}', "name": "Read", "call_id": "call_r"},
        {"type": "function_call_output", "call_id": "call_r", "output": "print(1)"},
    ]
