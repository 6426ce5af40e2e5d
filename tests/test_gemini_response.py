"""transformers.md §5.9 GM4–GM10 with the [FIX] expectations: Gemini JSON and stream chunks ->
unified, and on through the Anthropic stream converter (checked with the stream grammar).

One deliberate difference from GM4's numbers: thought tokens count as output tokens
(completion_tokens = candidates + thoughts), as Anthropic and OpenAI count them (§3.12.4 FIX-optional).
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ccr_aio.errors import ApiError
from ccr_aio.pipeline.sse import iter_json_chunks
from ccr_aio.transformers.base import Context
from ccr_aio.transformers.dialects.gemini.response import (
    gemini_json_to_unified,
    gemini_stream_to_unified,
)
from ccr_aio.transformers.endpoint.response import unified_to_anthropic_message
from ccr_aio.transformers.endpoint.stream import unified_to_anthropic_stream
from ccr_aio.transformers.shared.tool_signatures import split_id
from tests.fakes.gemini_upstream import merge_chunks, part_chunk
from tests.stream_grammar import check_stream


class PinnedContext(Context):
    def new_id(self, prefix: str) -> str:
        ids = self.extra.setdefault("ids", itertools.count(1))
        return f"{prefix}{next(ids)}"


def make_ctx(model: str = "gemini-2.5-pro") -> Context:
    return PinnedContext(model=model, client_model="claude-x", now_ms=lambda: 1_700_000_000_000)


async def aiter(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


async def unified(chunks: list[dict], model: str = "gemini-2.5-pro") -> list[dict]:
    return [c async for c in gemini_stream_to_unified(aiter(chunks), make_ctx(model))]


async def events(chunks: list[dict], model: str = "gemini-2.5-pro", complete: bool = True) -> list[dict]:
    ctx = make_ctx(model)
    out = [e async for e in unified_to_anthropic_stream(gemini_stream_to_unified(aiter(chunks), ctx), ctx)]
    check_stream(out, complete=complete)
    return out


def deltas(chunks: list[dict]) -> list[tuple[dict, Any]]:
    return [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks if "choices" in c]


def blocks(anthropic_events: list[dict]) -> list[str]:
    return [e["content_block"]["type"] for e in anthropic_events if e["type"] == "content_block_start"]


def message_delta(anthropic_events: list[dict]) -> dict:
    return next(e for e in anthropic_events if e["type"] == "message_delta")


USAGE_META = {
    "promptTokenCount": 100,
    "candidatesTokenCount": 20,
    "totalTokenCount": 150,
    "cachedContentTokenCount": 30,
    "thoughtsTokenCount": 30,
}


# -- GM4 non-stream ----------------------------------------------------------------------------


def gm4_body() -> dict:
    parts = [
        {"text": "thinking...", "thought": True},
        {"text": "Hello"},
        {"text": "World"},
        {"functionCall": {"name": "Read", "args": {"p": "/a"}}, "thoughtSignature": "TS1"},
    ]
    body = part_chunk(parts, "STOP")
    body["usageMetadata"] = USAGE_META
    return body


def test_gm4_non_stream_to_unified() -> None:
    result = gemini_json_to_unified(gm4_body(), make_ctx())
    message = result["choices"][0]["message"]
    assert message["content"] == "Hello\nWorld"
    assert message["thinking"] == {"content": "thinking...", "signature": "ccr_gemini::TS1"}
    [call] = message["tool_calls"]
    assert re.fullmatch(r"tool_\d+", call["id"]) and call["function"] == {"name": "Read", "arguments": '{"p":"/a"}'}
    assert result["choices"][0]["finish_reason"] == "tool_calls"
    assert result["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 30},
        "output_tokens_details": {"reasoning_tokens": 30},
    }
    assert result["id"] == "resp-1" and result["model"] == "gemini-2.5-pro"


def test_gm4_non_stream_to_anthropic() -> None:
    message = unified_to_anthropic_message(gemini_json_to_unified(gm4_body(), make_ctx()), "claude-x")
    assert [b["type"] for b in message["content"]] == ["thinking", "text", "tool_use"]
    assert message["content"][0]["signature"] == "ccr_gemini::TS1"
    assert message["stop_reason"] == "tool_use"
    assert message["usage"] == {"input_tokens": 70, "output_tokens": 50, "cache_read_input_tokens": 30}


def test_non_stream_blocked_prompt_and_errors() -> None:
    with pytest.raises(ApiError) as info:
        gemini_json_to_unified({"promptFeedback": {"blockReason": "SAFETY"}}, make_ctx())
    assert info.value.status == 400 and "SAFETY" in info.value.message
    with pytest.raises(ApiError) as info:
        gemini_json_to_unified({"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}, make_ctx())
    assert info.value.status == 429 and "slow down" in info.value.message
    filtered = gemini_json_to_unified(part_chunk([], "SAFETY"), make_ctx())
    assert filtered["choices"][0]["finish_reason"] == "content_filter"


# -- GM5 stream, 2.5 with thoughts --------------------------------------------------------------

GM5 = [
    part_chunk([{"text": "Plan", "thought": True}]),
    part_chunk([{"text": "Hi"}]),
    part_chunk([{"functionCall": {"name": "Read", "args": {"p": 1}}}], "STOP", (10, 5, 0)),
]


async def test_gm5_unified_chunks() -> None:
    out = deltas(await unified(GM5))
    assert out[0] == ({"role": "assistant", "content": None, "thinking": {"content": "Plan"}}, None)
    assert re.fullmatch(r"ccr_\d+", out[1][0]["thinking"]["signature"])
    assert out[2] == ({"role": "assistant", "content": "Hi"}, None)
    call = out[3][0]["tool_calls"][0]
    assert re.fullmatch(r"ccr_tool_\d+", call["id"]) and call["index"] == 0
    assert call["function"] == {"name": "Read", "arguments": '{"p":1}'}
    assert out[4] == ({}, "tool_calls")


async def test_gm5_anthropic_events() -> None:
    out = await events(GM5)
    assert blocks(out) == ["thinking", "text", "tool_use"]
    md = message_delta(out)
    assert md["delta"]["stop_reason"] == "tool_use"
    assert md["usage"]["input_tokens"] == 10 and md["usage"]["output_tokens"] == 5


async def test_gm5_through_the_sse_parser_in_any_splitting() -> None:
    raw = b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in GM5)
    rng = random.Random(7)
    pieces, pos = [], 0
    while pos < len(raw):
        step = rng.randint(1, 7)
        pieces.append(raw[pos : pos + step])
        pos += step
    ctx = make_ctx()
    parsed = iter_json_chunks(aiter(pieces))
    out = [e async for e in unified_to_anthropic_stream(gemini_stream_to_unified(parsed, ctx), ctx)]
    check_stream(out)
    assert out == await events(GM5)


# -- GM6 Gemini 3 pending text ------------------------------------------------------------------

G3 = "gemini-3-pro-preview"
GM6 = [
    part_chunk([{"text": "T1", "thought": True}], model=G3),
    part_chunk([{"text": "Hello "}], model=G3),
    part_chunk([{"text": "there", "thoughtSignature": "SIG3"}], "MAX_TOKENS", (5, 2, 0), model=G3),
]


async def test_gm6_pending_text_waits_for_the_signature() -> None:
    out = deltas(await unified(GM6, G3))
    assert [d for d, _ in out[:4]] == [
        {"role": "assistant", "content": None, "thinking": {"content": "T1"}},
        {"role": "assistant", "content": None, "thinking": {"signature": "ccr_gemini::SIG3"}},
        {"role": "assistant", "content": "Hello "},
        {"role": "assistant", "content": "there"},
    ]
    assert out[4] == ({}, "length")
    ev = await events(GM6, G3)
    assert message_delta(ev)["delta"]["stop_reason"] == "max_tokens"
    signature = next(e["delta"]["signature"] for e in ev if e.get("delta", {}).get("type") == "signature_delta")
    assert signature == "ccr_gemini::SIG3"


async def test_gm6_pending_text_is_flushed_at_eof_without_signature() -> None:
    out = deltas(await unified(GM6[:2], G3))
    assert out[-1] == ({"role": "assistant", "content": "Hello "}, None)
    ev = await events(GM6[:2], G3, complete=False)  # no finishReason: a cut answer (issue 9)
    assert blocks(ev) == ["thinking", "text"] and ev[-1]["type"] == "error"


async def test_gemini3_pending_text_does_not_drop_function_calls() -> None:
    chunks = [
        part_chunk([{"text": "T", "thought": True}], model=G3),
        part_chunk([{"text": "Let me read."}, {"functionCall": {"name": "Read", "args": {}}, "thoughtSignature": "S"}], "STOP", model=G3),
    ]
    out = deltas(await unified(chunks, G3))
    assert [d.get("thinking", {}).get("signature") for d, _ in out[:2]] == [None, "ccr_gemini::S"]
    assert out[2][0]["content"] == "Let me read."
    assert out[3][0]["tool_calls"][0]["function"]["name"] == "Read"
    assert out[4] == ({}, "tool_calls")


# -- GM7 function call with a signature and no thinking ----------------------------------------


async def test_gm7_signature_travels_with_its_tool_call_and_no_thinking_is_made_up() -> None:
    chunks = [part_chunk([{"functionCall": {"name": "A", "args": {}}, "thoughtSignature": "S"}], "STOP", model=G3)]
    [call] = deltas(await unified(chunks, G3))[0][0]["tool_calls"]
    assert call["extra_content"] == {"google": {"thought_signature": "S"}}
    ev = await events(chunks, G3)
    assert blocks(ev) == ["tool_use"]
    tool_use = next(e["content_block"] for e in ev if e["type"] == "content_block_start")
    assert split_id(tool_use["id"]) == (call["id"], "S")
    assert message_delta(ev)["delta"]["stop_reason"] == "tool_use"


async def test_a_text_signature_without_thoughts_makes_no_thinking_block() -> None:
    chunks = [
        part_chunk([{"text": "There are 3."}], model=G3),
        part_chunk([{"text": "", "thoughtSignature": "SIG"}], "STOP", (9, 5, 80), model=G3),
    ]
    ev = await events(chunks, G3)
    assert blocks(ev) == ["text"]
    assert message_delta(ev)["delta"]["stop_reason"] == "end_turn"
    message = gemini_json_to_unified(merge_chunks(chunks), make_ctx())["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "There are 3."}


async def test_a_signature_after_a_signed_thinking_block_stays_on_its_call() -> None:
    """Gemini 2.5: the thinking block closes when the answer starts; the function call's own
    signature, arriving later, rides on the call instead of being lost."""
    chunks = [
        part_chunk([{"text": "plan", "thought": True}]),
        part_chunk([{"text": "Reading."}]),
        part_chunk([{"functionCall": {"name": "Read", "args": {}}, "thoughtSignature": "TS2"}], "STOP"),
    ]
    calls = [d["tool_calls"][0] for d, _ in deltas(await unified(chunks)) if d.get("tool_calls")]
    assert [call["extra_content"]["google"]["thought_signature"] for call in calls] == ["TS2"]


async def test_function_call_ids_from_gemini_are_kept() -> None:
    chunks = [part_chunk([{"functionCall": {"id": "fc-9", "name": "A", "args": {"x": 1}}}], "STOP")]
    out = deltas(await unified(chunks))
    assert out[0][0]["tool_calls"][0]["id"] == "fc-9"


# -- GM8 grounding -----------------------------------------------------------------------------


async def test_gm8_grounding_annotations() -> None:
    grounding = {
        "groundingChunks": [{"web": {"uri": "https://u", "title": "U"}}],
        "groundingSupports": [{"segment": {"startIndex": 0, "endIndex": 6, "text": "Answer"}, "groundingChunkIndices": [0]}],
    }
    chunks = [part_chunk([{"text": "Answer"}], "STOP", (1, 1, 0), groundingMetadata=grounding)]
    out = deltas(await unified(chunks))
    assert out[0][0]["annotations"] == [
        {"type": "url_citation", "url_citation": {"url": "https://u", "title": "U", "content": "Answer", "start_index": 0, "end_index": 6}}
    ]
    assert out[0][0]["content"] == "Answer"
    assert blocks(await events(chunks)) == ["text", "server_tool_use", "web_search_tool_result"]


# -- GM9 / GM10 --------------------------------------------------------------------------------


async def test_gm9_final_chunk_with_usage_only() -> None:
    chunks = [part_chunk([{"text": "Hi"}]), part_chunk([], "STOP", (7, 3, 2))]
    out = await unified(chunks)
    assert out[-1]["choices"][0]["finish_reason"] == "stop" and out[-1]["usage"]["completion_tokens"] == 5
    md = message_delta(await events(chunks))
    assert md["delta"]["stop_reason"] == "end_turn" and md["usage"]["input_tokens"] == 7 and md["usage"]["output_tokens"] == 5


async def test_usage_in_a_chunk_without_candidates_is_kept() -> None:
    chunks = [part_chunk([{"text": "Hi"}], "STOP"), {"usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1}}]
    md = message_delta(await events(chunks))
    assert md["usage"]["input_tokens"] == 4 and md["usage"]["output_tokens"] == 1


async def test_gm10_blocked_prompt_becomes_an_error() -> None:
    chunks = [{"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}}]
    ev = await events(chunks, complete=False)
    assert ev[-1]["type"] == "error"
    assert ev[-1]["error"]["type"] == "invalid_request_error" and "SAFETY" in ev[-1]["error"]["message"]


async def test_gm10_error_payload_mid_stream() -> None:
    chunks = [part_chunk([{"text": "Hi"}]), {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}]
    ev = await events(chunks, complete=False)
    assert blocks(ev) == ["text"] and ev[-1]["error"] == {"type": "rate_limit_error", "message": "RESOURCE_EXHAUSTED: quota"}


async def test_safety_finish_maps_to_content_filter() -> None:
    out = await unified([part_chunk([{"text": "x"}], "SAFETY")])
    assert out[-1]["choices"][0]["finish_reason"] == "content_filter"


def test_merged_fake_response_matches_stream_semantics() -> None:
    merged = merge_chunks(GM5)
    result = gemini_json_to_unified(merged, make_ctx())
    message = result["choices"][0]["message"]
    assert message["content"] == "Hi" and message["thinking"]["content"] == "Plan"
    assert "signature" not in message["thinking"]  # Anthropic side signs it (ccr_…)
    assert result["choices"][0]["finish_reason"] == "tool_calls"
