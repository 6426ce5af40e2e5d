"""End to end: the anthropic SDK → ccr-aio with a reasoning transformer → the fake provider."""

from __future__ import annotations

from typing import Any

from tests.conftest import provider_config, sdk
from tests.fakes.openai_upstream import (
    chunk,
    completion,
    json_reply,
    stream_reply,
    usage_chunk,
)
from tests.stream_grammar import check_stream, parse_sse_bytes

USER = [{"role": "user", "content": "hi"}]
THINK = {"type": "enabled", "budget_tokens": 2048}


def config(fake: Any, use: list, model: str = "fake-model") -> dict:
    entry = provider_config(fake, transformer={"use": use}, models=[model])
    return {"Providers": [entry], "Router": {"default": f"fake,{model}"}}


async def raw_events(client: Any, body: dict) -> list[dict]:
    """The SSE bytes the client receives, parsed and grammar-checked."""
    response = await client.post("/v1/messages", json=body, headers={"x-api-key": "k", "anthropic-version": "2023-06-01"})
    assert response.status == 200
    events = parse_sse_bytes(await response.read())
    check_stream(events)
    return events


def deepseek_chunks() -> list[dict]:
    return [
        chunk({"role": "assistant", "content": None, "reasoning_content": "The user"}),
        chunk({"content": None, "reasoning_content": " greets me."}),
        chunk({"content": "Hello", "reasoning_content": None}),
        chunk({"content": "!"}),
        chunk({}, "stop"),
        usage_chunk(20, 8),
    ]


async def test_deepseek_reasoning_round_trip(make_client, fake):
    client = await make_client(config(fake, ["deepseek"], "deepseek-reasoner"))
    fake.queue(stream_reply(deepseek_chunks()))
    api = sdk(client)
    async with api.messages.stream(model="m", max_tokens=32000, messages=USER, thinking=THINK) as s:
        final = await s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "The user greets me."
    assert final.content[0].signature.startswith("ccr_")
    assert final.content[1].text == "Hello!"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 8
    assert fake.requests[0].body["max_tokens"] == 8192

    # The next turn replays the reasoning as reasoning_content, without the unified extension.
    fake.queue(stream_reply(deepseek_chunks()))
    history = [*USER, {"role": "assistant", "content": [b.model_dump() for b in final.content]}, {"role": "user", "content": "and?"}]
    await raw_events(client, {"model": "m", "max_tokens": 100, "stream": True, "messages": history, "thinking": THINK})
    assistant = fake.requests[1].body["messages"][1]
    assert assistant == {"role": "assistant", "content": "Hello!", "reasoning_content": "The user greets me."}


async def test_deepseek_non_stream_thinking(make_client, fake):
    client = await make_client(config(fake, ["deepseek"]))
    fake.queue(json_reply(completion("Answer", reasoning_content="Because.")))
    message = await sdk(client).messages.create(model="m", max_tokens=100, messages=USER, thinking=THINK)
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "Because." and message.content[0].signature


