"""The image agent end to end: anthropic SDK → ccr-aio → the fake provider (main + vision model)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from ccr_aio.agents.image import prepare
from ccr_aio.agents.image_cache import ImageCache, image_id
from tests.conftest import provider_config, sdk
from tests.live_server import on_another_worker
from tests.fakes.openai_upstream import (
    chunk,
    completion,
    json_reply,
    stream_reply,
    text_chunks,
    usage_chunk,
)
from tests.stream_grammar import check_stream, parse_sse_bytes

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
OTHER_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAFklEQVR42mNk"
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
ID = image_id(IMAGE["source"])

EARLIER_IMAGE = [
    {"role": "user", "content": [{"type": "text", "text": "Here is a screenshot"}, IMAGE]},
    {"role": "assistant", "content": [{"type": "text", "text": "Got it."}]},
    {"role": "user", "content": "What does the error in the screenshot say?"},
]


def config(fake: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Providers": [provider_config(fake, models=["main-m", "vision-m"])],
        "Router": {"default": "fake,main-m", "image": "fake,vision-m"},
        **extra,
    }


def analyze_call(ids: list[str], task: str = "Read the error message", call_id: str = "call_img") -> list[dict]:
    args = json.dumps({"imageId": ids, "task": task})
    return [
        chunk({"role": "assistant", "content": None}, model="main-m"),
        chunk({"tool_calls": [{"index": 0, "id": call_id, "type": "function", "function": {"name": "analyzeImage", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[:10]}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[10:]}}]}),
        chunk({}, "tool_calls"),
        usage_chunk(40, 9),
    ]


def all_text(body: dict) -> str:
    return json.dumps(body)


def image_urls(body: dict) -> list[str]:
    return [
        part["image_url"]["url"]
        for message in body["messages"] if isinstance(message.get("content"), list)
        for part in message["content"] if part.get("type") == "image_url"
    ]


async def test_image_in_last_message_routes_to_the_image_model(make_client, fake):
    client = await make_client(config(fake))
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, IMAGE]}]
    async with sdk(client) as anthropic_client, anthropic_client.messages.stream(
        model="claude-sonnet-4", max_tokens=100, messages=messages
    ) as stream:
        final = await stream.get_final_message()
    assert final.content[0].text == "Hello from fake"
    assert len(fake.requests) == 1
    sent = fake.requests[0].body
    assert sent["model"] == "vision-m"
    assert image_urls(sent) == [f"data:image/png;base64,{PNG}"]
    assert "analyzeImage" not in all_text(sent)


async def test_earlier_image_is_analyzed_by_the_image_model_while_streaming(make_client, fake):
    client = await make_client(config(fake))
    fake.queue(
        stream_reply(analyze_call([ID])),
        json_reply(completion("The error says: disk full")),
        stream_reply(text_chunks(["The screenshot", " says the disk is full."], usage=(80, 11))),
    )
    response = await client.post(
        "/v1/messages", json={"model": "claude-sonnet-4", "max_tokens": 200, "stream": True, "messages": EARLIER_IMAGE},
    )
    assert response.status == 200
    events = parse_sse_bytes(await response.read())
    check_stream(events)

    first, vision, second = (r.body for r in fake.requests)
    assert first["model"] == "main-m" and first["stream"] is True
    assert PNG not in all_text(first) and not image_urls(first)
    assert f"[Image #{ID}]" in all_text(first["messages"])
    assert any(t["function"]["name"] == "analyzeImage" for t in first["tools"])
    assert "analyzeImage" in first["messages"][0]["content"][-1]["text"]  # the system note

    assert vision["model"] == "vision-m" and vision["stream"] is False
    assert image_urls(vision) == [f"data:image/png;base64,{PNG}"]
    assert "Read the error message" in all_text(vision["messages"])

    assert second["model"] == "main-m"
    tool_turn = [m for m in second["messages"] if m["role"] == "tool"]
    assert tool_turn and tool_turn[-1]["tool_call_id"] == "call_img"
    assert "The error says: disk full" in all_text(tool_turn[-1])
    assert any(m.get("tool_calls") for m in second["messages"] if m["role"] == "assistant")

    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [s["content_block"]["type"] for s in starts] == ["text"]
    assert "analyzeImage" not in json.dumps(events)
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == "The screenshot says the disk is full."
    delta = next(e for e in events if e["type"] == "message_delta")
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] == 9 + 11  # both rounds of the main model


async def test_sdk_sees_one_message_with_text_kept_from_the_first_round(make_client, fake):
    client = await make_client(config(fake))
    first_round = analyze_call([ID])
    first_round.insert(1, chunk({"content": "Let me look."}))
    fake.queue(
        stream_reply(first_round),
        json_reply(completion("A red error banner: disk full")),
        stream_reply(text_chunks(["It says the disk is full."])),
    )
    async with sdk(client) as anthropic_client, anthropic_client.messages.stream(
        model="claude-sonnet-4", max_tokens=200, messages=EARLIER_IMAGE
    ) as stream:
        final = await stream.get_final_message()
    assert [(b.type, b.text) for b in final.content] == [("text", "Let me look."), ("text", "It says the disk is full.")]
    assert final.stop_reason == "end_turn"
    # The continuation replays the first round's text and the call.
    assistant = [m for m in fake.requests[2].body["messages"] if m["role"] == "assistant"][-1]
    assert assistant["content"] == "Let me look." and assistant["tool_calls"][0]["id"] == "call_img"


async def test_earlier_image_non_stream(make_client, fake):
    client = await make_client(config(fake))
    tool_call = {"id": "call_img", "type": "function", "function": {"name": "analyzeImage", "arguments": json.dumps({"imageId": [ID], "task": "Read it"})}}
    fake.queue(
        json_reply(completion(None, tool_calls=[tool_call], finish="tool_calls")),
        json_reply(completion("disk full")),
        json_reply(completion("The disk is full.")),
    )
    async with sdk(client) as anthropic_client:
        message = await anthropic_client.messages.create(model="claude-sonnet-4", max_tokens=200, messages=EARLIER_IMAGE)
    assert [(b.type, b.text) for b in message.content] == [("text", "The disk is full.")]
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 6
    assert [r.body["model"] for r in fake.requests] == ["main-m", "vision-m", "main-m"]
    assert all(r.body["stream"] is False for r in fake.requests)
    assert image_urls(fake.requests[1].body) and not image_urls(fake.requests[0].body)
    assert "disk full" in all_text([m for m in fake.requests[2].body["messages"] if m["role"] == "tool"])


async def test_same_image_keeps_its_id_across_requests(make_client, fake):
    client = await make_client(config(fake))
    other = [{**EARLIER_IMAGE[0], "content": [{"type": "image", "source": {**IMAGE["source"], "data": OTHER_PNG}}]}, *EARLIER_IMAGE[1:]]
    async with sdk(client) as anthropic_client:
        for messages in (EARLIER_IMAGE, EARLIER_IMAGE, other):
            await anthropic_client.messages.create(model="claude-sonnet-4", max_tokens=50, messages=messages)
    first, second = (all_text(r.body["messages"]) for r in fake.requests[:2])
    assert f"[Image #{ID}]" in first and f"[Image #{ID}]" in second
    assert f"[Image #{ID}]" not in all_text(fake.requests[2].body["messages"])


async def test_an_image_from_an_earlier_request_is_found_by_a_later_one(make_client, fake):
    """A later turn that carries another image may ask for the earlier one by its id: whichever
    worker serves that turn finds the image the first turn's worker stored."""
    client = await make_client(config(fake))
    fake.queue(json_reply(completion("noted")))
    first = await sdk(client).messages.create(model="claude-sonnet-4", max_tokens=50, messages=EARLIER_IMAGE)
    assert first.content[0].text == "noted"
    other = {"type": "image", "source": {**IMAGE["source"], "data": OTHER_PNG}}
    later = [{"role": "user", "content": [{"type": "text", "text": "And now this"}, other]}, *EARLIER_IMAGE[1:]]
    call = {"id": "call_img", "type": "function",
            "function": {"name": "analyzeImage", "arguments": json.dumps({"imageId": [ID], "task": "Read it"})}}
    fake.queue(json_reply(completion(None, tool_calls=[call], finish="tool_calls")),
               json_reply(completion("disk full")), json_reply(completion("The disk is full.")))
    async with on_another_worker(client, after="route"):
        message = await sdk(client).messages.create(model="claude-sonnet-4", max_tokens=50, messages=later)
    assert message.content[0].text == "The disk is full."
    assert [r.body["model"] for r in fake.requests[1:]] == ["main-m", "vision-m", "main-m"]
    assert image_urls(fake.requests[2].body) == [f"data:image/png;base64,{PNG}"]


