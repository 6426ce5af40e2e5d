"""Upstream call policy end to end: Anthropic passthrough, proxy, timeouts, unreachable providers."""

from __future__ import annotations

import json

import pytest

from tests.conftest import base_config, provider_config, sdk
from tests.fakes.openai_upstream import (
    Reply,
    completion,
    json_reply,
    stream_reply,
    text_chunks,
)

USER = [{"role": "user", "content": "hi"}]
ANTHROPIC_SSE = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
    b'"content":[],"model":"claude-x","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":0}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"native"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":1}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


def anthropic_provider(fake, use):
    entry = provider_config(fake, name="claude", models=["claude-x"], transformer={"use": use})
    entry["api_base_url"] = str(fake.server.make_url("/v1/messages"))
    return {"Providers": [entry], "Router": {"default": "claude,claude-x"}}


async def test_anthropic_passthrough_pipes_bytes_and_swaps_credentials(make_client, fake):
    client = await make_client(anthropic_provider(fake, ["Anthropic"]))
    fake.queue(Reply(chunks=[], chunk_bytes=[ANTHROPIC_SSE[:100], ANTHROPIC_SSE[100:]], done=False))
    body = {"model": "claude-opus", "max_tokens": 5, "messages": USER, "stream": True, "metadata": {"user_id": "u"}}
    response = await client.post(
        "/v1/messages?beta=true",
        json=body,
        headers={"x-api-key": "client-key", "Authorization": "Bearer client", "anthropic-beta": "x-beta", "anthropic-version": "2023-06-01"},
    )
    assert await response.read() == ANTHROPIC_SSE
    sent = fake.requests[0]
    assert sent.body == {**body, "model": "claude-x"}
    lowered = {k.lower(): v for k, v in sent.headers.items()}
    assert lowered["x-api-key"] == "sk-fake-provider"
    assert "authorization" not in lowered
    assert lowered["anthropic-beta"] == "x-beta" and lowered["anthropic-version"] == "2023-06-01"


async def test_anthropic_passthrough_use_bearer(make_client, fake):
    client = await make_client(anthropic_provider(fake, [["Anthropic", {"UseBearer": True}]]))
    fake.queue(json_reply({"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-x",
                           "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}))
    message = await sdk(client).messages.create(model="m", max_tokens=5, messages=USER)
    assert message.id == "msg_1"
    lowered = {k.lower(): v for k, v in fake.requests[0].headers.items()}
    assert lowered["authorization"] == "Bearer sk-fake-provider" and "x-api-key" not in lowered


async def test_anthropic_with_other_transformer_is_not_passthrough(make_client, fake):
    config = anthropic_provider(fake, ["Anthropic", "openai"])
    client = await make_client(config)
    fake.queue(json_reply(completion("converted")))
    message = await sdk(client).messages.create(model="m", max_tokens=5, messages=USER)
    assert message.content[0].text == "converted"
    assert fake.requests[0].body["messages"] == [{"role": "user", "content": "hi"}]


async def test_proxy_url_is_used(make_client, fake):
    config = base_config(fake, PROXY_URL=str(fake.server.make_url("")))
    config["Providers"][0]["api_base_url"] = "http://127.0.0.1:9/v1/chat/completions"  # nothing listens there
    client = await make_client(config)
    fake.queue(json_reply(completion("via proxy")))
    message = await sdk(client).messages.create(model="m", max_tokens=5, messages=USER)
    assert message.content[0].text == "via proxy"
    assert fake.requests[0].headers["Host"] == "127.0.0.1:9"


async def test_timeout_is_504_naming_provider(make_client, fake):
    client = await make_client(base_config(fake, API_TIMEOUT_MS=300))
    fake.queue(stream_reply(text_chunks(["x"]), hang_after=0))
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER})
    assert response.status == 504
    body = await response.json()
    assert body["error"]["type"] == "api_error" and "fake" in body["error"]["message"]


async def test_unreachable_provider_is_502(make_client, fake):
    config = base_config(fake)
    config["Providers"][0]["api_base_url"] = "http://127.0.0.1:9/v1/chat/completions"
    client = await make_client(config)
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER, "stream": True})
    assert response.status == 502
    body = await response.json()
    assert "unreachable" in body["error"]["message"] and "sk-fake-provider" not in json.dumps(body)


async def test_passthrough_drops_thinking_signed_elsewhere(make_client, fake):
    client = await make_client(anthropic_provider(fake, ["Anthropic"]))
    fake.queue(json_reply({"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-x",
                           "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}))
    mine = {"type": "thinking", "thinking": "real", "signature": "EqQBCkYIBxgCKkB"}
    foreign = {"type": "thinking", "thinking": "from deepseek", "signature": "ccr_1795721242259_1"}
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [foreign, {"type": "text", "text": "a"}]},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": [mine, {"type": "text", "text": "b"}]},
        {"role": "user", "content": "more"},
    ]
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": messages})
    assert response.status == 200
    sent = fake.requests[0].body["messages"]
    assert sent[1]["content"] == [{"type": "text", "text": "a"}]
    assert sent[3]["content"][0] == mine


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.in_process  # reads the app's session table
async def test_passthrough_answers_feed_the_session_usage(make_client, fake, stream):
    from ccr_aio.routing.sessions import SESSIONS

    client = await make_client(anthropic_provider(fake, ["Anthropic"]))
    usage = {"input_tokens": 500, "cache_read_input_tokens": 70000, "output_tokens": 1}
    if stream:
        sse = ANTHROPIC_SSE.replace(b'"usage":{"input_tokens":3,"output_tokens":0}', b'"usage":' + json.dumps(usage).encode())
        fake.queue(Reply(chunks=[], chunk_bytes=[sse], done=False))
    else:
        fake.queue(json_reply({"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-x",
                               "stop_reason": "end_turn", "stop_sequence": None, "usage": usage}))
    body = {"model": "m", "max_tokens": 5, "messages": USER, "stream": stream,
            "metadata": {"user_id": "user_x_account__session_pt-1"}}
    response = await client.post("/v1/messages", json=body)
    await response.read()
    assert client.app[SESSIONS].usage.get("pt-1") == 70500


async def test_passthrough_refuses_a_message_that_is_not_an_object_at_the_edge(make_client, fake):
    """A malformed turn is a 400 naming it, checked once at the edge, never a crash in the
    passthrough's thinking filter; nothing is sent upstream."""
    client = await make_client(anthropic_provider(fake, ["Anthropic"]))
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": ["hi", *USER]})
    assert response.status == 400
    assert "messages[0]" in (await response.json())["error"]["message"]
    assert fake.requests == []


async def test_a_cookie_set_by_a_provider_is_not_sent_on_later_calls(make_client, fake):
    # One pool serves every user: a provider's Set-Cookie (a CDN's bot cookie) must not ride
    # along on the next request, whoever sends it. By name, not IP: jars ignore cookies of IPs.
    named = provider_config(fake, api_base_url=fake.url.replace("127.0.0.1", "localhost"))
    client = await make_client({"Providers": [named], "Router": {"default": "fake,fake-model"}})
    fake.queue(Reply(json_body=completion("one"), headers={"Set-Cookie": "__cf_bm=abc123; Path=/"}),
               json_reply(completion("two")))
    for _ in range(2):
        message = await sdk(client).messages.create(model="claude-x", max_tokens=20, messages=USER)
        assert message.content[0].text in ("one", "two")
    assert [r.headers.get("Cookie") for r in fake.requests] == [None, None]