async def test_reasoning_tool_call_after_reasoning_not_duplicated(make_client, fake):
    client = await make_client(config(fake, ["reasoning"]))
    call = {"index": 0, "id": "t1", "type": "function", "function": {"name": "Read", "arguments": '{"file_path":"/a"}'}}
    fake.queue(stream_reply([chunk({"reasoning_content": "read it"}), chunk({"tool_calls": [call]}), chunk({}, "tool_calls")]))
    tools = [{"name": "Read", "description": "r", "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}}]
    async with sdk(client).messages.stream(model="m", max_tokens=100, messages=USER, tools=tools, thinking=THINK) as s:
        final = await s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "tool_use"]
    assert final.content[1].input == {"file_path": "/a"}
    assert final.stop_reason == "tool_use"
    assert fake.requests[0].body["enable_thinking"] is True


async def test_openrouter_reasoning_and_cache_fields(make_client, fake):
    use = [["openrouter", {"provider": {"only": ["deepinfra"]}}]]
    client = await make_client(config(fake, use, "deepseek/deepseek-r1"))
    detail = {"type": "reasoning.text", "text": "", "signature": "SIG", "format": "unknown"}
    fake.queue(
        stream_reply(
            [
                chunk({"role": "assistant", "content": "", "reasoning": "Think"}),
                chunk({"content": "", "reasoning": None, "reasoning_details": [detail]}),
                chunk({"content": "Done"}),
                chunk({}, "stop", usage={"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}),
            ]
        )
    )
    system = [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]
    messages = [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}]
    async with sdk(client).messages.stream(model="m", max_tokens=100, system=system, messages=messages) as s:
        final = await s.get_final_message()
    assert [(b.type, getattr(b, "thinking", None) or getattr(b, "text", None)) for b in final.content] == [
        ("thinking", "Think"),
        ("text", "Done"),
    ]
    assert final.content[0].signature == "ccr_openrouter:unknown:SIG"
    assert final.usage.output_tokens == 2
    sent = fake.requests[0].body
    assert sent["provider"] == {"only": ["deepinfra"]}
    assert all("cache_control" not in part for m in sent["messages"] for part in m["content"])

    # Replayed next turn: this gateway's own signature goes back as reasoning_details.
    history = [*messages, {"role": "assistant", "content": [b.model_dump() for b in final.content]}, {"role": "user", "content": "more"}]
    await raw_events(client, {"model": "m", "max_tokens": 100, "stream": True, "messages": history})
    assistant = fake.requests[1].body["messages"][1]
    assert assistant["reasoning_details"] == [{"type": "reasoning.text", "text": "Think", "signature": "SIG", "format": "unknown"}]
    assert "thinking" not in assistant


async def test_openrouter_claude_drops_foreign_thinking(make_client, fake):
    client = await make_client(config(fake, ["openrouter"], "anthropic/claude-sonnet-4"))
    history = [
        *USER,
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "ccr_1700_3"}, {"type": "text", "text": "a"}]},
        {"role": "user", "content": [{"type": "text", "text": "q", "cache_control": {"type": "ephemeral"}}]},
    ]
    await raw_events(client, {"model": "m", "max_tokens": 100, "stream": True, "messages": history})
    sent = fake.requests[0].body["messages"]
    assert sent[1] == {"role": "assistant", "content": "a"}
    assert sent[2]["content"][0]["cache_control"] == {"type": "ephemeral"}  # claude keeps cache_control


async def test_groq_end_to_end(make_client, fake):
    client = await make_client(config(fake, ["groq"], "llama-3.3-70b"))
    call = {"index": 0, "id": "call_x", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"ls"}'}}
    fake.queue(stream_reply([chunk({"content": "Listing."}), chunk({"tool_calls": [call]}), chunk({}, "tool_calls"), usage_chunk(30, 6)]))
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {"command": {"type": "string"}}}
    tools: list[Any] = [{"name": "Bash", "description": "run", "input_schema": schema}, {"type": "web_search_20250305", "name": "web_search"}]
    system = [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}]
    request: dict[str, Any] = {"system": system, "messages": USER, "tools": tools, "thinking": THINK}
    async with sdk(client).messages.stream(model="m", max_tokens=100, **request) as s:
        final = await s.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use"]
    assert final.content[1].id.startswith("call_") and final.content[1].id != "call_x"
    assert final.content[1].input == {"command": "ls"}
    assert final.stop_reason == "tool_use" and final.usage.output_tokens == 6
    sent = fake.requests[0].body
    assert "reasoning" not in sent
    assert "$schema" not in sent["tools"][0]["function"]["parameters"]
    assert "cache_control" not in sent["messages"][0]["content"][0]
    assert all("server_tool_type" not in tool for tool in sent["tools"])


async def test_extrathinktag_end_to_end(make_client, fake):
    client = await make_client(config(fake, ["extrathinktag"]))
    fake.queue(stream_reply([chunk({"content": "<think>hm"}), chunk({"content": "m</think>\n\nYes"}), chunk({}, "stop"), usage_chunk(3, 4)]))
    events = await raw_events(client, {"model": "m", "max_tokens": 100, "stream": True, "messages": USER})
    kinds = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert kinds == ["thinking", "text"]
    assert events[-2]["usage"]["output_tokens"] == 4
