"""A provider cannot make ccr-aio hold or echo unbounded data (issue 9), over real HTTP.

An SSE line that never ends, a huge JSON answer or Anthropic event, and a huge error page each
end in a clear error naming the provider: a 502 before the first byte, an SSE `error` event
after it. The line splitter stays linear however the line is cut into reads.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from ccr_aio.config import parse_config
from ccr_aio.errors import ApiError
from ccr_aio.pipeline.sse import iter_lines
from tests.conftest import base_config
from tests.fakes.openai_upstream import FakeUpstream, Reply, chunk, completion, json_reply, text_chunks
from tests.stream_grammar import check_stream, parse_sse_bytes
from tests.test_upstream_e2e import anthropic_provider

USER = [{"role": "user", "content": "hi"}]
MIB = 1024 * 1024
STREAM = {"model": "m", "max_tokens": 10, "messages": USER, "stream": True}


def endless_line(size: int, piece: int = 256 * 1024) -> list[bytes]:
    return [b'data: {"choices":[{"delta":{"content":"'] + [b"x" * piece] * (size // piece)


async def test_endless_sse_line_before_any_output_is_a_502_naming_the_provider(make_client: Any, fake: FakeUpstream) -> None:
    client = await make_client(base_config(fake))  # the default bound: 16 MB
    fake.queue(Reply(chunks=[], chunk_bytes=endless_line(20 * MIB), done=False))
    response = await client.post("/v1/messages", json=STREAM)
    assert response.status == 502
    error = (await response.json())["error"]
    assert error["type"] == "api_error"
    assert error["message"] == (
        f"Provider fake,fake-model sent more than {16 * MIB} bytes without ending a line or event: "
        "the answer was abandoned"
    )
    fake.queue(Reply(chunks=[], chunk_bytes=endless_line(20 * MIB), done=False))
    response = await client.post("/v1/messages", json={**STREAM, "stream": False})  # the folded answer too
    assert response.status == 502 and "fake,fake-model" in (await response.json())["error"]["message"]


async def test_endless_sse_line_after_output_is_an_error_event(make_client: Any, fake: FakeUpstream) -> None:
    client = await make_client(base_config(fake, UPSTREAM_LINE_MAX_MB=1))
    first = text_chunks(["Hello"])[:2]
    fake.queue(Reply(chunks=first + [b"".join(endless_line(2 * MIB, 64 * 1024))], done=False))
    response = await client.post("/v1/messages", json=STREAM)
    assert response.status == 200
    events = parse_sse_bytes(await response.read())
    check_stream(events, complete=False)
    assert events[-1]["type"] == "error"
    assert f"Provider fake,fake-model sent more than {MIB} bytes" in events[-1]["error"]["message"]
    # Under the bound, a long line is just a long line.
    fake.queue(Reply(chunks=[chunk({"content": "y" * (MIB // 2)}), chunk({}, "stop")], done=False))
    response = await client.post("/v1/messages", json=STREAM)
    events = parse_sse_bytes(await response.read())
    check_stream(events)
    assert events[2]["delta"]["text"] == "y" * (MIB // 2)


async def test_huge_json_answer_is_refused(make_client: Any, fake: FakeUpstream) -> None:
    client = await make_client(base_config(fake, UPSTREAM_LINE_MAX_MB=1))
    fake.queue(json_reply(completion("z" * 2 * MIB)))
    response = await client.post("/v1/messages", json={**STREAM, "stream": False})
    assert response.status == 502
    assert (await response.json())["error"]["message"] == (
        f"Provider fake,fake-model sent an answer over {MIB} bytes: the answer was abandoned"
    )


async def test_huge_passthrough_event_is_refused(make_client: Any, fake: FakeUpstream) -> None:
    config = anthropic_provider(fake, ["Anthropic"])
    client = await make_client({**config, "UPSTREAM_LINE_MAX_MB": 1})
    start = b'event: message_start\ndata: {"type":"message_start","message":{"id":"m"}}\n\n'
    fake.queue(Reply(chunks=[], chunk_bytes=[start, b"event: content_block_delta\ndata: " + b"q" * 2 * MIB], done=False))
    response = await client.post("/v1/messages", json=STREAM)
    data = await response.read()
    assert data.startswith(start)
    error = parse_sse_bytes(data)[-1]
    assert error["type"] == "error" and "Provider claude,claude-x sent more than" in error["error"]["message"]


@pytest.mark.parametrize("stream", [True, False])
async def test_huge_error_page_is_cut_to_64_kb(make_client: Any, fake: FakeUpstream, stream: bool) -> None:
    client = await make_client(base_config(fake))
    page = "<html>" + "é" * (10 * MIB)  # 20 MB, and a multi-byte character at the cut
    fake.queue(Reply(status=500, text_body=page))
    response = await client.post("/v1/messages", json={**STREAM, "stream": stream})
    assert response.status == 500
    message = (await response.json())["error"]["message"]
    assert message.startswith("Error from provider(fake,fake-model: 500): <html>éé")
    assert message.endswith("…(truncated)")
    assert len(message.encode()) < 64 * 1024 + 200


async def test_error_page_bound_is_configurable_and_short_pages_stay_whole(make_client: Any, fake: FakeUpstream) -> None:
    client = await make_client(base_config(fake, UPSTREAM_ERROR_MAX_KB=1))
    fake.queue(Reply(status=429, text_body="slow down " * 200), Reply(status=429, text_body="slow down"))
    first = (await (await client.post("/v1/messages", json=STREAM)).json())["error"]["message"]
    assert first.endswith("…(truncated)") and len(first) < 1024 + 100
    second = (await (await client.post("/v1/messages", json=STREAM)).json())["error"]["message"]
    assert second == "Error from provider(fake,fake-model: 429): slow down"


async def test_line_splitting_is_linear_however_the_line_is_cut() -> None:
    """64 MB without a newline in 16 KB reads: the old splitter re-scanned everything held on
    every read (minutes); this one touches each byte a bounded number of times."""
    piece = b"d" * (16 * 1024)

    async def reads() -> Any:
        for _ in range(4096):
            yield piece
        yield b"\ntail"

    started = time.process_time()
    lines = [len(line) async for line in iter_lines(reads(), max_line=128 * MIB)]
    assert lines == [64 * MIB, 4]
    assert time.process_time() - started < 5.0

    async def too_much() -> Any:
        while True:
            yield piece

    with pytest.raises(ApiError) as info:
        async for _ in iter_lines(too_much(), max_line=MIB, source="Provider p,m"):
            pass
    assert info.value.status == 502 and info.value.message.startswith(f"Provider p,m sent more than {MIB} bytes")


def test_limits_are_checked_with_the_config() -> None:
    parsed = parse_config({"UPSTREAM_LINE_MAX_MB": 0, "UPSTREAM_ERROR_MAX_KB": "$NOT_SET", "BODY_BUDGET_MB": 0.5})
    # Like every server limit, a bad one does not stop a start (the default applies and the
    # problem is logged), while a save refuses it.
    assert parsed.value is not None and not any(p.blocks for p in parsed.problems)
    assert [str(p) for p in parsed.problems] == [
        "UPSTREAM_LINE_MAX_MB must be a positive number, got 0; using the default 16",
        "UPSTREAM_ERROR_MAX_KB must be a positive number, got a string; using the default 64",
    ]
    assert (parsed.value.limits.upstream_line, parsed.value.limits.upstream_error) == (16 * MIB, 64 * 1024)
    limits = parse_config({"BODY_BUDGET_MB": 0.5, "BODY_BUDGET_WAIT_MS": 0}).value.limits  # type: ignore[union-attr]
    assert (limits.body_budget, limits.body_wait, limits.upstream_line) == (MIB // 2, 0, 16 * MIB)
