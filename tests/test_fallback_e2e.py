"""Fallback chains end to end: the app between the `anthropic` SDK (or raw HTTP) and two fake
providers over real HTTP. What is retried and what is not, only before the first byte reaches
the client, cooldowns seen in the providers' request logs, and the headers that say so."""

from __future__ import annotations

import asyncio
import json

import anthropic
import pytest
from structlog.testing import capture_logs

from ccr_aio.agents.image_cache import image_id
from tests.conftest import sdk
from tests.fakes.openai_upstream import (
    Reply, completion, error_reply, json_reply, refused_url, stream_reply, text_chunks,
)
from tests.fallback_helpers import (
    BACKUP_KEY, KEY_ONE, USER, ask, fake_clock, health, route_of, text_of, two_providers,
)
from tests.stream_grammar import check_stream, parse_sse_bytes

BACKUP_SAYS = stream_reply(text_chunks(["from", " the backup"]))


@pytest.fixture
async def pair(make_fake):
    primary, backup = await make_fake(), await make_fake()
    backup.default = BACKUP_SAYS
    return primary, backup


async def test_the_sdk_sees_no_error_when_the_primary_refuses_connections(make_client, pair):
    primary, backup = pair
    url, holder = refused_url()
    with holder:
        config = two_providers(primary, backup, keys="sk-single-primary-key")
        config["Providers"][0]["api_base_url"] = url
        client = await make_client(config)
        async with sdk(client).messages.stream(model="claude-sonnet-4", max_tokens=50, messages=USER) as stream:
            final = await stream.get_final_message()
        assert final.content[0].text == "from the backup"
        assert stream.response.headers["x-ccr-route"] == "backup,b-model"
        assert stream.response.headers["x-ccr-attempts"] == "2"
        # Raw HTTP: the fallback's stream is a whole, valid Anthropic stream.
        response, events = await ask(client, stream=True)
        assert response.status == 200 and route_of(response) == ("backup,b-model", 2)
        check_stream(events)
        assert text_of(events) == "from the backup"
        assert backup.models() == ["b-model", "b-model"] and backup.keys() == [BACKUP_KEY] * 2
        message = await sdk(client).messages.create(model="claude-sonnet-4", max_tokens=50, messages=USER)
        assert message.content[0].text == "from the backup"


@pytest.mark.in_process  # reads the app's log events
async def test_a_disconnect_before_the_headers_falls_back_and_each_attempt_is_logged(make_client, pair):
    primary, backup = pair
    primary.default = Reply(disconnect=True)
    client = await make_client(two_providers(primary, backup))
    with capture_logs() as logs:
        response, events = await ask(client, stream=True)
    assert response.status == 200 and text_of(events) == "from the backup"
    lines = [entry for entry in logs if entry["event"] == "upstream_attempt"]
    assert [(e["attempt"], e["provider"], e["model"], e["key_index"], e["status"], e["reason"]) for e in lines] == [
        (1, "primary", "p-model", 0, None, "connection_reset"),
        (2, "backup", "b-model", None, 200, "ok"),
    ]
    assert all(isinstance(e["ms"], float) for e in lines)
    assert KEY_ONE not in json.dumps(logs) and BACKUP_KEY not in json.dumps(logs)


@pytest.mark.in_process  # puts the app on a clock the test moves
async def test_three_500s_trip_the_primary_and_later_requests_skip_it_without_a_call(make_client, pair):
    primary, backup = pair
    primary.default = error_reply(500, "primary is broken")
    client = await make_client(two_providers(primary, backup, keys="sk-single-primary-key"))
    fake_clock(client)
    for _ in range(3):
        response, message = await ask(client)
        assert response.status == 200 and text_of(message) == "from the backup"
        assert route_of(response) == ("backup,b-model", 2)
    assert len(primary.requests) == 3
    response, message = await ask(client)
    assert route_of(response) == ("backup,b-model", 1)
    assert len(primary.requests) == 3  # skipped: no call
    state = (await health(client))["primary"]["models"]["p-model"]
    assert (state["state"], state["consecutive_failures"], state["last_error"]) == ("cooling", 3, "http 500")
    assert 29 < state["seconds_left"] <= 30


@pytest.mark.in_process  # puts the app on a clock the test moves
async def test_when_the_whole_list_is_cooling_the_soonest_to_recover_is_tried(make_client, pair):
    primary, backup = pair
    primary.queue(error_reply(429, "primary: slow down", {"retry-after": "5"}))
    backup.queue(error_reply(429, "backup: slow down", {"retry-after": "60"}))
    client = await make_client(two_providers(primary, backup, keys="sk-single-primary-key"))
    fake_clock(client)
    response, body = await ask(client)
    # Everything failed: the last provider's status and words, its retry-after, and who was tried.
    assert response.status == 429 and response.headers["retry-after"] == "60"
    assert body["error"]["type"] == "rate_limit_error"
    assert body["error"]["message"].startswith("Error from provider(backup,b-model: 429): ")
    assert "backup: slow down" in body["error"]["message"]
    assert body["error"]["message"].endswith("[tried: primary,p-model; backup,b-model]")
    assert route_of(response) == ("backup,b-model", 2)
    primary.queue(stream_reply(text_chunks(["primary is back"])))
    response, events = await ask(client, stream=True)
    assert text_of(events) == "primary is back" and route_of(response) == ("primary,p-model", 1)
    assert (len(primary.requests), len(backup.requests)) == (2, 1)


