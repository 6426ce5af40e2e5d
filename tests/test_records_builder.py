"""A record is filled in while the request runs and closed exactly once; its usage is what the
client was told, whichever way the answer went out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ccr_aio.errors import ApiError
from ccr_aio.pipeline.sse import encode_event
from ccr_aio.records import (
    CLIENT_CLOSED, RecordBuilder, Recorder, SseUsageScanner, Usage, error_text,
)
from ccr_aio.transformers.base import Context
from ccr_aio.transformers.endpoint.stream import unified_to_anthropic_stream
from tests.fakes.openai_upstream import chunk, usage_chunk
from tests.resilience_helpers import FakeClock
from tests.stream_grammar import check_stream

# A native Anthropic stream as the API sends it: prompt counts in message_start, the output
# count (cumulative) in message_delta. The text mentions "usage" to tempt a careless scanner.
NATIVE_STREAM: list[dict[str, Any]] = [
    {"type": "message_start", "message": {
        "id": "msg_01", "type": "message", "role": "assistant", "content": [],
        "model": "claude-sonnet-4-20250514", "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 25, "cache_creation_input_tokens": 1200,
                  "cache_read_input_tokens": 30000, "output_tokens": 1,
                  "service_tier": "standard"}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0,
     "delta": {"type": "text_delta", "text": 'The "usage": {"output_tokens": 999} field'}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
     "usage": {"output_tokens": 15, "server_tool_use": {"web_search_requests": 0}}},
    {"type": "message_stop"},
]
NATIVE_USAGE = Usage(input_tokens=25, output_tokens=15, cache_read_tokens=30000,
                     cache_creation_tokens=1200)


def usage_of(events: list[dict[str, Any]]) -> Usage:
    usage = Usage()
    for event in events:
        usage.observe_event(event)
    return usage


def test_native_stream_takes_prompt_counts_from_start_and_output_from_delta():
    assert usage_of(NATIVE_STREAM) == NATIVE_USAGE


async def test_converted_stream_reports_the_providers_final_usage():
    """Our own OpenAI -> Anthropic stream puts an estimate in message_start and the
    provider's numbers in the last message_delta: the record has the provider's."""

    async def chunks() -> AsyncIterator[dict]:
        for item in [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hi"}),
                     chunk({}, "stop"), usage_chunk(1000, 42, cached=600)]:
            yield item

    ctx = Context(input_tokens=1234, client_model="claude-sonnet-4")
    events = [event async for event in unified_to_anthropic_stream(chunks(), ctx)]
    check_stream(events)
    assert events[0]["message"]["usage"]["input_tokens"] == 1234  # the estimate came first
    assert usage_of(events) == Usage(input_tokens=400, output_tokens=42, cache_read_tokens=600)


def test_a_json_message_usage():
    usage = Usage()
    usage.observe_message({"type": "message", "content": [], "usage": {
        "input_tokens": 12, "output_tokens": 3, "cache_read_input_tokens": 4}})
    assert usage == Usage(input_tokens=12, output_tokens=3, cache_read_tokens=4)


@pytest.mark.parametrize("junk", [
    {"input_tokens": None, "output_tokens": True},
    {"input_tokens": -5, "output_tokens": "7"},
    "not a mapping",
    None,
])
def test_counts_that_are_not_counts_leave_the_known_ones(junk: Any):
    usage = Usage(input_tokens=9, output_tokens=8)
    usage.update(junk)
    usage.observe_event({"type": "message_delta", "usage": junk})
    usage.observe_event({"type": "message_start", "message": junk})
    usage.observe_event(junk)
    assert usage == Usage(input_tokens=9, output_tokens=8)


@pytest.mark.parametrize("read_size", [1, 3, 7, 64, 100_000])
def test_raw_passthrough_bytes_split_anywhere(read_size: int):
    data = b"".join(encode_event(event) for event in NATIVE_STREAM)
    builder = RecordBuilder(id="r", stream=True, time=0.0, started=0.0)
    scanner = builder.scanner()
    for pos in range(0, len(data), read_size):
        scanner.feed(data[pos:pos + read_size])
    assert builder.usage == NATIVE_USAGE


def test_raw_bytes_with_a_broken_event_keep_the_good_ones():
    usage = Usage()
    data = (b'event: message_start\ndata: {"type":"message_start","message":{"usage":'
                    b'{"input_tokens":5}}}\n\ndata: {"usage": oops}\n\n')
    SseUsageScanner(usage).feed(data)
    assert usage == Usage(input_tokens=5)


def new_builder(clock: FakeClock, **fields: Any) -> RecordBuilder:
    return RecordBuilder(id="req-7", stream=True, time=1_700_000_000.0, started=clock(),
                         monotonic=clock, **fields)


def test_times_attempts_usage_and_cost_end_up_in_the_record():
    clock = FakeClock(100.0)
    builder = new_builder(clock, session="s1", project="proj", client_key="alice",
                          requested_model="claude-sonnet-4")
    builder.scenario = "think"
    builder.attempt("openrouter", "deepseek/deepseek-r1")
    builder.attempt_failed(429)
    builder.attempt("deepseek", "deepseek-reasoner", {"deepseek-reasoner": {
        "input": 0.55, "output": 2.19, "cache_read": 0.14}})
    clock.advance(0.25)
    builder.first_byte()
    clock.advance(1.0)
    builder.first_byte()  # only the first one counts
    for event in NATIVE_STREAM:
        builder.observe_event(event)
    clock.advance(0.5)
    record = builder.finish(200)
    assert record is not None
    assert (record.provider, record.model, record.attempts) == ("deepseek", "deepseek-reasoner", 2)
    assert record.providers_tried == (
        {"provider": "openrouter", "model": "deepseek/deepseek-r1", "status": 429},
        {"provider": "deepseek", "model": "deepseek-reasoner", "status": None},
    )
    assert (record.ttfb_ms, record.duration_ms) == (250.0, 1750.0)
    assert (record.session, record.project, record.client_key, record.scenario) == (
        "s1", "proj", "alice", "think")
    assert (record.input_tokens, record.output_tokens) == (25, 15)
    assert (record.cache_read_tokens, record.cache_creation_tokens) == (30000, 1200)
    # cache_write has no price: it is billed at the input price
    expected = (25 * 0.55 + 15 * 2.19 + 30000 * 0.14 + 1200 * 0.55) / 1e6
    assert record.cost_usd == pytest.approx(expected)
    assert record.error is None and record.status == 200 and record.stream is True
    json.dumps(record.to_dict())  # ready for the log line and the API


def test_finish_makes_one_record_and_ignores_the_second_call():
    clock = FakeClock(5.0)
    builder = new_builder(clock)
    first = builder.finish(CLIENT_CLOSED, ConnectionResetError("peer gone"))
    clock.advance(3)
    assert builder.finish(500, RuntimeError("late")) is None
    assert builder.finished and builder.record is first
    assert first is not None and first.status == CLIENT_CLOSED
    assert first.error == "ConnectionResetError: peer gone"
    assert first.ttfb_ms is None and first.attempts == 0 and first.provider is None
    assert first.cost_usd is None  # no provider, no price


def test_a_model_without_a_price_costs_none_not_zero():
    builder = new_builder(FakeClock())
    builder.attempt("fake", "fake-model", {"other-model": {"input": 1, "output": 1}})
    builder.observe_message({"usage": {"input_tokens": 10, "output_tokens": 10}})
    record = builder.finish(200)
    assert record is not None and record.cost_usd is None


def test_error_text_is_type_and_the_first_300_chars():
    long = "x" * 1000
    assert error_text(ApiError(429, long)) == "rate_limit_error: " + "x" * 300
    assert error_text(ValueError("bad")) == "ValueError: bad"
    assert error_text("overloaded_error: " + long) == "overloaded_error: " + "x" * 300
    assert error_text("no type here") == "error: no type here"
    assert error_text(None) is None


def test_recorder_without_a_store_still_counts_and_returns_the_record_once():
    recorder = Recorder()
    assert recorder.store is None
    builder = recorder.start("req-1", stream=False, session="s1")
    assert builder.session == "s1" and builder.stream is False
    record = recorder.finish(builder, 400, ApiError(400, "bad request"))
    assert record is not None and record.error == "invalid_request_error: bad request"
    assert recorder.finish(builder, 500) is None
    text = recorder.metrics.render()[0].decode()
    assert 'ccr_requests_total{model="",provider="",scenario="",status="400"} 1.0' in text
    assert 'ccr_requests_in_flight{stream="false"} 0.0' in text
