"""/metrics text, parsed back with prometheus_client's own parser, agrees with /api/usage."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ccr_aio.errors import ApiError
from ccr_aio.records import CLIENT_CLOSED, Recorder, UsageStore
from tests.resilience_helpers import FakeClock

PRICING = {"deepseek-chat": {"input": 0.27, "output": 1.10, "cache_read": 0.07}}


def samples(recorder: Recorder) -> dict[str, list[Any]]:
    """Every sample by name, from the rendered text."""
    body, content_type = recorder.metrics.render()
    assert content_type.startswith("text/plain; version=")
    found: dict[str, list[Any]] = defaultdict(list)
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[sample.name].append(sample)
    return found


def stream_events(input_tokens: int, output_tokens: int, cache_read: int) -> list[dict]:
    return [
        {"type": "message_start", "message": {"usage": {"input_tokens": input_tokens,
                                                        "cache_read_input_tokens": cache_read,
                                                        "output_tokens": 1}}},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
         "usage": {"output_tokens": output_tokens}},
    ]


def run_requests(recorder: Recorder, clock: FakeClock) -> None:
    """Known usage: 4 streamed turns at deepseek (one after a failed attempt at openrouter),
    2 JSON ones at an unpriced model, a 429, a client that left, a bad request."""
    for i in range(4):
        builder = recorder.start(f"ok{i}", stream=True, session="s1")
        builder.scenario = "default" if i else "think"
        if i == 0:
            builder.attempt("openrouter", "deepseek/deepseek-chat")
            builder.attempt_failed(503)
        builder.attempt("deepseek", "deepseek-chat", PRICING)
        clock.advance(0.2)
        builder.first_byte()
        for event in stream_events(1000 + i, 50 + i, 200):
            builder.observe_event(event)
        clock.advance(1.0)
        recorder.finish(builder, 200)
    for i in range(2):
        builder = recorder.start(f"json{i}", stream=False, session="s2")
        builder.attempt("ollama", "qwen")
        builder.first_byte()
        builder.observe_message({"usage": {"input_tokens": 300, "output_tokens": 30}})
        recorder.finish(builder, 200)
    limited = recorder.start("limited", stream=True)
    limited.attempt("deepseek", "deepseek-chat", PRICING)
    limited.attempt_failed(429)
    recorder.finish(limited, 429, ApiError(429, "slow down"))
    gone = recorder.start("gone", stream=True)
    gone.attempt("deepseek", "deepseek-chat", PRICING)
    gone.first_byte()
    gone.observe_event(stream_events(10, 0, 0)[0])
    recorder.finish(gone, CLIENT_CLOSED, ConnectionResetError())
    recorder.finish(recorder.start("bad", stream=False), 400, ApiError(400, "no model"))


@pytest.fixture
async def recorder(tmp_path: Path):
    clock = FakeClock(100.0)
    store = await UsageStore.open(tmp_path / "usage.db", retention_days=None)
    recorder = Recorder(store=store, monotonic=clock)
    run_requests(recorder, clock)
    await store.flush()
    yield recorder
    await recorder.aclose()


def label_key(sample: Any) -> str | None:
    provider = sample.labels["provider"]
    return f"{provider},{sample.labels['model']}" if provider else None


async def test_counters_agree_with_usage_per_model(recorder: Recorder):
    assert recorder.store is not None
    usage = await recorder.store.usage("model")
    found = samples(recorder)
    requests: dict[Any, float] = defaultdict(float)
    for sample in found["ccr_requests_total"]:
        requests[label_key(sample)] += sample.value
    assert requests == {row["key"]: row["requests"] for row in usage["rows"]}
    kinds = {"input": "input_tokens", "output": "output_tokens", "cache_read": "cache_read_tokens",
             "cache_write": "cache_creation_tokens"}
    tokens: dict[tuple, float] = defaultdict(float)
    for sample in found["ccr_tokens_total"]:
        tokens[(label_key(sample), kinds[sample.labels["kind"]])] += sample.value
    for row in usage["rows"]:
        for field in kinds.values():
            assert tokens.get((row["key"], field), 0) == row[field], (row["key"], field)
    costs = {label_key(s): s.value for s in found["ccr_cost_usd_total"]}
    assert costs == {row["key"]: pytest.approx(row["cost_usd"])
                     for row in usage["rows"] if row["cost_usd"] is not None}
    total = usage["total"]
    assert sum(requests.values()) == total["requests"] == 9
    assert total["input_tokens"] == 4006 + 10 + 600
    assert total["output_tokens"] == 206 + 60 + 1  # the client that left saw message_start's 1


async def test_histograms_errors_and_gauges(recorder: Recorder):
    found = samples(recorder)
    counts = {(s.labels["provider"], s.labels["model"]): s.value
              for s in found["ccr_request_duration_seconds_count"]}
    assert counts == {("deepseek", "deepseek-chat"): 6, ("ollama", "qwen"): 2, ("", ""): 1}
    ttfb = {(s.labels["provider"], s.labels["model"]): s.value
            for s in found["ccr_time_to_first_byte_seconds_count"]}
    assert ttfb == {("deepseek", "deepseek-chat"): 5, ("ollama", "qwen"): 2}
    slow = [s for s in found["ccr_request_duration_seconds_bucket"]
            if s.labels["provider"] == "deepseek" and s.labels["le"] == "1.0"]
    assert slow[0].value == 2  # the 429 and the client that left; the 4 streams took 1.2 s
    errors = {(s.labels["provider"], s.labels["status"]): s.value
              for s in found["ccr_upstream_errors_total"]}
    assert errors == {("openrouter", "503"): 1, ("deepseek", "429"): 1}
    by_status = defaultdict(float)
    for sample in found["ccr_requests_total"]:
        by_status[sample.labels["status"]] += sample.value
    assert by_status == {"200": 6, "429": 1, "499": 1, "400": 1}
    assert {s.labels["stream"]: s.value for s in found["ccr_requests_in_flight"]} == {
        "true": 0, "false": 0}
    assert found["ccr_usage_records_queued"][0].value == 0
    assert found["ccr_usage_records_lost_total"][0].value == 0


def test_in_flight_counts_started_requests_until_they_finish():
    recorder = Recorder()
    builders = [recorder.start(f"r{i}", stream=i < 2) for i in range(3)]

    def in_flight() -> dict[str, float]:
        return {s.labels["stream"]: s.value for s in samples(recorder)["ccr_requests_in_flight"]}

    assert in_flight() == {"true": 2, "false": 1}
    for builder in builders:
        recorder.finish(builder, 200)
        recorder.finish(builder, 500)  # a second finish must not count down again
    assert in_flight() == {"true": 0, "false": 0}


def test_two_recorders_in_one_process_do_not_clash():
    first, second = Recorder(), Recorder()
    first.finish(first.start("a", stream=True), 200)
    assert sum(s.value for s in samples(first)["ccr_requests_total"]) == 1
    assert "ccr_requests_total" not in samples(second)
