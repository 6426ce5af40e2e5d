"""Bad client input over real HTTP: a 400 in Anthropic's error shape, nothing sent upstream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ccr_aio.inputs.json_body import MAX_DEPTH
from tests.conftest import base_config
from tests.fakes.openai_upstream import completion, json_reply
from tests.test_request_validation import client_bodies

USER = {"role": "user", "content": "hi"}
JSON = {"Content-Type": "application/json"}
COUNT = "/v1/messages/count_tokens"


def body_with(*messages: Any, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 10, "messages": [USER, *messages], **extra}


def assistant(*blocks: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


async def assert_400(response: Any, *words: str) -> str:
    assert response.status == 400
    body = await response.json()
    assert body["type"] == "error" and set(body) == {"type", "error"}
    assert body["error"]["type"] == "invalid_request_error" and set(body["error"]) == {"type", "message"}
    for word in words:
        assert word in body["error"]["message"]
    return body["error"]["message"]


@pytest.mark.parametrize("body, problem", [
    (body_with(assistant({"type": "text", "text": 42})), "messages[1].content[0].text must be a string, got a number"),
    (body_with(assistant({"type": "text", "text": {"a": 1}})), "messages[1].content[0].text must be a string, got an object"),
    (body_with({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": 1}]}]}),
     "messages[1].content[0].content[0].text must be a string, got a number"),
    (body_with(tools=[{"type": ["custom"], "name": "x"}]), "tools[0].type must be a string, got an array"),
])
@pytest.mark.parametrize("path", ["/v1/messages", COUNT])
async def test_wrong_types_are_400_naming_the_path(client, fake, path, body, problem):
    for stream in (False, True):
        response = await client.post(path, json={**body, "stream": stream})
        assert await assert_400(response) == problem
    assert fake.requests == []


async def test_all_problems_in_one_answer(client, fake):
    body = body_with(assistant({"type": "text", "text": 1}, {"type": "tool_use", "id": "t", "name": "x", "input": []}),
                     temperature="0.5")
    message = await assert_400(await client.post("/v1/messages", json=body))
    assert message.split("; ") == [
        "messages[1].content[0].text must be a string, got a number",
        "messages[1].content[1].input must be an object, got an array",
        "temperature must be a number, got a string",
    ]
    assert fake.requests == []


@pytest.mark.parametrize("depth", [1_000, 10_000])
@pytest.mark.parametrize("path", ["/v1/messages", COUNT, "/api/config"])
async def test_deep_nesting_is_400_not_a_recursion_error(client, fake, path, depth):
    raw = b'{"model": "m", "messages": [{"role": "user", "content": "hi", "x": ' + b"[" * depth + b"]" * depth + b"}]}"
    await assert_400(await client.post(path, data=raw, headers=JSON), f"nested deeper than {MAX_DEPTH} levels")
    assert fake.requests == []


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize("path", ["/v1/messages", COUNT])
async def test_non_standard_numbers_are_refused_not_forwarded(client, fake, path, token):
    raw = f'{{"model": "m", "max_tokens": 10, "temperature": {token}, "messages": [{{"role": "user", "content": "hi"}}]}}'
    await assert_400(await client.post(path, data=raw.encode(), headers=JSON), "Invalid JSON in request body")
    assert fake.requests == []


async def test_body_that_is_not_utf8_is_400(client, fake):
    raw = b'{"model": "m", "messages": [{"role": "user", "content": "caf\xe9"}]}'
    await assert_400(await client.post("/v1/messages", data=raw, headers=JSON), "not UTF-8")
    assert fake.requests == []


async def test_lone_surrogate_reaches_the_provider_as_a_replacement_character(client, fake):
    fake.queue(json_reply(completion("ok")))
    raw = (b'{"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": ['
           b'{"type": "text", "text": "cut \\ud83d here"}, {"type": "text", "text": "emoji \\ud83d\\ude00"}]}]}')
    response = await client.post("/v1/messages", data=raw, headers=JSON)
    assert response.status == 200
    assert (await response.json())["content"][0]["text"] == "ok"
    sent = fake.requests[0].body["messages"][0]["content"]
    assert [part["text"] for part in sent] == ["cut \ufffd here", "emoji \U0001F600"]
    counted = await client.post(COUNT, data=raw, headers=JSON)
    assert counted.status == 200 and (await counted.json())["input_tokens"] > 0


async def test_valid_body_still_goes_through(client, fake):
    fake.queue(json_reply(completion("fine")))
    response = await client.post("/v1/messages", data=json.dumps(body_with()).encode(), headers=JSON)
    assert response.status == 200 and fake.requests


@pytest.mark.parametrize("name, body", client_bodies(), ids=lambda v: v if isinstance(v, str) else "")
async def test_every_captured_claude_code_body_goes_through(make_client, fake, name, body):
    config = base_config(fake)
    config["Providers"][0]["models"].append("sc-sub")  # the subagent captures name fake,sc-sub
    client = await make_client(config)
    fake.queue(json_reply(completion("ok")))
    path = COUNT if "count-tokens" in name else "/v1/messages?beta=true"
    response = await client.post(path, json={**body, "model": "claude-sonnet-4", "stream": False})
    assert response.status == 200, await response.text()
