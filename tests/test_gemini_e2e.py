"""The `gemini` provider end to end: the anthropic SDK -> ccr-aio -> a fake Gemini API over HTTP.

Covers stream and non-stream text, thinking, and a Gemini 3 tool round trip whose second request
must replay the functionCall's thoughtSignature (Gemini 3 rejects the turn without it).
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.conftest import sdk
from tests.fakes.gemini_upstream import (
    FakeGemini,
    GeminiReply,
    gemini_error,
    part_chunk,
)
from tests.stream_grammar import check_stream, parse_sse_bytes

G3 = "gemini-3-pro-preview"
USER = [{"role": "user", "content": "hi"}]
READ_TOOL = {
    "name": "Read",
    "description": "Read a file",
    "input_schema": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"file_path": {"type": "string"}},
        "required": ["file_path"],
        "additionalProperties": False,
    },
}


@pytest.fixture
async def gemini(aiohttp_server: Any) -> FakeGemini:
    fake = FakeGemini(api_key="gm-key")
    fake.server = await aiohttp_server(fake.app(), host="127.0.0.1")  # type: ignore[attr-defined]
    return fake


def config(fake: FakeGemini, model: str = "gemini-2.5-pro") -> dict[str, Any]:
    provider = {
        "name": "gem",
        # No trailing slash, no /models: both are normalized (§3.12.1 [FIX]).
        "api_base_url": str(fake.server.make_url("/v1beta")),  # type: ignore[attr-defined]
        "api_key": "gm-key",
        "models": ["gemini-2.5-pro", G3],
        "transformer": {"use": ["gemini"]},
    }
    return {"Providers": [provider], "Router": {"default": f"gem,{model}"}}


async def test_non_stream_text(make_client: Any, gemini: FakeGemini) -> None:
    client = await make_client(config(gemini))
    message = await sdk(client).messages.create(model="claude-x", max_tokens=100, system="Be brief", messages=USER)
    assert message.content[0].text == "Hello from Gemini"
    assert message.stop_reason == "end_turn" and message.usage.input_tokens == 3 and message.usage.output_tokens == 4
    sent = gemini.requests[0]
    assert sent.model == "gemini-2.5-pro" and sent.action == "generateContent"
    lowered = {k.lower(): v for k, v in sent.headers.items()}
    assert lowered["x-goog-api-key"] == "gm-key" and "authorization" not in lowered
    assert sent.body["systemInstruction"] == {"parts": [{"text": "Be brief"}]}
    assert sent.body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    assert sent.body["generationConfig"] == {"maxOutputTokens": 100}


async def test_stream_text_with_thinking(make_client: Any, gemini: FakeGemini) -> None:
    client = await make_client(config(gemini))
    gemini.queue(
        [
            part_chunk([{"text": "Let me think", "thought": True}]),
            part_chunk([{"text": "Hello"}]),
            part_chunk([{"text": " world"}], "STOP", (12, 2, 5)),
        ]
    )
    body = {
        "model": "claude-x",
        "max_tokens": 2000,
        "stream": True,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": USER,
    }
    response = await client.post("/v1/messages", json=body)
    assert response.status == 200
    events = parse_sse_bytes(await response.read())
    check_stream(events)
    starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert starts == ["thinking", "text"]
    text = "".join(e["delta"]["text"] for e in events if e.get("delta", {}).get("type") == "text_delta")
    assert text == "Hello world"
    assert events[-2]["usage"]["output_tokens"] == 7
    sent = gemini.requests[0]
    assert sent.action == "streamGenerateContent" and sent.query == {"alt": "sse"}
    assert sent.body["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 1024}


async def test_stream_via_sdk_helper(make_client: Any, gemini: FakeGemini) -> None:
    client = await make_client(config(gemini))
    async with sdk(client).messages.stream(model="claude-x", max_tokens=50, messages=USER) as stream:
        final = await stream.get_final_message()
    assert final.content[0].text == "Hello from Gemini"


async def test_gemini3_tool_round_trip_replays_the_thought_signature(make_client: Any, gemini: FakeGemini) -> None:
    client = await make_client(config(gemini, G3))
    api = sdk(client)
    gemini.queue(
        [
            part_chunk([{"text": "I should read it", "thought": True}], model=G3),
            part_chunk(
                [{"functionCall": {"name": "Read", "args": {"file_path": "/a.py"}}, "thoughtSignature": "SIG-A"}],
                "STOP",
                (20, 8, 4),
                model=G3,
            ),
        ],
        [part_chunk([{"text": "It imports os.", "thoughtSignature": "SIG-B"}], "STOP", (40, 5, 0), model=G3)],
    )
    thinking = {"type": "enabled", "budget_tokens": 4096}
    async with api.messages.stream(
        model="claude-x", max_tokens=8000, thinking=thinking, tools=[READ_TOOL], messages=USER
    ) as stream:
        first = await stream.get_final_message()
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    assert first.stop_reason == "tool_use"
    tool_use = first.content[1]
    assert tool_use.name == "Read" and tool_use.input == {"file_path": "/a.py"}

    history = [
        *USER,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "import os"}]},
    ]
    async with api.messages.stream(
        model="claude-x", max_tokens=8000, thinking=thinking, tools=[READ_TOOL], messages=history
    ) as stream:
        second = await stream.get_final_message()
    # The answer's signature sits on a text part and no thought came with it: Gemini does not
    # need it back, and no thinking block is made up to carry it.
    assert [b.type for b in second.content] == ["text"]
    assert second.content[0].text == "It imports os."

    replay = gemini.requests[1].body
    assert replay["contents"][1] == {
        "role": "model",
        "parts": [
            {"functionCall": {"id": tool_use.id, "name": "Read", "args": {"file_path": "/a.py"}}, "thoughtSignature": "SIG-A"}
        ],
    }
    assert replay["contents"][2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "Read", "id": tool_use.id, "response": {"result": "import os"}}}],
    }
    # budget 4096 -> effort medium, which Gemini 3 Pro does not offer: high.
    assert replay["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingLevel": "high"}
    declaration = replay["tools"][0]["functionDeclarations"][0]
    assert declaration["parameters"] == {
        "type": "OBJECT",
        "properties": {"file_path": {"type": "STRING"}},
        "required": ["file_path"],
    }


async def test_non_stream_tool_call_with_thinking(make_client: Any, gemini: FakeGemini) -> None:
    client = await make_client(config(gemini))
    gemini.queue(
        [
            part_chunk(
                [
                    {"text": "plan", "thought": True},
                    {"functionCall": {"name": "Read", "args": {"file_path": "/b"}}, "thoughtSignature": "SIG-C"},
                ],
                "STOP",
                (9, 3, 2),
            )
        ]
    )
    message = await sdk(client).messages.create(model="claude-x", max_tokens=100, tools=[READ_TOOL], messages=USER)
    assert [b.type for b in message.content] == ["thinking", "tool_use"]
    assert message.content[0].thinking == "plan" and message.content[0].signature == "ccr_gemini::SIG-C"
    assert message.stop_reason == "tool_use" and message.usage.output_tokens == 5


async def test_foreign_history_replays_without_signatures(make_client: Any, gemini: FakeGemini) -> None:
    """A session that started on Anthropic continues on Gemini 3: the Anthropic signature is
    dropped and the validator-skip sentinel keeps Gemini 3 from rejecting the turn."""
    client = await make_client(config(gemini, G3))
    history = [
        *USER,
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "EqQBCgIYAhIManthropic"},
                {"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"file_path": "/x"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "x"}]},
    ]
    await sdk(client).messages.create(model="claude-x", max_tokens=100, tools=[READ_TOOL], messages=history)
    part = gemini.requests[0].body["contents"][1]["parts"][0]
    assert part["thoughtSignature"] == "skip_thought_signature_validator"


async def test_upstream_error_status_reaches_the_client(make_client: Any, gemini: FakeGemini) -> None:
    client = await make_client(config(gemini))
    gemini.queue(GeminiReply(status=429, body=gemini_error(429, "Resource exhausted", "RESOURCE_EXHAUSTED")))
    with pytest.raises(anthropic.RateLimitError) as info:
        await sdk(client).messages.create(model="claude-x", max_tokens=10, messages=USER)
    assert "Resource exhausted" in str(info.value)
