"""openai-responses stream: Responses events -> unified chunks -> Anthropic events (§3.2, RP2/RP3 [FIX])."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ccr_aio.transformers import BUILTINS, Context
from ccr_aio.transformers.dialects.responses.common import encrypted_reasoning
from ccr_aio.transformers.endpoint.stream import unified_to_anthropic_stream
from tests.fakes.responses_upstream import (
    MODEL,
    function_call_item,
    message_item,
    reasoning_item,
    response_object,
    stream_events,
    usage,
)
from tests.stream_grammar import check_stream


def make_ctx(**kwargs: Any) -> Context:
    counter = iter(range(1000))
    return Context(provider="resp", model=MODEL, now_ms=lambda: 1700000000000, new_uuid=lambda: f"u{next(counter)}", **kwargs)


async def _iterate(events: list[dict]) -> AsyncIterator[dict]:
    for event in events:
        yield event


async def unified(events: list[dict], ctx: Context | None = None) -> list[dict]:
    transformer = BUILTINS.create("openai-responses")
    return [c async for c in transformer.stream_out(_iterate(events), ctx or make_ctx())]


async def anthropic(events: list[dict], complete: bool = True, ctx: Context | None = None) -> list[dict]:
    ctx = ctx or make_ctx()
    transformer = BUILTINS.create("openai-responses")
    out = [e async for e in unified_to_anthropic_stream(transformer.stream_out(_iterate(events), ctx), ctx)]
    check_stream(out, complete=complete)
    return out


def blocks(events: list[dict]) -> list[dict]:
    """Content blocks rebuilt from the events: start block + concatenated deltas."""
    result: list[dict] = []
    for event in events:
        if event["type"] == "content_block_start":
            result.append({**event["content_block"], "_deltas": []})
        elif event["type"] == "content_block_delta":
            result[-1]["_deltas"].append(event["delta"])
    for block in result:
        deltas = block.pop("_deltas")
        if block["type"] == "thinking":
            block["thinking"] = "".join(d.get("thinking", "") for d in deltas)
            block["signature"] = "".join(d.get("signature", "") for d in deltas)
        elif block["type"] == "text":
            block["text"] = "".join(d["text"] for d in deltas)
        elif block["type"] == "tool_use":
            block["input"] = json.loads("".join(d["partial_json"] for d in deltas) or "{}")
    return result


def created() -> dict:
    return {"type": "response.created", "response": {"id": "resp_1", "object": "response", "created_at": 1,
                                                     "model": MODEL, "status": "in_progress", "output": []}}


def completed(output: list[dict], usage_: dict | None = None, kind: str = "response.completed", **extra: Any) -> dict:
    response = {"id": "resp_1", "object": "response", "model": MODEL, "output": output, **extra}
    if usage_ is not None:
        response["usage"] = usage_
    return {"type": kind, "response": response}


def added(index: int, item: dict) -> dict:
    return {"type": "response.output_item.added", "output_index": index, "item": item}


def args_delta(index: int, item_id: str, delta: str) -> dict:
    return {"type": "response.function_call_arguments.delta", "output_index": index, "item_id": item_id, "delta": delta}


def text_delta(delta: str, item_id: str = "msg_1") -> dict:
    return {"type": "response.output_text.delta", "item_id": item_id, "output_index": 1, "content_index": 0, "delta": delta}


RP2_EVENTS = [
    created(),
    {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0, "summary_index": 0, "delta": "Thinking"},
    {"type": "response.reasoning_summary_part.done", "item_id": "rs_1", "output_index": 0, "summary_index": 0,
     "part": {"type": "summary_text", "text": "Thinking"}},
    added(1, {"id": "msg_1", "type": "message", "role": "assistant", "content": []}),
    text_delta("Hello"),
    {"type": "response.output_text.annotation.added", "item_id": "msg_1", "output_index": 1, "content_index": 0,
     "annotation": {"type": "url_citation", "url": "https://a", "title": "A", "start_index": 0, "end_index": 5}},
    added(2, {"id": "fc_9", "type": "function_call", "call_id": "call_9", "name": "Read", "arguments": ""}),
    args_delta(2, "fc_9", '{"p":'),
    args_delta(2, "fc_9", "2}"),
    completed([{"type": "function_call", "call_id": "call_9"}], usage(10, 5)),
]


async def test_rp2_unified_chunks():
    chunks = await unified(RP2_EVENTS)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[:3] == [{"role": "assistant"}, {"thinking": {"content": "Thinking"}}, {"thinking": {"signature": "rs_1"}}]
    assert {"content": "Hello"} in deltas
    assert all(c["model"] == MODEL and c["id"] == "resp_1" for c in chunks)  # [FIX] model from response.created
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "tool_calls"
    assert last["usage"] == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}  # [FIX] usage


async def test_rp2_anthropic_events():
    events = await anthropic(RP2_EVENTS)
    assert events[0]["message"]["model"] == MODEL  # [FIX] not "unknown"
    assert blocks(events) == [
        {"type": "thinking", "thinking": "Thinking", "signature": "rs_1"},
        {"type": "text", "text": "Hello"},
        {"type": "server_tool_use", "id": "srvtoolu_u0", "name": "web_search", "input": {"query": ""}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_u0",
         "content": [{"type": "web_search_result", "url": "https://a", "title": "A"}]},
        {"type": "tool_use", "id": "call_9", "name": "Read", "input": {"p": 2}},
    ]
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert events[-2]["usage"]["input_tokens"] == 10 and events[-2]["usage"]["output_tokens"] == 5


async def test_rp3_two_function_calls_are_two_tool_use_blocks():
    events = [
        created(),
        added(0, {"id": "fc_a", "type": "function_call", "call_id": "call_a", "name": "Read", "arguments": ""}),
        args_delta(0, "fc_a", '{"file_path":'),
        args_delta(0, "fc_a", '"/a.py"}'),
        added(1, {"id": "fc_b", "type": "function_call", "call_id": "call_b", "name": "Bash", "arguments": ""}),
        args_delta(1, "fc_b", '{"command":"ls"}'),
        completed([], usage(3, 4)),
    ]
    chunks = await unified(events)
    indices = [c["choices"][0]["delta"]["tool_calls"][0]["index"] for c in chunks if "tool_calls" in c["choices"][0]["delta"]]
    assert indices == [0, 0, 0, 1, 1]
    out = await anthropic(events)
    assert blocks(out) == [
        {"type": "tool_use", "id": "call_a", "name": "Read", "input": {"file_path": "/a.py"}},
        {"type": "tool_use", "id": "call_b", "name": "Bash", "input": {"command": "ls"}},
    ]
    assert out[-2]["delta"]["stop_reason"] == "tool_use"


async def test_interleaved_argument_deltas_follow_their_item():
    events = [
        created(),
        added(0, {"id": "fc_a", "type": "function_call", "call_id": "call_a", "name": "A", "arguments": ""}),
        added(1, {"id": "fc_b", "type": "function_call", "call_id": "call_b", "name": "B", "arguments": ""}),
        args_delta(1, "fc_b", '{"b":'),
        args_delta(0, "fc_a", '{"a":1}'),
        args_delta(1, "fc_b", "2}"),
        completed([]),
    ]
    out = await anthropic(events)
    assert [(b["name"], b["input"]) for b in blocks(out)] == [("A", {"a": 1}), ("B", {"b": 2})]


async def test_full_api_sequence_with_encrypted_reasoning_and_cached_usage():
    response = response_object(
        [reasoning_item("First part", "Second part", encrypted="gAAAAB-secret"),
         message_item("Answer."),
         function_call_item("call_1", "Read", '{"file_path":"/x"}')],
        usage(100, 20, cached=60, reasoning=12),
    )
    chunks = await unified(stream_events(response))
    signature = next(c["choices"][0]["delta"]["thinking"]["signature"] for c in chunks
                     if "signature" in c["choices"][0]["delta"].get("thinking", {}))
    assert encrypted_reasoning(signature, "resp") == "gAAAAB-secret"
    assert chunks[-1]["usage"] == {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
                                   "prompt_tokens_details": {"cached_tokens": 60},
                                   "output_tokens_details": {"reasoning_tokens": 12}}
    out = await anthropic(stream_events(response))
    assert blocks(out) == [
        {"type": "thinking", "thinking": "First part\n\nSecond part", "signature": signature},
        {"type": "text", "text": "Answer."},
        {"type": "tool_use", "id": "call_1", "name": "Read", "input": {"file_path": "/x"}},
    ]
    assert out[-2]["usage"] == {"input_tokens": 40, "output_tokens": 20, "cache_read_input_tokens": 60}


async def test_thinking_is_signed_even_when_the_stream_finishes_right_after_it():
    events = [
        created(),
        {"type": "response.reasoning_text.delta", "item_id": "rs_7", "output_index": 0, "content_index": 0, "delta": "raw thought"},
        completed([], usage(1, 1)),
    ]
    out = await anthropic(events)
    assert blocks(out) == [{"type": "thinking", "thinking": "raw thought", "signature": "rs_7"}]


async def test_reasoning_without_summary_makes_no_thinking_block():
    response = response_object([reasoning_item(encrypted="enc"), message_item("hi")])
    out = await anthropic(stream_events(response))
    assert blocks(out) == [{"type": "text", "text": "hi"}]


async def test_incomplete_maps_to_max_tokens():
    response = response_object([message_item("cut sho")], status="incomplete", incomplete_reason="max_output_tokens")
    chunks = await unified(stream_events(response))
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    out = await anthropic(stream_events(response))
    assert out[-2]["delta"]["stop_reason"] == "max_tokens"


async def test_content_filter_incomplete():
    events = [created(), text_delta("x"), completed([], kind="response.incomplete", incomplete_details={"reason": "content_filter"})]
    chunks = await unified(events)
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"


@pytest.mark.parametrize("error, status, anthropic_type", [
    ({"code": "rate_limit_exceeded", "message": "Slow down"}, 429, "rate_limit_error"),
    ({"code": "server_error", "message": "Boom"}, 500, "api_error"),
    ({"code": "invalid_prompt", "message": "Bad prompt"}, 400, "invalid_request_error"),
    (None, 500, "api_error"),
])
async def test_response_failed_becomes_an_error_event(error, status, anthropic_type):
    events = [created(), text_delta("partial"),
              completed([], kind="response.failed", status="failed", error=error),
              text_delta("ignored after the end")]
    chunks = await unified(events)
    assert chunks[-1]["error"]["status"] == status
    out = await anthropic(events, complete=False)
    assert out[-1]["type"] == "error"
    assert out[-1]["error"]["type"] == anthropic_type
    if error:
        assert out[-1]["error"]["message"] == error["message"]
    assert not any(e["type"] == "message_stop" for e in out)


@pytest.mark.parametrize("event", [
    {"type": "error", "code": "rate_limit_exceeded", "message": "Too many", "param": None, "sequence_number": 3},
    {"type": "error", "error": {"type": "invalid_request_error", "code": "rate_limit_exceeded", "message": "Too many"}},
])
async def test_error_event_becomes_an_error_event(event):
    out = await anthropic([created(), event], complete=False)
    assert out[-1] == {"type": "error", "error": {"type": "rate_limit_error", "message": "Too many"}}


async def test_stream_without_a_terminal_event_is_an_error():
    out = await anthropic([created(), text_delta("half an ans")], complete=False)
    assert out[-1]["type"] == "error" and "ended before response.completed" in out[-1]["error"]["message"]


async def test_arguments_and_text_sent_only_in_done_events_still_arrive():
    call = {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "Read", "arguments": ""}
    events = [
        created(),
        added(0, {"id": "msg_1", "type": "message", "role": "assistant", "content": []}),
        {"type": "response.output_item.done", "output_index": 0, "item": message_item("Whole text")},
        added(1, call),
        {"type": "response.function_call_arguments.done", "output_index": 1, "item_id": "fc_1", "arguments": '{"a":'},
        {"type": "response.output_item.done", "output_index": 1, "item": {**call, "arguments": '{"a":1}'}},
        completed([]),
    ]
    out = await anthropic(events)
    assert blocks(out) == [{"type": "text", "text": "Whole text"},
                           {"type": "tool_use", "id": "call_1", "name": "Read", "input": {"a": 1}}]


async def test_done_events_do_not_repeat_streamed_content():
    response = response_object([message_item("Streamed"), function_call_item("c1", "A", '{"x":1}')])
    chunks = await unified(stream_events(response))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    args = "".join(c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                   for c in chunks if c["choices"][0]["delta"].get("tool_calls"))
    assert (text, args) == ("Streamed", '{"x":1}')


async def test_two_message_items_are_separated():
    events = [created(), text_delta("One.", "msg_1"), text_delta("Two.", "msg_2"), completed([])]
    out = await anthropic(events)
    assert blocks(out) == [{"type": "text", "text": "One.\n\nTwo."}]


async def test_refusal_is_text():
    events = [created(), {"type": "response.refusal.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0,
                          "delta": "I can't help with that."}, completed([])]
    out = await anthropic(events)
    assert blocks(out) == [{"type": "text", "text": "I can't help with that."}]


async def test_client_model_wins_and_unknown_events_are_ignored():
    events = [created(), {"type": "response.web_search_call.searching", "item_id": "ws_1"},
              {"type": "response.content_part.added"}, {"no": "type"}, text_delta("ok"), completed([])]
    out = await anthropic(events, ctx=make_ctx(client_model="claude-sonnet-4"))
    assert out[0]["message"]["model"] == "claude-sonnet-4"
    assert blocks(out) == [{"type": "text", "text": "ok"}]
    assert out[-2]["delta"]["stop_reason"] == "end_turn"