async def test_a_400_is_not_retried_and_comes_back_verbatim(make_client, pair):
    primary, backup = pair
    primary.queue(error_reply(400, "prompt is too long: context_length_exceeded"))
    client = await make_client(two_providers(primary, backup, keys="sk-single-primary-key"))
    with pytest.raises(anthropic.BadRequestError) as info:
        await sdk(client).messages.create(model="claude-sonnet-4", max_tokens=50, messages=USER)
    expected = ('Error from provider(primary,p-model: 400): {"error": {"message": "prompt is too long: '
                'context_length_exceeded", "type": "upstream_error"}}')
    assert info.value.body["error"]["message"] == expected
    assert info.value.response.headers["x-ccr-route"] == "primary,p-model"
    assert info.value.response.headers["x-ccr-attempts"] == "1"
    assert backup.requests == []


async def test_a_drop_after_the_first_event_ends_the_stream_without_fallback(make_client, pair):
    primary, backup = pair
    seen_first_event = asyncio.Event()
    primary.queue(stream_reply(text_chunks(["partial", " answer"]), drop_after=1, drop_when=seen_first_event))
    client = await make_client(two_providers(primary, backup))
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 10, "messages": USER, "stream": True})
    assert response.status == 200 and route_of(response) == ("primary,p-model", 1)
    received = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 10)
    assert b"message_start" in received
    seen_first_event.set()
    events = parse_sse_bytes(received + await response.read())
    assert events[-1]["type"] == "error" and "dropped" in events[-1]["error"]["message"]
    check_stream(events, complete=False)
    assert backup.requests == []


async def test_a_passthrough_provider_falls_back_too(make_client, pair):
    primary, backup = pair
    config = two_providers(primary, backup, keys="sk-single-primary-key")
    config["Providers"][0].update(api_base_url=str(primary.server.make_url("/v1/messages")),
                                  transformer={"use": ["Anthropic"]})
    primary.queue(error_reply(529, "overloaded"))
    client = await make_client(config)
    response, events = await ask(client, stream=True)
    assert response.status == 200 and text_of(events) == "from the backup"
    assert route_of(response) == ("backup,b-model", 2)
    assert primary.requests[0].path == "/v1/messages"
    assert primary.requests[0].headers["x-api-key"] == "sk-single-primary-key"


async def test_every_messages_answer_carries_the_route_headers_and_count_tokens_is_untouched(make_client, pair):
    primary, backup = pair
    client = await make_client(two_providers(primary, backup))
    response, _ = await ask(client)
    assert route_of(response) == ("primary,p-model", 1)
    refused = await client.post("/v1/messages", json={"model": "m", "max_tokens": 5})  # no messages: no call
    assert refused.status == 400 and route_of(refused) == (None, 0)
    counted = await client.post("/v1/messages/count_tokens", json={"model": "m", "messages": USER})
    assert counted.status == 200 and "x-ccr-attempts" not in counted.headers
    assert len(primary.requests) == 1 and backup.requests == []


async def test_the_time_budget_stops_the_fallback(make_client, pair):
    primary, backup = pair
    primary.queue(stream_reply(text_chunks(["never"]), hang_after=0))
    client = await make_client(two_providers(primary, backup, API_TIMEOUT_MS=300))
    response, body = await ask(client, stream=True)
    assert response.status == 504 and route_of(response) == ("primary,p-model", 1)
    assert body["error"]["message"].endswith("[tried: primary,p-model (key #0); time budget used up]")
    assert backup.requests == []


async def test_the_image_agents_calls_fall_back_along_the_image_list(make_client, pair):
    primary, backup = pair
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "Here is a screenshot"}, image]},
                {"role": "assistant", "content": "Got it."},
                {"role": "user", "content": "What does the error say?"}]
    config = two_providers(primary, backup, keys="sk-single-primary-key",
                           fallback={"image": ["backup,b-model"]})
    config["Router"]["image"] = "primary,p-vision"
    client = await make_client(config)
    image_ref = json.dumps({"imageId": [image_id(image["source"])], "task": "Read the error"})
    call = {"id": "call_img", "type": "function", "function": {"name": "analyzeImage", "arguments": image_ref}}
    primary.choose = lambda recorded: error_reply(503, "vision down") if recorded.body["model"] == "p-vision" else None
    primary.queue(json_reply(completion(None, tool_calls=[call], finish="tool_calls")),
                  json_reply(completion("The disk is full.")))
    backup.default = json_reply(completion("disk full"))
    message = await sdk(client).messages.create(model="claude-sonnet-4", max_tokens=200, messages=messages)
    assert message.content[0].text == "The disk is full."
    assert primary.models() == ["p-model", "p-vision", "p-model"] and backup.models() == ["b-model"]
    assert "data:image/png;base64,iVBORw0KGgo=" in json.dumps(backup.requests[0].body)
    assert "disk full" in json.dumps(primary.requests[2].body["messages"])
