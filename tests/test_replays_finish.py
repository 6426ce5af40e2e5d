"""Real providers' recorded streams must still end as complete answers, and cut ones must not.

A stream that ends without the provider saying the answer is finished is now an error (issue 9),
so this replays every recorded stream of the shared corpus (what OpenAI, DeepSeek, OpenRouter,
Gemini, Responses, Groq, Mistral, Qwen and xAI really send: finish then late usage, no
`[DONE]`, `\\r\\n` framing...) through ccr-aio over HTTP, served in random pieces cut anywhere
(inside UTF-8 characters too), and checks each one ends as the provider meant: `message_stop`
for an answer, an `error` event for the three recordings that report an error mid-stream. The
same recordings cut before their finish must end in an error.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.stream_grammar import check_stream, parse_sse_bytes

REPLAYS = Path(__file__).resolve().parent / "data" / "replays"
CHAINS: dict[str, list[str]] = {
    "openai": [], "mistral": [], "deepseek": ["deepseek"], "openrouter": ["openrouter"], "groq": ["groq"],
    "xai": ["reasoning"], "qwen": ["reasoning"], "gemini": ["gemini"], "responses": ["openai-responses"],
}
# Recordings in which the provider itself reports an error mid-stream.
ERRORS = {"or-stream-error", "rs-failed-stream", "groq-midstream-error"}
# Where each dialect says "finished": a cut just before it must not pass for a whole answer.
FINISH_MARKS = {"gemini": b'"finishReason"', "responses": b'"response.completed"'}
USER = [{"role": "user", "content": "hi"}]


def recording(case: dict[str, Any]) -> bytes:
    """The bytes the provider sent. `chunks-framed` recordings hold one JSON chunk per line and
    are framed here as `data:` events, without a `[DONE]` (as the recording has none)."""
    data = (REPLAYS / case["body"]).read_bytes()
    if case.get("framing") != "chunks-framed":
        return data
    return b"".join(b"data: " + line + b"\n\n" for line in data.splitlines() if line.strip())


def stream_cases() -> list[dict[str, Any]]:
    manifest = json.loads((REPLAYS / "manifest.json").read_text())
    return [case for case in manifest["cases"] if case["kind"] == "stream"]


def pieces(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out, pos = [], 0
    while pos < len(data):
        step = rng.randint(1, 400)
        out.append(data[pos : pos + step])
        pos += step
    return out


class Replayer:
    """A provider that answers every POST with one recording, written in random pieces."""

    def __init__(self) -> None:
        self.body = b""
        self.content_type = "text/event-stream"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": self.content_type})
        await response.prepare(request)
        for piece in pieces(self.body, len(self.body)):
            await response.write(piece)
        await response.write_eof()
        return response


@pytest.fixture
async def replayer(aiohttp_server: Any) -> Replayer:
    fake = Replayer()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", fake.handle)
    fake.server = await aiohttp_server(app, host="127.0.0.1")  # type: ignore[attr-defined]
    return fake


async def start(make_client: Any, replayer: Replayer, dialect: str) -> Any:
    base = replayer.server.make_url("/v1beta" if dialect == "gemini" else "/v1/chat/completions")  # type: ignore[attr-defined]
    provider = {"name": "rec", "api_base_url": str(base), "api_key": "k", "models": ["m"],
                "transformer": {"use": CHAINS[dialect]}}
    return await make_client({"Providers": [provider], "Router": {"default": "rec,m"}})


def cut_before_finish(case: dict[str, Any], data: bytes) -> bytes:
    """The recording up to (not including) the event that finishes the answer."""
    mark = FINISH_MARKS.get(case["dialect"], b'"finish_reason":"')
    at = data.find(mark)
    assert at > 0, f"{case['id']}: no finish mark {mark!r}"
    return data[: data.rfind(b"\n", 0, at) + 1]


@pytest.mark.parametrize("case", stream_cases(), ids=lambda case: case["id"])
async def test_recorded_stream_ends_as_the_provider_meant(make_client: Any, replayer: Replayer, case: dict) -> None:
    client = await start(make_client, replayer, case["dialect"])
    replayer.body = recording(case)
    replayer.content_type = case["content_type"]
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 10, "messages": USER, "stream": True})
    assert response.status == 200
    events = parse_sse_bytes(await response.read())
    errored = case["id"] in ERRORS
    check_stream(events, complete=not errored)
    assert (events[-1]["type"] == "error") == errored, events[-1]
    # The same recording for a client that asked for JSON: folded into one whole answer.
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 10, "messages": USER})
    body = await response.json()
    assert (response.status != 200) == errored, body
    if not errored:
        assert body["type"] == "message" and body["stop_reason"] in ("end_turn", "max_tokens", "tool_use")


@pytest.mark.parametrize(
    "case", [c for c in stream_cases() if c["id"] not in ERRORS][::3], ids=lambda case: case["id"]
)
async def test_recorded_stream_cut_before_its_finish_is_an_error(make_client: Any, replayer: Replayer, case: dict) -> None:
    client = await start(make_client, replayer, case["dialect"])
    replayer.body = cut_before_finish(case, recording(case))
    replayer.content_type = case["content_type"]
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 10, "messages": USER, "stream": True})
    events = parse_sse_bytes(await response.read())
    if response.status == 200:
        check_stream(events, complete=False)
        assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "api_error"
    else:  # nothing came before the cut: an HTTP error instead of a stream
        assert response.status == 502
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 10, "messages": USER})
    assert response.status == 502
    assert (await response.json())["error"]["type"] == "api_error"
