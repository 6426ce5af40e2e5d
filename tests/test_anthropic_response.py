"""Unified answer -> Anthropic message (§2.3, §5.3 AR1-AR5 [FIX]), event synthesis, aggregation."""

from __future__ import annotations

import copy
import json
import re

import pytest

from ccr_aio.errors import ApiError
from ccr_aio.transformers.endpoint.response import (
    aggregate_chunks,
    message_to_events,
    unified_to_anthropic_message,
)

SRVTOOLU = re.compile(r"^srvtoolu_[0-9a-f-]{36}$")


def completion(message, finish_reason="stop", usage=None, **top):
    body = {"id": "chatcmpl-1", "model": "gpt", "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}]}
    if usage is not None:
        body["usage"] = usage
    body.update(top)
    return body


# AR1


AR1_UPSTREAM = {
    "id": "chatcmpl-9",
    "model": "gpt",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": "Hi",
                "thinking": {"content": "th", "signature": "s"},
                "annotations": [{"type": "url_citation", "url_citation": {"url": "https://a", "title": "A"}}],
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "Read", "arguments": '{"p":1}'}},
                    {"id": "c2", "type": "function", "function": {"name": "Bad", "arguments": "{oops"}},
                ],
            },
        }
    ],
    "usage": {"prompt_tokens": 50, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 20}},
}


def test_ar1_full_mapping_thinking_first():
    out = unified_to_anthropic_message(AR1_UPSTREAM)
    srv_id = out["content"][1]["id"]
    assert SRVTOOLU.match(srv_id)
    assert out == {
        "id": "chatcmpl-9",
        "type": "message",
        "role": "assistant",
        "model": "gpt",
        "content": [
            {"type": "thinking", "thinking": "th", "signature": "s"},
            {"type": "server_tool_use", "id": srv_id, "name": "web_search", "input": {"query": ""}},
            {
                "type": "web_search_tool_result",
                "tool_use_id": srv_id,
                "content": [{"type": "web_search_result", "url": "https://a", "title": "A"}],
            },
            {"type": "text", "text": "Hi"},
            {"type": "tool_use", "id": "c1", "name": "Read", "input": {"p": 1}},
            {"type": "tool_use", "id": "c2", "name": "Bad", "input": {"text": "{oops"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 30, "output_tokens": 7, "cache_read_input_tokens": 20},
    }


def test_model_override_and_missing_id():
    out = unified_to_anthropic_message({"model": "up", "choices": [{"message": {"content": "x"}}]}, model="client-model")
    assert out["model"] == "client-model"
    assert re.match(r"^msg_\w+$", out["id"])


def test_tool_arguments_variants():
    calls = [
        {"id": "a", "function": {"name": "A", "arguments": ""}},
        {"id": "b", "function": {"name": "B", "arguments": {"already": "object"}}},
        {"id": "c", "function": {"name": "C", "arguments": "[1, 2]"}},
    ]
    out = unified_to_anthropic_message(completion({"content": None, "tool_calls": calls}, "stop"))
    assert [b["input"] for b in out["content"]] == [{}, {"already": "object"}, {"text": "[1, 2]"}]
    assert out["stop_reason"] == "tool_use"


# AR2


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "stop_sequence"),
        ("weird", "end_turn"),
        (None, "end_turn"),
        ("max_tokens", "max_tokens"),
        ("MAX_TOKENS", "max_tokens"),
        ("function_call", "tool_use"),
        ("end_turn", "end_turn"),
    ],
)
def test_ar2_finish_mapping(finish, expected):
    assert unified_to_anthropic_message(completion({"content": "x"}, finish))["stop_reason"] == expected


def test_ar2_stop_with_tool_calls_is_tool_use():
    calls = [{"id": "a", "type": "function", "function": {"name": "A", "arguments": "{}"}}]
    out = unified_to_anthropic_message(completion({"content": None, "tool_calls": calls}, "stop"))
    assert out["stop_reason"] == "tool_use"


# AR3


def test_ar3_empty_annotations_give_no_blocks():
    out = unified_to_anthropic_message(completion({"content": None, "annotations": []}))
    assert out["content"] == []


# AR4


def test_ar4_no_choices_is_provider_error():
    with pytest.raises(ApiError) as info:
        unified_to_anthropic_message({"error": {"message": "bad"}})
    assert info.value.status == 500
    assert info.value.message == 'Provider error: {"error":{"message":"bad"}}'
    with pytest.raises(ApiError):
        unified_to_anthropic_message({"choices": []})


# AR5


def test_ar5_missing_usage_is_zero():
    out = unified_to_anthropic_message(completion({"content": "x"}))
    assert out["usage"] == {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0}


