"""Provider chunks of the wrong shape end the answer with a 502 naming the provider, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from ccr_aio.pipeline.chunk_shape import shape_problem
from tests.fakes.openai_upstream import chunk, completion, json_reply, stream_reply, text_chunks
from tests.stream_grammar import check_stream, parse_sse_bytes

ASK = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def choice(**fields: Any) -> dict[str, Any]:
    return {"id": "c", "choices": [{"index": 0, "finish_reason": None, **fields}]}


def call(**fields: Any) -> dict[str, Any]:
    return chunk({"tool_calls": [{"index": 0, "id": "call_1", **fields}]})


MALFORMED = [
    (choice(delta="oops"), "choices[0].delta must be an object, got a string"),
    (choice(delta=["a"]), "choices[0].delta must be an object, got an array"),
    ({"id": "c", "choices": "oops"}, "choices must be an array, got a string"),
    ({"id": "c", "choices": [1]}, "choices[0] must be an object, got a number"),
    (chunk({"tool_calls": "oops"}), "choices[0].delta.tool_calls must be an array, got a string"),
    (chunk({"tool_calls": [None]}), "choices[0].delta.tool_calls[0] must be an object, got null"),
    (call(function="oops"), "choices[0].delta.tool_calls[0].function must be an object, got a string"),
    (call(index=[0], function={"name": "x"}), "choices[0].delta.tool_calls[0].index must be an integer, got an array"),
    (call(function={"name": 5, "arguments": "{}"}), "choices[0].delta.tool_calls[0].function.name must be a string, got a number"),
]

WELL_FORMED = [
    {"id": "c", "choices": [], "usage": {"prompt_tokens": 1}},
    {"error": {"message": "quota"}},
    {"candidates": [{"content": {"parts": [{"text": "a Gemini chunk"}]}}]},
    choice(delta=None, finish_reason="stop"),
    chunk({"content": [{"type": "text", "text": "content as a list"}]}),
    call(function={"name": "Read", "arguments": {"already": "an object"}}),
    call(function=None),
    chunk({"thinking": "not an object: converters skip it", "role": "assistant"}),
]


@pytest.mark.parametrize("body, problem", MALFORMED)
def test_malformed_chunks_are_named(body, problem):
    assert shape_problem(body) == problem


@pytest.mark.parametrize("body", WELL_FORMED)
def test_shapes_the_converters_read_pass(body):
    assert shape_problem(body) is None


def test_whole_answers_are_checked_on_message():
    assert shape_problem({"choices": [{"message": "oops"}]}, "message") == "choices[0].message must be an object, got a string"
    assert shape_problem(completion("fine", tool_calls=[{"id": "a", "function": {"name": "x"}}]), "message") is None


@pytest.mark.parametrize("bad, problem", MALFORMED)
async def test_stream_ends_with_an_error_event_naming_the_provider(client, fake, bad, problem):
    chunks = text_chunks(["partial"])
    chunks.insert(2, bad)
    fake.queue(stream_reply(chunks))
    response = await client.post("/v1/messages", json={**ASK, "stream": True})
    assert response.status == 200
    events = parse_sse_bytes(await response.read())
    assert events[-1] == {"type": "error", "error": {
        "type": "api_error", "message": f"Provider fake,fake-model sent a malformed stream chunk: {problem}"}}
    check_stream(events, complete=False)  # no message_stop: a cut answer must not look complete


@pytest.mark.parametrize("bad, problem", MALFORMED)
async def test_non_stream_client_gets_a_502(client, fake, bad, problem):
    fake.queue(stream_reply([*text_chunks(["partial"])[:2], bad]))  # the fake streams; we aggregate
    response = await client.post("/v1/messages", json={**ASK, "stream": False})
    assert response.status == 502
    body = await response.json()
    assert body["error"]["message"] == f"Provider fake,fake-model sent a malformed stream chunk: {problem}"


async def test_json_answer_with_a_string_message_is_a_502(client, fake):
    fake.queue(json_reply({"id": "c", "choices": [{"index": 0, "message": "oops", "finish_reason": "stop"}]}))
    response = await client.post("/v1/messages", json=ASK)
    assert response.status == 502
    assert (await response.json())["error"]["message"] == (
        "Provider fake,fake-model returned a malformed answer: choices[0].message must be an object, got a string")
