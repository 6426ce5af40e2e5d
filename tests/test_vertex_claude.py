"""`vertex-claude` (transformers.md §3.14 [FIX], §5.9 VX3–VX5): unified -> Anthropic body for
rawPredict, Anthropic answers -> unified, and a tool round trip over HTTP against a fake Vertex."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ccr_aio.transformers.base import Context
from ccr_aio.transformers.dialects.anthropic_messages.request import unified_to_anthropic
from ccr_aio.transformers.dialects.anthropic_messages.response import (
    anthropic_json_to_unified,
    anthropic_stream_to_unified,
)
from ccr_aio.transformers.endpoint.response import unified_to_anthropic_message
from ccr_aio.transformers.endpoint.stream import unified_to_anthropic_stream
from tests.conftest import sdk
from tests.fakes.vertex_upstream import ClaudeReply, FakeVertex, start_vertex
from tests.stream_grammar import check_stream

SIG = "EqQBCgIYAhIMclaude-signature"
TOOL = {"type": "function", "function": {"name": "Read", "description": "r", "parameters": {"type": "object"}}}


class PinnedContext(Context):
    def new_id(self, prefix: str) -> str:
        ids = self.extra.setdefault("ids", itertools.count(1))
        return f"{prefix}{next(ids)}"


async def aiter(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


def conversation(signature: str = SIG, **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4@20250514",
        "max_tokens": 8000,
        "stream": True,
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "SYS", "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": [{"type": "text", "text": "look"},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ=="}, "media_type": "image/png"}]},
            {"role": "assistant", "content": "reading", "thinking": {"content": "plan", "signature": signature},
             "tool_calls": [{"id": "functions.Read:0", "type": "function", "function": {"name": "Read", "arguments": '{"p":"/a"}'}}]},
            {"role": "tool", "content": "A-content", "tool_call_id": "functions.Read:0", "cache_control": {"type": "ephemeral"}},
            {"role": "user", "content": "next"},
        ],
        "tools": [TOOL],
        "reasoning": {"effort": "medium", "enabled": True, "max_tokens": 4096},
        "temperature": 1,
        **extra,
    }


# -- request (VX5 [FIX]) -----------------------------------------------------------------------


def test_request_keeps_tools_results_images_and_thinking() -> None:
    body = unified_to_anthropic(conversation())
    assert "model" not in body and body["anthropic_version"] == "vertex-2023-10-16"
    assert body["system"] == [{"type": "text", "text": "SYS", "cache_control": {"type": "ephemeral"}}]
    assert body["messages"] == [
        {"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QQ=="}},
        ]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "plan", "signature": SIG},
            {"type": "text", "text": "reading"},
            {"type": "tool_use", "id": "functions_Read_0", "name": "Read", "input": {"p": "/a"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "functions_Read_0", "content": "A-content", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "next"},
        ]},
    ]
    assert body["tools"] == [{"name": "Read", "description": "r", "input_schema": {"type": "object"}}]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert body["temperature"] == 1 and body["max_tokens"] == 8000 and body["stream"] is True


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("required", {"type": "any"}), ("auto", {"type": "auto"}), ("none", {"type": "none"}),
     ({"type": "function", "function": {"name": "Read"}}, {"type": "tool", "name": "Read"})],
)
def test_tool_choice_mapping(choice: Any, expected: dict) -> None:
    body = unified_to_anthropic(conversation(tool_choice=choice))
    assert body["tool_choice"] == expected
    # Anthropic refuses thinking together with a forced tool.
    assert ("thinking" in body) == (expected["type"] in ("auto", "none"))


@pytest.mark.parametrize("foreign", ["ccr_gemini::SIG", "ccr_1700000000000", "1700000000000"])
def test_foreign_thinking_is_dropped_and_thinking_switched_off(foreign: str) -> None:
    body = unified_to_anthropic(conversation(signature=foreign, temperature=0.3, top_k=5))
    assistant = body["messages"][1]["content"]
    assert [b["type"] for b in assistant] == ["text", "tool_use"]
    assert "thinking" not in body and body["temperature"] == 0.3 and body["top_k"] == 5


def test_thinking_drops_sampling_anthropic_rejects() -> None:
    body = unified_to_anthropic(conversation(temperature=0.2, top_k=3, top_p=0.5, parallel_tool_calls=False))
    assert "thinking" in body and not {"temperature", "top_k", "top_p"} & body.keys()
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_max_tokens_cap_keeps_the_thinking_budget_below_it() -> None:
    body = unified_to_anthropic(conversation(max_tokens=128000, reasoning={"effort": "high", "max_tokens": 100000}), 64000)
    assert body["max_tokens"] == 64000 and body["thinking"] == {"type": "enabled", "budget_tokens": 63999}


# -- responses (VX4 [FIX]) ---------------------------------------------------------------------


def sse_events(tool_id: str = "tu1", thinking: bool = False) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_v", "type": "message", "role": "assistant", "content": [],
                                              "model": "claude-x", "usage": {"input_tokens": 11, "cache_read_input_tokens": 4, "output_tokens": 1}}},
        {"type": "ping"},
    ]
    index = 0
    if thinking:
        events += [
            {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": SIG}},
            {"type": "content_block_stop", "index": 0},
        ]
        index = 1
    events += [
        {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": index},
        {"type": "content_block_start", "index": index + 1, "content_block": {"type": "tool_use", "id": tool_id, "name": "Read", "input": {}}},
        {"type": "content_block_delta", "index": index + 1, "delta": {"type": "input_json_delta", "partial_json": '{"a":'}},
        {"type": "content_block_delta", "index": index + 1, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
        {"type": "content_block_stop", "index": index + 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 7}},
        {"type": "message_stop"},
    ]
    return events


async def test_vx4_stream_round_trips_to_an_anthropic_client() -> None:
    ctx = PinnedContext(model="claude-x", client_model="claude-x")
    unified = [c async for c in anthropic_stream_to_unified(aiter(sse_events()), ctx)]
    call = next(c for c in unified if c["choices"][0]["delta"].get("tool_calls"))
    assert call["choices"][0]["delta"]["tool_calls"][0]["index"] == 1
    events = [e async for e in unified_to_anthropic_stream(aiter(unified), ctx)]
    check_stream(events)
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["type"] for b in starts] == ["text", "tool_use"] and starts[1]["id"] == "tu1"
    args = "".join(e["delta"]["partial_json"] for e in events if e.get("delta", {}).get("type") == "input_json_delta")
    assert args == '{"a":1}'
    delta = events[-2]
    assert delta["delta"]["stop_reason"] == "tool_use"
    # [FIX] input tokens from message_start survive (the reference reported 0).
    assert delta["usage"] == {"input_tokens": 11, "output_tokens": 7, "cache_read_input_tokens": 4}


async def test_stream_thinking_signature_and_errors() -> None:
    ctx = PinnedContext(model="claude-x")
    unified = [c async for c in anthropic_stream_to_unified(aiter(sse_events(thinking=True)), ctx)]
    thinking = [c["choices"][0]["delta"]["thinking"] for c in unified if c["choices"][0]["delta"].get("thinking")]
    assert thinking == [{"content": "hmm"}, {"signature": SIG}]
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    events = [e async for e in unified_to_anthropic_stream(anthropic_stream_to_unified(aiter([*sse_events()[:3], error]), ctx), ctx)]
    check_stream(events, complete=False)
    assert events[-1]["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def test_json_response_keeps_tool_use_and_thinking() -> None:
    body = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [{"type": "thinking", "thinking": "t", "signature": SIG}, {"type": "text", "text": "Hi"},
                    {"type": "tool_use", "id": "tu1", "name": "Read", "input": {"a": 1}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 5, "output_tokens": 2, "cache_creation_input_tokens": 3},
    }
    unified = anthropic_json_to_unified(body, PinnedContext(model="claude-x"))
    message = unified["choices"][0]["message"]
    assert message["thinking"] == {"content": "t", "signature": SIG}
    assert message["tool_calls"][0] == {"id": "tu1", "type": "function", "function": {"name": "Read", "arguments": '{"a":1}'}}
    anthropic = unified_to_anthropic_message(unified, "claude-x")
    assert [b["type"] for b in anthropic["content"]] == ["thinking", "text", "tool_use"]
    assert anthropic["stop_reason"] == "tool_use"
    assert anthropic["usage"] == {"input_tokens": 5, "output_tokens": 2, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 3}


# -- over HTTP (VX3) ---------------------------------------------------------------------------


@pytest.fixture
async def vertex(aiohttp_server: Any, tmp_path: Path) -> tuple[FakeVertex, Path]:
    return await start_vertex(aiohttp_server, tmp_path)


def claude_config(fake: FakeVertex, key: Path) -> dict[str, Any]:
    provider = {
        "name": "vc",
        "api_base_url": str(fake.server.make_url("")),  # type: ignore[attr-defined]
        "api_key": "unused",
        "models": ["claude-sonnet-4@20250514"],
        "transformer": {"use": [["vertex-claude", {"credentials": str(key)}]]},
    }
    return {"Providers": [provider], "Router": {"default": "vc,claude-sonnet-4@20250514"}}


@pytest.mark.in_process  # asserts one OAuth token for both requests: the token is cached per process
async def test_vertex_claude_tool_round_trip(make_client: Any, vertex: tuple[FakeVertex, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    fake, key = vertex
    monkeypatch.delenv("GOOGLE_CLOUD_LOCATION", raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    client = await make_client(claude_config(fake, key))
    final = {"id": "msg_2", "type": "message", "role": "assistant", "model": "claude-x", "content": [{"type": "text", "text": "Done"}],
             "stop_reason": "end_turn", "usage": {"input_tokens": 30, "output_tokens": 2}}
    fake.claude.extend([ClaudeReply(events=sse_events(thinking=True)), ClaudeReply(message=final)])
    api = sdk(client)
    tool = {"name": "Read", "description": "r", "input_schema": {"type": "object", "properties": {"a": {"type": "integer"}}}}
    thinking = {"type": "enabled", "budget_tokens": 2048}
    user = [{"role": "user", "content": "go"}]
    async with api.messages.stream(model="claude-x", max_tokens=4000, thinking=thinking, tools=[tool], messages=user) as stream:
        first = await stream.get_final_message()
    assert [b.type for b in first.content] == ["thinking", "text", "tool_use"]
    assert first.content[0].signature == SIG and first.content[2].input == {"a": 1}
    history = [*user, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": "one"}]}]
    second = await api.messages.create(model="claude-x", max_tokens=4000, thinking=thinking, tools=[tool], messages=history)
    assert second.content[0].text == "Done"

    stream_call, json_call = fake.claude_requests
    assert stream_call.path == "/v1/projects/proj-1/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict"
    assert json_call.action == "rawPredict" and json_call.headers["Authorization"] == "Bearer tok-1"
    assert fake.issued == ["tok-1"]  # one token for both requests
    sent = json_call.body
    assert "model" not in sent and sent["anthropic_version"] == "vertex-2023-10-16"
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "hmm", "signature": SIG},
        {"type": "text", "text": "Hi"},
        {"type": "tool_use", "id": "tu1", "name": "Read", "input": {"a": 1}},
    ]
    assert sent["messages"][2] == {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": "one"}]}
