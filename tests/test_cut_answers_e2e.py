"""An answer the provider did not finish never reaches the client as a complete one (issue 9).

Each provider dialect over real HTTP, with the official SDK as client: the stream ends cleanly
(no dropped connection) but without the provider's own "finished" signal — OpenAI chat's
`finish_reason`, Gemini's `finishReason`, Responses' `response.completed`, Anthropic's
`message_stop` — or with nothing at all. The SDK must raise, for streaming and JSON clients,
and the same answer with its finish must still come back whole.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.conftest import base_config, sdk
from tests.fakes.gemini_upstream import FakeGemini, GeminiReply, part_chunk
from tests.fakes.openai_upstream import FakeUpstream, Reply, chunk, stream_reply, usage_chunk
from tests.fakes.responses_upstream import (
    ResponsesReply,
    ResponsesUpstream,
    message_item,
    response_object,
    stream_events,
)
from tests.stream_grammar import check_stream, parse_sse_bytes
from tests.test_upstream_e2e import ANTHROPIC_SSE, anthropic_provider

USER = [{"role": "user", "content": "hi"}]
CUT = "ended the stream before the answer was finished"


async def final_message(client: Any) -> anthropic.types.Message:
    async with sdk(client).messages.stream(model="m", max_tokens=10, messages=USER) as stream:
        return await stream.get_final_message()


async def assert_sdk_raises(client: Any, provider: str) -> None:
    for call in (final_message(client), sdk(client).messages.create(model="m", max_tokens=10, messages=USER)):
        with pytest.raises(anthropic.APIStatusError) as info:
            await call
        assert CUT in str(info.value) and provider in str(info.value)


# -- OpenAI chat ---------------------------------------------------------------------------------

OPENAI_CUTS = {
    "text-no-finish-no-done": [chunk({"role": "assistant", "content": "Hal"}), chunk({"content": "f an answ"})],
    "usage-but-no-finish": [chunk({"content": "Half"}), usage_chunk(3, 1)],
    "tool-call-no-finish": [chunk({"tool_calls": [{"index": 0, "id": "c", "type": "function",
                                                    "function": {"name": "Bash", "arguments": '{"command":"ls"}'}}]})],
    "nothing-at-all": [],
}


@pytest.mark.parametrize("chunks", OPENAI_CUTS.values(), ids=OPENAI_CUTS.keys())
async def test_openai_stream_without_finish_reason_is_an_error(make_client: Any, fake: FakeUpstream, chunks: list) -> None:
    client = await make_client(base_config(fake))
    fake.default = stream_reply(chunks, done=False)
    await assert_sdk_raises(client, "fake,fake-model")
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 10, "messages": USER, "stream": True})
    if chunks:  # something was converted before the end: a 200 stream that ends in an error event
        events = parse_sse_bytes(await response.read())
        check_stream(events, complete=False)
        assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "api_error"
    else:  # nothing came: the client gets an HTTP error instead of an empty "answer"
        assert response.status == 502
        assert CUT in (await response.json())["error"]["message"]


async def test_openai_finish_without_done_is_complete(make_client: Any, fake: FakeUpstream) -> None:
    client = await make_client(base_config(fake))
    fake.default = stream_reply([chunk({"content": "Whole"}), chunk({}, "stop"), usage_chunk(3, 1)], done=False)
    message = await final_message(client)
    assert message.content[0].text == "Whole" and message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 1


# -- Gemini --------------------------------------------------------------------------------------


def gemini_config(fake: FakeGemini) -> dict[str, Any]:
    provider = {"name": "gem", "api_base_url": str(fake.server.make_url("/v1beta")),  # type: ignore[attr-defined]
                "api_key": "gm-key", "models": ["gemini-2.5-pro"], "transformer": {"use": ["gemini"]}}
    return {"Providers": [provider], "Router": {"default": "gem,gemini-2.5-pro"}}


@pytest.fixture
async def gemini(aiohttp_server: Any) -> FakeGemini:
    fake = FakeGemini(api_key="gm-key")
    fake.server = await aiohttp_server(fake.app(), host="127.0.0.1")  # type: ignore[attr-defined]
    return fake


async def test_gemini_stream_without_finish_reason_is_an_error(make_client: Any, gemini: FakeGemini) -> None:
    client = await make_client(gemini_config(gemini))
    cut = GeminiReply(chunks=[part_chunk([{"text": "Half an"}]), part_chunk([{"text": " answer"}], usage=(3, 2, 0))])
    gemini.queue(cut)  # (a JSON client gets generateContent's whole JSON answer, not a stream)
    with pytest.raises(anthropic.APIStatusError) as info:
        await final_message(client)
    assert CUT in str(info.value) and "gem,gemini-2.5-pro" in str(info.value)
    gemini.queue(GeminiReply(chunks=[part_chunk([{"text": "Whole"}]), part_chunk([{"text": "!"}], finish="STOP")]))
    message = await final_message(client)
    assert message.content[0].text == "Whole!" and message.stop_reason == "end_turn"


# -- OpenAI Responses ----------------------------------------------------------------------------


@pytest.fixture
async def responses(aiohttp_server: Any) -> ResponsesUpstream:
    upstream = ResponsesUpstream()
    server = await aiohttp_server(upstream.app(), host="127.0.0.1")
    upstream.url = str(server.make_url("/v1/responses"))
    return upstream


async def test_responses_stream_without_completed_is_an_error(make_client: Any, responses: ResponsesUpstream) -> None:
    provider = {"name": "resp", "api_base_url": responses.url, "api_key": "k", "models": ["gpt-x"],
                "transformer": {"use": ["openai-responses"]}}
    client = await make_client({"Providers": [provider], "Router": {"default": "resp,gpt-x"}})
    events = stream_events(response_object([message_item("Half an answer")]))
    assert events[-1]["type"] == "response.completed"
    responses.queue(ResponsesReply(events=events[:-1]), ResponsesReply(events=events[:-1]))
    for call in (final_message(client), sdk(client).messages.create(model="m", max_tokens=10, messages=USER)):
        with pytest.raises(anthropic.APIStatusError) as info:
            await call
        assert "response.completed" in str(info.value)
    responses.queue(ResponsesReply(events=events))
    assert (await final_message(client)).content[0].text == "Half an answer"


# -- Anthropic passthrough (bytes relayed untouched) ----------------------------------------------


async def test_passthrough_stream_without_message_stop_gets_an_error_event(make_client: Any, fake: FakeUpstream) -> None:
    client = await make_client(anthropic_provider(fake, ["Anthropic"]))
    cut_at = ANTHROPIC_SSE.index(b"event: message_delta")
    for cut in (ANTHROPIC_SSE[:cut_at], ANTHROPIC_SSE[: cut_at + 30]):  # between events, and mid-event
        fake.queue(Reply(chunks=[], chunk_bytes=[cut[:50], cut[50:]], done=False))
        with pytest.raises(anthropic.APIStatusError) as info:
            await final_message(client)
        assert CUT in str(info.value) and "claude,claude-x" in str(info.value)
    fake.queue(Reply(chunks=[], chunk_bytes=[ANTHROPIC_SSE[:cut_at]], done=False))
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER, "stream": True})
    data = await response.read()
    assert data.startswith(ANTHROPIC_SSE[:cut_at])  # what came is relayed byte for byte, then the error
    events = parse_sse_bytes(data)
    check_stream(events, complete=False)
    assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "api_error"


@pytest.mark.parametrize("split", [1, 7, 64])
async def test_passthrough_complete_stream_is_untouched_however_it_is_split(
    make_client: Any, fake: FakeUpstream, split: int
) -> None:
    client = await make_client(anthropic_provider(fake, ["Anthropic"]))
    pieces = [ANTHROPIC_SSE[i : i + split] for i in range(0, len(ANTHROPIC_SSE), split)]
    fake.queue(Reply(chunks=[], chunk_bytes=pieces, done=False))
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER, "stream": True})
    assert await response.read() == ANTHROPIC_SSE


async def test_passthrough_own_error_event_is_not_doubled(make_client: Any, fake: FakeUpstream) -> None:
    client = await make_client(anthropic_provider(fake, ["Anthropic"]))
    own = ANTHROPIC_SSE[: ANTHROPIC_SSE.index(b"event: content_block_start")] + (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    fake.queue(Reply(chunks=[], chunk_bytes=[own], done=False))
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER, "stream": True})
    assert await response.read() == own