@pytest.mark.parametrize(
    "usage, output",
    [
        # OpenAI, DeepSeek: completion_tokens already include the reasoning.
        ({"prompt_tokens": 339, "completion_tokens": 83, "total_tokens": 422,
          "completion_tokens_details": {"reasoning_tokens": 39}}, 83),
        # xAI: they do not, and total_tokens says so.
        ({"prompt_tokens": 307, "completion_tokens": 26, "total_tokens": 560,
          "completion_tokens_details": {"reasoning_tokens": 227}}, 253),
        ({"prompt_tokens": 10, "completion_tokens": 5}, 5),
    ],
)
def test_output_tokens_count_the_reasoning_once(usage, output):
    out = unified_to_anthropic_message(completion({"content": "x"}, usage=usage))
    assert out["usage"]["output_tokens"] == output


def test_input_is_not_mutated():
    before = copy.deepcopy(AR1_UPSTREAM)
    unified_to_anthropic_message(AR1_UPSTREAM)
    assert AR1_UPSTREAM == before


# message_to_events


def fold_events(events):
    """A minimal Anthropic stream consumer, as a client SDK would fold events into a message."""
    assert events[0]["type"] == "message_start"
    message = copy.deepcopy(events[0]["message"])
    open_blocks: dict[int, dict] = {}
    json_parts: dict[int, list[str]] = {}
    for event in events[1:]:
        kind = event["type"]
        if kind == "content_block_start":
            assert event["index"] == len(message["content"])
            block = copy.deepcopy(event["content_block"])
            message["content"].append(block)
            open_blocks[event["index"]] = block
        elif kind == "content_block_delta":
            block = open_blocks[event["index"]]  # KeyError = delta to a closed block
            delta = event["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "input_json_delta":
                json_parts.setdefault(event["index"], []).append(delta["partial_json"])
        elif kind == "content_block_stop":
            block = open_blocks.pop(event["index"])
            if event["index"] in json_parts:
                block["input"] = json.loads("".join(json_parts[event["index"]]))
        elif kind == "message_delta":
            message.update(event["delta"])
            message["usage"] = {**message["usage"], **event["usage"]}
        elif kind == "message_stop":
            assert not open_blocks
            return message
    raise AssertionError("no message_stop")


def test_message_to_events_round_trip():
    message = unified_to_anthropic_message(AR1_UPSTREAM)
    message["content"].insert(4, {"type": "text", "text": "second ünïcode"})
    events = message_to_events(message)
    assert fold_events(events) == message


def test_message_to_events_shape():
    message = unified_to_anthropic_message(
        completion(
            {"content": "Hi", "thinking": {"content": "hm", "signature": "sig"}, "tool_calls": [
                {"id": "t1", "function": {"name": "Read", "arguments": '{"p":"é"}'}}
            ]},
            "tool_calls",
            {"prompt_tokens": 10, "completion_tokens": 3},
        )
    )
    events = message_to_events(message)
    assert [(e["type"], e.get("index")) for e in events] == [
        ("message_start", None),
        ("content_block_start", 0), ("content_block_delta", 0), ("content_block_delta", 0), ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_delta", 1), ("content_block_stop", 1),
        ("content_block_start", 2), ("content_block_delta", 2), ("content_block_stop", 2),
        ("message_delta", None),
        ("message_stop", None),
    ]
    start = events[0]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["stop_sequence"] is None
    assert start["usage"]["input_tokens"] == 10 and start["usage"]["output_tokens"] == 0
    assert events[1]["content_block"] == {"type": "thinking", "thinking": ""}
    assert events[2]["delta"] == {"type": "thinking_delta", "thinking": "hm"}
    assert events[3]["delta"] == {"type": "signature_delta", "signature": "sig"}
    assert events[9]["delta"] == {"type": "input_json_delta", "partial_json": '{"p":"é"}'}
    assert events[8]["content_block"] == {"type": "tool_use", "id": "t1", "name": "Read", "input": {}}
    assert events[11]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[11]["usage"]["output_tokens"] == 3


def test_message_to_events_empty_message():
    message = unified_to_anthropic_message(completion({"content": None}))
    assert [e["type"] for e in message_to_events(message)] == ["message_start", "message_delta", "message_stop"]


# aggregate_chunks


def C(delta, fr=None, usage=None, model="m"):
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model,
             "choices": [{"index": 0, "delta": delta, "finish_reason": fr}]}
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def U(p, c, cached=None):
    return {"id": "c1", "model": "m", "choices": [],
            "usage": {"prompt_tokens": p, "completion_tokens": c, "prompt_tokens_details": {"cached_tokens": cached}}}


async def agen(items):
    for item in items:
        yield item


async def test_aggregate_text_and_trailing_usage():
    out = await aggregate_chunks(agen([C({"role": "assistant", "content": ""}), C({"content": "Hel"}),
                                       C({"content": "lo"}), C({}, "stop"), U(100, 5, 40)]))
    assert out["id"] == "c1" and out["model"] == "m" and out["object"] == "chat.completion"
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "Hello"}
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"]["prompt_tokens"] == 100
    assert unified_to_anthropic_message(out)["usage"] == {"input_tokens": 60, "output_tokens": 5, "cache_read_input_tokens": 40}