async def test_force_image_agent_keeps_the_main_model(make_client, fake):
    client = await make_client(config(fake, forceUseImageAgent=True))
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, IMAGE]}]
    fake.queue(
        stream_reply(analyze_call(["1"], task="Describe it")),  # Claude Code's own "[Image #1]" numbering
        json_reply(completion("A cat")),
        stream_reply(text_chunks(["It is a cat."])),
    )
    async with sdk(client) as anthropic_client, anthropic_client.messages.stream(
        model="claude-sonnet-4", max_tokens=100, messages=messages
    ) as stream:
        events = [event.model_dump() async for event in stream]
        final = await stream.get_final_message()
    check_stream([e for e in events if e["type"] in _RAW_EVENTS])
    assert [r.body["model"] for r in fake.requests] == ["main-m", "vision-m", "main-m"]
    assert not image_urls(fake.requests[0].body)
    assert image_urls(fake.requests[1].body) == [f"data:image/png;base64,{PNG}"]
    assert [b.text for b in final.content] == ["It is a cat."]


_RAW_EVENTS = {"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop", "ping"}


async def test_mixed_turn_forwards_client_tools_and_drops_analyze_image(make_client, fake):
    client = await make_client(config(fake))
    args = json.dumps({"imageId": [ID], "task": "x"})
    fake.queue(stream_reply([
        chunk({"role": "assistant", "content": "Checking."}),
        chunk({"tool_calls": [{"index": 0, "id": "call_img", "type": "function", "function": {"name": "analyzeImage", "arguments": args}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "call_read", "type": "function", "function": {"name": "Read", "arguments": '{"file_path":"/a"}'}}]}),
        chunk({}, "tool_calls"),
        usage_chunk(10, 4),
    ]))
    tools = [{"name": "Read", "description": "read", "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}}]
    response = await client.post("/v1/messages", json={
        "model": "claude-sonnet-4", "max_tokens": 100, "stream": True, "messages": EARLIER_IMAGE, "tools": tools,
    })
    events = parse_sse_bytes(await response.read())
    check_stream(events)
    assert len(fake.requests) == 1
    blocks = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [(b["type"], b.get("name")) for b in blocks] == [("text", None), ("tool_use", "Read")]
    assert next(e for e in events if e["type"] == "message_delta")["delta"]["stop_reason"] == "tool_use"


async def test_rounds_are_bounded(make_client, fake):
    client = await make_client(config(fake))
    fake.queue(
        *[r for n in range(4) for r in (stream_reply(analyze_call([ID], call_id=f"c{n}")), json_reply(completion("?")))],
    )
    response = await client.post("/v1/messages", json={
        "model": "claude-sonnet-4", "max_tokens": 100, "stream": True, "messages": EARLIER_IMAGE,
    })
    events = parse_sse_bytes(await response.read())
    check_stream(events)
    assert [r.body["model"] for r in fake.requests] == ["main-m", "vision-m"] * 3 + ["main-m"]
    assert next(e for e in events if e["type"] == "message_delta")["delta"]["stop_reason"] == "end_turn"
    assert [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"] == ["text"]


async def test_unknown_id_and_vision_error_become_error_tool_results(make_client, fake):
    client = await make_client(config(fake))
    from tests.fakes.openai_upstream import error_reply

    fake.queue(
        stream_reply(analyze_call(["nope"])),
        stream_reply(analyze_call([ID], call_id="call_2")),
        error_reply(500, "vision backend down"),
        stream_reply(text_chunks(["Sorry, I cannot see it."])),
    )
    response = await client.post("/v1/messages", json={
        "model": "claude-sonnet-4", "max_tokens": 100, "stream": True, "messages": EARLIER_IMAGE,
    })
    check_stream(parse_sse_bytes(await response.read()))
    assert [r.body["model"] for r in fake.requests] == ["main-m", "main-m", "vision-m", "main-m"]
    tools = [m for m in fake.requests[3].body["messages"] if m["role"] == "tool"]
    assert "No image matches ['nope']" in tools[0]["content"] and f"[Image #{ID}]" in tools[0]["content"]
    assert "vision backend down" in tools[1]["content"]


def test_prepare_replaces_images_in_tool_results_and_leaves_image_free_bodies_alone():
    cache = ImageCache()
    plain = {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    assert prepare(plain, cache) == [] and "tools" not in plain and "system" not in plain
    body = {
        "model": "m",
        "system": "You are Claude Code.",
        "messages": [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [IMAGE]}, {**IMAGE, "cache_control": {"type": "ephemeral"}}]},
        ],
    }
    assert prepare(body, cache) == [ID]
    content = body["messages"][1]["content"]
    assert content[0]["content"] == [{"type": "text", "text": f"[Image #{ID}]"}]
    assert content[1] == {"type": "text", "text": f"[Image #{ID}]", "cache_control": {"type": "ephemeral"}}
    assert body["system"][0] == {"type": "text", "text": "You are Claude Code."}
    assert [t["name"] for t in body["tools"]] == ["analyzeImage"]
    assert cache.get(ID) == IMAGE["source"]


def test_cache_is_bounded_and_expires():
    now = [0.0]
    cache = ImageCache(ttl_s=10, max_items=2, clock=lambda: now[0])
    a, b, c = ({"type": "base64", "media_type": "image/png", "data": d} for d in ("a", "b", "c"))
    ida, idb = cache.put(a), cache.put(b)
    cache.put(c)
    assert cache.get(ida) is None and cache.get(idb) == b and len(cache) == 2
    now[0] = 11
    assert cache.get(idb) is None
    assert cache.put(a) == ida  # same image, same id


@pytest.mark.in_process  # shortens the app's ping interval
async def test_pings_keep_the_stream_alive_while_the_image_model_works(make_client, fake, monkeypatch):
    from ccr_aio.agents import _image_tool, image

    monkeypatch.setattr(image, "PING_INTERVAL_S", 0.005)
    answer_one = _image_tool.Analyst.answer_one

    async def slow_answer(self, call):
        await asyncio.sleep(0.05)  # a slow image model, not a wait for a condition
        return await answer_one(self, call)

    monkeypatch.setattr(_image_tool.Analyst, "answer_one", slow_answer)
    client = await make_client(config(fake))
    fake.queue(stream_reply(analyze_call([ID])), json_reply(completion("ok")), stream_reply(text_chunks(["Done."])))
    response = await client.post("/v1/messages", json={
        "model": "claude-sonnet-4", "max_tokens": 100, "stream": True, "messages": EARLIER_IMAGE,
    })
    events = parse_sse_bytes(await response.read())
    check_stream(events)
    assert any(e["type"] == "ping" for e in events)


ANTHROPIC_TOOL_ROUND = [
    {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-x",
                                          "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 30, "output_tokens": 0}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Need to look."}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig-1"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "analyzeImage", "input": {}}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": json.dumps({"imageId": [ID], "task": "OCR"})}},
    {"type": "content_block_stop", "index": 1},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 7}},
    {"type": "message_stop"},
]
ANTHROPIC_TEXT_ROUND = [
    {**ANTHROPIC_TOOL_ROUND[0], "message": {**ANTHROPIC_TOOL_ROUND[0]["message"], "id": "msg_2"}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "It reads HELLO."}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 4}},
    {"type": "message_stop"},
]


