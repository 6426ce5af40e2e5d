"""Request records end to end: requests through the app and the fake provider with known usage,
then /api/usage, /api/requests and /metrics must tell the same story, one record per request."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from tests.conftest import base_config, provider_config, sdk
from tests.fakes.openai_upstream import (
    chunk,
    completion,
    error_reply,
    json_reply,
    stream_reply,
    usage_chunk,
)
from tests.records_helpers import recorded
from tests.test_cli import wait_for
from tests.server_process import endless_config, open_stream
from tests.stream_grammar import check_stream, parse_sse_bytes

USER = [{"role": "user", "content": "hi"}]
PRICE = {"input": 0.5, "output": 2.0, "cache_read": 0.1}  # USD per million tokens
SESSION = "11111111-2222-3333-4444-555555555555"


def priced_config(fake: Any, **extra: Any) -> dict[str, Any]:
    config = base_config(fake, **extra)
    config["Providers"][0]["pricing"] = {"fake-model": PRICE}
    config["Providers"].append(provider_config(fake, name="second", models=["m2"]))
    config["Router"]["think"] = "second,m2"
    return config


def streamed(prompt: int, completion_tokens: int, cached: int = 0) -> Any:
    return stream_reply([chunk({"role": "assistant", "content": ""}), chunk({"content": "ok"}),
                         chunk({}, "stop"), usage_chunk(prompt, completion_tokens, cached)])


def answered(prompt: int, completion_tokens: int) -> Any:
    body = completion("ok")
    body["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion_tokens,
                     "total_tokens": prompt + completion_tokens}
    return json_reply(body)


async def post(client: Any, complete: bool = True, **body: Any) -> Any:
    payload = {"model": "claude-sonnet-4", "max_tokens": 10, "messages": USER,
               "metadata": {"user_id": f"user_x_account__session_{SESSION}"}, **body}
    response = await client.post("/v1/messages", json=payload)
    data = await response.read()
    if response.status == 200 and body.get("stream"):
        check_stream(parse_sse_bytes(data), complete=complete)
    return response


def metric_samples(text: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name].append(sample)
    return found


async def test_usage_requests_and_metrics_agree_with_what_the_provider_reported(make_client, fake):
    client = await make_client(priced_config(fake))
    # (reply, extra body, model key as /api/usage names it, input, output, cache_read)
    runs = [
        (streamed(100, 10, cached=40), {"stream": True}, "fake,fake-model", 60, 10, 40),
        (streamed(200, 20), {"stream": True}, "fake,fake-model", 200, 20, 0),
        (answered(300, 30), {}, "fake,fake-model", 300, 30, 0),
        (streamed(50, 5), {"stream": True, "thinking": {"type": "enabled", "budget_tokens": 1024}},
         "second,m2", 50, 5, 0),
        (answered(70, 7), {"model": "second,m2"}, "second,m2", 70, 7, 0),
    ]
    ids = []
    for reply, body, *_ in runs:
        fake.queue(reply)
        response = await post(client, **body)
        assert response.status == 200
        ids.append(response.headers["request-id"])
    fake.queue(error_reply(429, "slow down"))
    limited = await post(client)
    unknown = await post(client, model="nowhere,x")
    broken = await client.post("/v1/messages", data=b"{not json", headers={"Content-Type": "application/json"})
    assert (limited.status, unknown.status, broken.status) == (429, 400, 400)
    ids += [limited.headers["request-id"], unknown.headers["request-id"], broken.headers["request-id"]]
    await recorded(client, len(ids))  # with workers: the other worker's records are on disk too

    expected: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for _, _, key, inp, out, cached in runs:
        row = expected[key]
        row["requests"] += 1
        row["input_tokens"] += inp
        row["output_tokens"] += out
        row["cache_read_tokens"] += cached
    expected["fake,fake-model"]["requests"] += 1  # the 429 went there
    by_model = {row["key"]: row for row in (await (await client.get("/api/usage?group_by=model")).json())["rows"]}
    assert set(by_model) == {"fake,fake-model", "second,m2", None}  # None: never reached a provider
    for key, sums in expected.items():
        assert {name: by_model[key][name] for name in sums} == sums, key
    assert by_model["fake,fake-model"]["errors"] == 1 and by_model[None]["errors"] == 2
    fake_tokens = expected["fake,fake-model"]
    assert by_model["fake,fake-model"]["cost_usd"] == pytest.approx(
        (fake_tokens["input_tokens"] * 0.5 + fake_tokens["output_tokens"] * 2.0
         + fake_tokens["cache_read_tokens"] * 0.1) / 1e6)
    assert by_model["second,m2"]["cost_usd"] is None  # no price: unknown, not free

    today = datetime.now(timezone.utc).date().isoformat()
    by_day = (await (await client.get("/api/usage?group_by=day")).json())
    assert [row["key"] for row in by_day["rows"]] == [today]
    assert by_day["rows"][0]["requests"] == by_day["total"]["requests"] == len(ids)
    assert by_day["total"]["input_tokens"] == sum(r[3] for r in runs)
    pairs = (await (await client.get("/api/usage?group_by=day,model")).json())["rows"]
    assert {tuple(r["key"]): r["output_tokens"] for r in pairs} == {
        (today, "fake,fake-model"): 60, (today, "second,m2"): 12, (today, None): 0}

    listed = (await (await client.get("/api/requests?limit=100")).json())["requests"]
    assert sorted(r["id"] for r in listed) == sorted(ids)  # exactly one record each
    records = {r["id"]: r for r in listed}
    first = records[ids[0]]
    assert (first["status"], first["stream"], first["scenario"], first["session"]) == (200, True, "default", SESSION)
    assert (first["input_tokens"], first["output_tokens"], first["cache_read_tokens"]) == (60, 10, 40)
    assert 0 < first["ttfb_ms"] <= first["duration_ms"]
    assert records[ids[3]]["scenario"] == "think" and records[ids[3]]["model"] == "m2"
    assert records[ids[5]]["status"] == 429 and "slow down" in records[ids[5]]["error"]
    assert records[ids[5]]["providers_tried"] == [{"provider": "fake", "model": "fake-model", "status": 429}]
    assert records[ids[6]]["status"] == 400 and records[ids[6]]["requested_model"] == "nowhere,x"
    assert records[ids[6]]["provider"] is None and records[ids[6]]["session"] == SESSION
    assert records[ids[7]]["status"] == 400 and records[ids[7]]["requested_model"] is None
    errors = (await (await client.get("/api/requests?status=4xx")).json())["requests"]
    assert sorted(r["id"] for r in errors) == sorted(ids[5:])

    response = await client.get("/metrics")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
    samples = metric_samples(await response.text())
    for key, sums in expected.items():
        provider, model = key.split(",")
        for kind, field in (("input", "input_tokens"), ("output", "output_tokens"), ("cache_read", "cache_read_tokens")):
            counted = sum(s.value for s in samples["ccr_tokens_total"]
                          if (s.labels["provider"], s.labels["model"], s.labels["kind"]) == (provider, model, kind))
            assert counted == by_model[key][field], (key, kind)
    per_model: dict[tuple[str, str], float] = defaultdict(float)
    for sample in samples["ccr_requests_total"]:
        per_model[(sample.labels["provider"], sample.labels["model"])] += sample.value
    assert per_model == {("fake", "fake-model"): 4, ("second", "m2"): 2, ("", ""): 2}
    cost = sum(s.value for s in samples["ccr_cost_usd_total"])
    assert cost == pytest.approx(by_model["fake,fake-model"]["cost_usd"])
    assert {s.labels["stream"]: s.value for s in samples["ccr_requests_in_flight"]} == {"true": 0, "false": 0}
    durations = {(s.labels["provider"], s.labels["model"]): s.value for s in samples["ccr_request_duration_seconds_count"]}
    assert durations[("fake", "fake-model")] == 4


async def test_the_sdk_sees_the_usage_the_record_keeps(make_client, fake):
    client = await make_client(priced_config(fake))
    fake.queue(streamed(1234, 56, cached=34))
    async with sdk(client).messages.stream(model="claude-sonnet-4", max_tokens=100, messages=USER) as stream:
        final = await stream.get_final_message()
    (record,) = await recorded(client, 1)
    assert (record["input_tokens"], record["output_tokens"], record["cache_read_tokens"]) == (
        final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_input_tokens)


async def test_a_client_leaving_mid_stream_is_one_record_with_499(make_client, aiohttp_server):
    config, endless = await endless_config(aiohttp_server)
    client = await make_client(config)
    async with aiohttp.ClientSession() as session:
        response, _ = await open_stream(session, str(client.make_url("")).rstrip("/"))
        request_id = response.headers["request-id"]
        response.close()  # Esc in Claude Code

    async def recorded() -> list[dict]:
        return (await (await client.get("/api/requests")).json())["requests"]

    (record,) = await wait_for(recorded, what="the record of the request the client left")
    assert (record["id"], record["status"], record["stream"]) == (request_id, 499, True)
    assert record["error"].startswith("client_closed") and record["ttfb_ms"] is not None
    usage = (await (await client.get("/api/usage?group_by=provider")).json())
    assert usage["total"]["requests"] == 1 and usage["total"]["errors"] == 0  # leaving is no error


async def test_a_stream_cut_by_the_provider_records_the_error_events_status(make_client, fake):
    client = await make_client(priced_config(fake))
    fake.queue(stream_reply([chunk({"role": "assistant", "content": ""}), chunk({"content": "partial"})],
                            drop_after=2))
    response = await post(client, complete=False, stream=True)
    assert response.status == 200  # the stream had started: the error came as an event
    (record,) = await recorded(client, 1)
    assert record["status"] == 502 and record["error"].startswith("api_error: Provider fake,fake-model dropped")
    assert record["providers_tried"] == [{"provider": "fake", "model": "fake-model", "status": None}]


@pytest.mark.in_process  # reads the app's log events
async def test_every_error_is_logged_with_its_reason_and_every_request_once(make_client, fake):
    client = await make_client(base_config(fake, APIKEY="right-key-123"))
    headers = {"x-api-key": "right-key-123"}
    with capture_logs() as logs:
        fake.queue(error_reply(401, "provider says the key is bad"))
        await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER}, headers=headers)
        await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER},
                          headers={"x-api-key": "wrong"})
        await client.get("/api/nothing-here", headers=headers)
        await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER}, headers=headers)
    failed = [(e["status"], e["path"], e["message"]) for e in logs if e["event"] == "request_failed"]
    assert failed == [
        (401, "/v1/messages", "Error from provider(fake,fake-model: 401): " + '{"error": {"message": "provider says the key is bad", "type": "upstream_error"}}'),
        (401, "/v1/messages", "Invalid API key"),
        (404, "/api/nothing-here", "Not found: GET /api/nothing-here"),
    ]
    done = [e for e in logs if e["event"] == "request_completed"]
    assert [e["status"] for e in done] == [401, 200]  # the unauthenticated one never reached the route
    assert all(e["log_level"] == "info" for e in done)
    assert {"provider", "model", "scenario", "ttfb_ms", "duration_ms", "input_tokens", "cost_usd"} <= set(done[1])
    assert "request_body" not in done[1] and "hi" not in repr(done)  # no prompt text by default


@pytest.mark.in_process  # reads the app's log events
async def test_log_bodies_is_for_debugging_and_masks_keys(make_client, fake):
    client = await make_client(base_config(fake, LOG_BODIES=True))
    with capture_logs() as logs:
        await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER,
                                                "metadata": {"api_key": "sk-should-never-show-1234567890"}})
    (done,) = [e for e in logs if e["event"] == "request_completed"]
    assert done["request_body"]["messages"] == USER
    assert "Hello from fake" in done["answer_body"]
    # The structlog processor chain masks secret-named keys when the line is rendered.
    from ccr_aio.logs import redact
    assert "sk-should-never-show" not in repr(redact(None, "info", dict(done)))


async def test_usage_false_keeps_metrics_and_no_file(make_client, fake, tmp_path):
    client = await make_client(base_config(fake, USAGE=False))
    assert (await post(client)).status == 200
    for path in ("/api/requests", "/api/usage", f"/api/sessions/{SESSION}"):
        response = await client.get(path)
        assert response.status == 404
        assert "USAGE is false" in (await response.json())["error"]["message"]
    samples = metric_samples(await (await client.get("/metrics")).text())
    assert sum(s.value for s in samples["ccr_requests_total"]) == 1
    assert not list(tmp_path.rglob("usage.db"))


@pytest.mark.parametrize("query, message", [
    ("/api/requests?limit=0", "limit must be between 1 and 1000"),
    ("/api/requests?limit=ten", "limit must be a whole number"),
    ("/api/requests?status=teapot", "status: status must be a code"),
    ("/api/requests?before=yesterday", "before: not an ISO date"),
    ("/api/requests?sesion=x", "Unknown query parameter(s): sesion"),
    ("/api/requests?session=a&session=b", "more than once: session"),
    ("/api/usage?group_by=week", "group_by: group_by must be one of day, model"),
    ("/api/usage?since=2025-13-01", "since: not an ISO date"),
    ("/api/usage?utc_offset=5000", "utc_offset must be between"),
    ("/api/usage?latency=maybe", "latency must be true or false"),
    ("/api/sessions/s1?x=1", "Unknown query parameter(s): x"),
])
async def test_bad_query_parameters_are_400_in_the_error_shape(client, query, message):
    response = await client.get(query)
    assert response.status == 400
    body = await response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert message in body["error"]["message"]


async def test_a_session_in_one_call_and_filters(make_client, fake):
    client = await make_client(priced_config(fake))
    for prompt in (10, 20, 30):
        fake.queue(streamed(prompt, 1))
        await post(client, stream=True)
    fake.queue(streamed(99, 9))
    await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER, "stream": True})
    await recorded(client, 4)
    body = await (await client.get(f"/api/sessions/{SESSION}")).json()
    assert body["total"]["requests"] == 3 and body["total"]["input_tokens"] == 60
    assert [r["input_tokens"] for r in body["requests"]] == [30, 20, 10]  # newest first
    assert len((await (await client.get("/api/requests?model=fake,fake-model")).json())["requests"]) == 4
    usage = await (await client.get(f"/api/usage?group_by=model&session={SESSION}&latency=1")).json()
    (row,) = usage["rows"]
    assert row["requests"] == 3 and 0 < row["duration_p50_ms"] <= row["duration_p95_ms"]
    assert usage["total"]["ttfb_p95_ms"] > 0


async def test_a_body_refused_for_its_size_is_one_record_too(make_client, fake):
    """The body budget sits inside the recording: a 413 from a declared Content-Length over the
    limit is recorded with its status, although no handler ran."""
    client = await make_client(base_config(fake))
    headers = {"Content-Type": "application/json", "Content-Length": str(65 * 1024 * 1024)}
    async with aiohttp.ClientSession() as session:
        async with session.post(client.make_url("/v1/messages"), data=b"{}", headers=headers,
                                skip_auto_headers=["Content-Length"]) as response:
            assert response.status == 413
            request_id = response.headers.get("request-id")

    async def recorded() -> list[dict]:
        return (await (await client.get("/api/requests")).json())["requests"]

    (record,) = await wait_for(recorded, what="the record of the refused request")
    assert record["status"] == 413 and record["error"].startswith("request_too_large")
    assert request_id is None or record["id"] == request_id