async def test_aggregate_parallel_fragmented_tool_calls():
    chunks = [
        C({"content": "Let me check."}),
        C({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "Read", "arguments": ""}}]}),
        C({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "Bash", "arguments": '{"com'}}]}),
        C({"tool_calls": [{"index": 0, "function": {"arguments": '{"file_path":'}}]}),
        # duplicate entries for one index in one chunk concatenate (B6)
        C({"tool_calls": [{"index": 1, "function": {"arguments": 'mand":'}}, {"index": 1, "function": {"arguments": '"ls"}'}}]}),
        C({"tool_calls": [{"index": 0, "function": {"arguments": '"/a"}'}}]}),
        C({}, "tool_calls", usage={"prompt_tokens": 10, "completion_tokens": 20}),
        C({}, None),  # a later chunk without usage does not erase it (B2)
    ]
    out = await aggregate_chunks(agen(chunks))
    message = out["choices"][0]["message"]
    assert message["content"] == "Let me check."
    assert message["tool_calls"] == [
        {"id": "call_a", "type": "function", "function": {"name": "Read", "arguments": '{"file_path":"/a"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"ls"}'}},
    ]
    assert out["choices"][0]["finish_reason"] == "tool_calls"
    assert out["usage"] == {"prompt_tokens": 10, "completion_tokens": 20}
    anthropic = unified_to_anthropic_message(out)
    assert [b.get("input") for b in anthropic["content"]] == [None, {"file_path": "/a"}, {"command": "ls"}]


async def test_aggregate_thinking_with_signature():
    chunks = [
        C({"thinking": {"content": "hmm"}}),
        C({"thinking": {"content": " ok"}}),
        C({"thinking": {"signature": "123"}}),
        C({"content": "Answer"}),
        C({"annotations": [{"type": "url_citation", "url_citation": {"url": "https://a", "title": "A"}}]}),
        C({}, "stop", model="m2"),
    ]
    out = await aggregate_chunks(agen(chunks))
    message = out["choices"][0]["message"]
    assert message["thinking"] == {"content": "hmm ok", "signature": "123"}
    assert message["content"] == "Answer"
    assert message["annotations"][0]["url_citation"]["url"] == "https://a"
    assert out["model"] == "m2"
    assert "usage" not in out
    kinds = [b["type"] for b in unified_to_anthropic_message(out)["content"]]
    assert kinds == ["thinking", "server_tool_use", "web_search_tool_result", "text"]


async def test_aggregate_tool_call_without_index_or_id():
    chunks = [
        C({"tool_calls": [{"id": "x", "function": {"name": "A", "arguments": '{"a":'}}]}),
        C({"tool_calls": [{"function": {"arguments": "1}"}}]}),
        C({"tool_calls": [{"index": 5, "function": {"name": "B", "arguments": "{}"}}]}),
        C({}, "tool_calls"),
    ]
    out = await aggregate_chunks(agen(chunks))
    calls = out["choices"][0]["message"]["tool_calls"]
    assert calls[0]["id"] == "x" and calls[0]["function"]["arguments"] == '{"a":1}'
    assert re.match(r"^call_\d+_1$", calls[1]["id"]) and calls[1]["function"]["name"] == "B"
    assert out["choices"][0]["finish_reason"] == "tool_calls"


async def test_aggregate_error_chunk_raises():
    with pytest.raises(ApiError) as info:
        await aggregate_chunks(agen([C({"content": "a"}), {"error": {"message": "upstream exploded", "code": 500}}]))
    assert info.value.status == 500
    assert info.value.message == "upstream exploded"


@pytest.mark.parametrize(
    "error, status",
    [
        ({"message": "Token limit reached", "code": 400}, 400),  # OpenRouter, after a 200
        ({"message": "quota", "type": "rate_limit_error", "status": "429"}, 429),
        ({"message": "bad tool call", "type": "invalid_request_error", "code": "tool_use_failed"}, 400),  # Groq
        ({"message": "who knows", "type": "server_error"}, 500),
    ],
)
async def test_aggregate_error_keeps_the_status_a_streaming_client_would_see(error, status):
    """A JSON client gets the status the error event of a streaming client names: a 400 must not
    turn into a 500 that Claude Code would retry."""
    with pytest.raises(ApiError) as info:
        await aggregate_chunks(agen([C({"content": "a"}), {"error": error}]))
    assert info.value.status == status and info.value.message == error["message"]


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param([], id="empty"),
        pytest.param([C({"content": "half"}), U(3, 1)], id="text-and-usage"),
        pytest.param([C({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "A", "arguments": "{}"}}]})],
                     id="tool-call"),
    ],
)
async def test_aggregate_stream_without_finish_is_an_error(chunks):
    # Issue 9: a stream cut short (or empty) must not be folded into a complete-looking answer.
    with pytest.raises(ApiError) as info:
        await aggregate_chunks(agen(chunks), "p,m1")
    assert info.value.status == 502
    assert info.value.message.startswith("Provider p,m1 ended the stream before the answer was finished")


async def test_aggregate_finish_then_usage_is_complete():
    out = await aggregate_chunks(agen([C({"content": "ok"}), C({}, "stop"), U(3, 1)]))
    assert out["choices"][0]["finish_reason"] == "stop" and out["usage"]["prompt_tokens"] == 3