async def test_anthropic_passthrough_main_model(make_client, fake):
    main = provider_config(fake, name="claude", models=["claude-x"], transformer={"use": ["Anthropic"]})
    main["api_base_url"] = str(fake.server.make_url("/v1/messages"))
    client = await make_client({
        "Providers": [main, provider_config(fake, models=["vision-m"])],
        "Router": {"default": "claude,claude-x", "image": "fake,vision-m"},
    })
    fake.queue(
        stream_reply(ANTHROPIC_TOOL_ROUND, done=False),
        json_reply(completion("HELLO")),
        stream_reply(ANTHROPIC_TEXT_ROUND, done=False),
    )
    response = await client.post("/v1/messages", json={
        "model": "claude-sonnet-4", "max_tokens": 100, "stream": True, "messages": EARLIER_IMAGE,
    })
    events = parse_sse_bytes(await response.read())
    check_stream(events)
    assert [(e["content_block"]["type"], e["index"]) for e in events if e["type"] == "content_block_start"] == [("thinking", 0), ("text", 1)]
    assert next(e for e in events if e["type"] == "message_delta")["usage"]["output_tokens"] == 11
    first, vision, second = fake.requests
    assert first.path == "/v1/messages" and first.body["model"] == "claude-x"
    assert first.body["messages"][0]["content"][1] == {"type": "text", "text": f"[Image #{ID}]"}
    assert first.body["tools"][-1]["name"] == "analyzeImage"
    assert vision.path == "/v1/chat/completions" and vision.body["model"] == "vision-m"
    assistant, results = second.body["messages"][-2:]
    assert assistant["content"][0] == {"type": "thinking", "thinking": "Need to look.", "signature": "sig-1"}
    assert assistant["content"][1] == {"type": "tool_use", "id": "toolu_1", "name": "analyzeImage", "input": {"imageId": [ID], "task": "OCR"}}
    assert results == {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "HELLO"}]}
