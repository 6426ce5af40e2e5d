"""Real provider answers replayed through ccr-aio to the official Anthropic SDK.

tests/data/replays/ holds 59 answers recorded from real providers (its README and manifest.json
say where each comes from). For every case, in stream and non-stream mode, a fake provider on
127.0.0.1 serves the recorded bytes with the recorded status and content type, cut into pieces
of random size (seeded; cuts fall anywhere, also inside UTF-8 characters), behind the
transformer chain of the case's dialect. The client must get a valid event stream (or message)
whose content equals what the provider said, as `replay_reference` reads it from the same bytes.
Gemini tool calls that carried a thoughtSignature are also sent back as history, and the next
Gemini request must carry each signature on its functionCall part again.
"""

from __future__ import annotations

import json
import random
from functools import cache
from pathlib import Path
from typing import Any

import anthropic
import pytest
from aiohttp import web

from tests.conftest import sdk
from tests.replay_reference import Expected, expected, payloads
from tests.stream_grammar import check_stream

DATA = Path(__file__).resolve().parent / "data" / "replays"
CASES = json.loads((DATA / "manifest.json").read_text())["cases"]
# The transformer chain a provider speaking each dialect is configured with.
CHAINS = {
    "openai": [],
    "mistral": [],
    "deepseek": ["deepseek"],
    "openrouter": ["openrouter"],
    "groq": ["groq"],
    "xai": ["reasoning"],
    "qwen": ["reasoning"],
    "gemini": ["gemini"],
    "responses": ["openai-responses"],
}
PATHS = {"gemini": "v1beta", "responses": "v1/responses"}  # the rest: v1/chat/completions
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 429: "rate_limit_error", 500: "api_error"}
USER = [{"role": "user", "content": "Replay the recorded answer."}]


def body_of(case: dict[str, Any]) -> bytes:
    return _served_bytes(case["body"], case["framing"])


@cache
def _served_bytes(name: str, framing: str) -> bytes:
    """The bytes a provider sent. Chunk files keep one recorded chunk per line, as the source
    repository stores them; its tests serve each as a `data:` event, and so does this one."""
    raw = (DATA / name).read_bytes()
    if framing != "chunks-framed":
        return raw
    return b"".join(b"data: " + line + b"\n\n" for line in raw.splitlines() if line.strip())


def cut(body: bytes, rng: random.Random) -> list[bytes]:
    """About a hundred pieces of random size, plus cuts inside up to 20 multi-byte characters
    (before a UTF-8 continuation byte)."""
    step = max(2, len(body) // 100)
    cuts, pos = set(), 0
    while pos < len(body):
        pos += rng.randint(1, 2 * step - 1)
        cuts.add(pos)
    inside = [i for i, byte in enumerate(body) if 0x80 <= byte < 0xC0]
    cuts.update(rng.sample(inside, min(len(inside), 20)))
    points = sorted(c for c in cuts if 0 < c < len(body))
    return [body[a:b] for a, b in zip([0, *points], [*points, len(body)])]


def recorded_model(case: dict[str, Any]) -> str:
    return _recorded_model(case["id"])


@cache
def _recorded_model(case_id: str) -> str:
    """The model the recording names (it steers dialect details such as Gemini 3's)."""
    case = next(c for c in CASES if c["id"] == case_id)
    for _, payload in payloads(case, body_of(case)):
        if isinstance(payload, dict):
            model = payload.get("model") or payload.get("modelVersion") or (payload.get("response") or {}).get("model")
            if model:
                return model
    return "recorded-model"


def test_pieces_cut_anywhere_even_inside_characters() -> None:
    body = "Grüße, 世界! ".encode() * 40
    pieces = cut(body, random.Random(1))
    assert b"".join(pieces) == body and len(pieces) > 50
    split_characters = 0
    for piece in pieces[:-1]:
        try:
            piece.decode()
        except UnicodeDecodeError:
            split_characters += 1
    assert split_characters >= 10


class ReplayProvider:
    """Serves `/<case id>/...` with that case's recorded answer; records request bodies."""

    def __init__(self) -> None:
        self.seed = ""
        self.requests: list[Any] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{case}/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        case = next(c for c in CASES if c["id"] == request.match_info["case"])
        self.requests.append(await request.json())
        response = web.StreamResponse(status=case["status"], headers={"Content-Type": case["content_type"]})
        await response.prepare(request)
        for piece in cut(body_of(case), random.Random(f"{case['id']}/{self.seed}")):
            await response.write(piece)
        await response.write_eof()
        return response


@pytest.fixture
async def replay(aiohttp_server: Any, make_client: Any) -> tuple[ReplayProvider, Any]:
    provider = ReplayProvider()
    server = await aiohttp_server(provider.app(), host="127.0.0.1")
    providers = [
        {
            "name": case["id"],
            "api_base_url": str(server.make_url(f"/{case['id']}/{PATHS.get(case['dialect'], 'v1/chat/completions')}")),
            "api_key": "replay-key",
            "models": [recorded_model(case)],
            "transformer": {"use": CHAINS[case["dialect"]]},
        }
        for case in CASES
    ]
    first = providers[0]
    config = {"Providers": providers, "Router": {"default": f"{first['name']},{first['models'][0]}"}}
    return provider, await make_client(config)


async def ask(api: anthropic.AsyncAnthropic, model: str, stream: bool, messages: list[Any] = USER) -> dict[str, Any]:
    """One request; what the client got: `blocks`, `stop_reason`, `usage`, or `error`."""
    request = {"model": model, "max_tokens": 4096, "messages": messages, "thinking": {"type": "adaptive"}}
    events: list[dict[str, Any]] = []
    try:
        if not stream:
            message = (await api.messages.create(**request)).model_dump()
            return {"blocks": message["content"], "stop_reason": message["stop_reason"], "usage": message["usage"]}
        async for event in await api.messages.create(**request, stream=True):
            events.append(event.model_dump())
    except anthropic.APIStatusError as exc:
        if events:  # an error event after the stream started
            events.append({"type": "error", "error": exc.body["error"]})
            check_stream(events, complete=False)
        return {"error": exc, "events": events}
    check_stream(events)
    return {**fold(events), "events": events}


def fold(events: list[dict[str, Any]]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    result: dict[str, Any] = {"blocks": blocks}
    for event in events:
        if event["type"] == "content_block_start":
            blocks.append({**event["content_block"], "json": ""})
        elif event["type"] == "content_block_delta":
            delta, block = event["delta"], blocks[-1]
            for key, target in (("text", "text"), ("thinking", "thinking"), ("partial_json", "json")):
                if delta.get(key) is not None:
                    block[target] = (block.get(target) or "") + delta[key]
            if delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
        elif event["type"] == "message_delta":
            result.update(stop_reason=event["delta"]["stop_reason"], usage=event["usage"])
    for block in blocks:
        if block["type"] == "tool_use" and block["json"]:
            block["input"] = json.loads(block["json"])
    return result


def check_content(got: dict[str, Any], want: Expected) -> None:
    blocks = got["blocks"]
    kinds = [b["type"] for b in blocks]
    assert "thinking" not in kinds[next((i for i, k in enumerate(kinds) if k != "thinking"), len(kinds)):], kinds
    assert "".join(b["thinking"] for b in blocks if b["type"] == "thinking") == want.thinking
    assert "".join(b["text"] for b in blocks if b["type"] == "text") == want.text
    assert [(b["name"], b["input"]) for b in blocks if b["type"] == "tool_use"] == want.tools
    ids = [b["id"] for b in blocks if b["type"] == "tool_use"]
    assert all(ids) and len(set(ids)) == len(ids)
    assert got["stop_reason"] == want.stop_reason
    usage = {key: got["usage"].get(key) or 0 for key in want.usage}
    assert usage == want.usage


def check_error(got: dict[str, Any], want: Expected, stream: bool) -> None:
    assert "error" in got, f"the client got an answer instead of the error {want.error_message!r}"
    error = got["error"]
    message = error.body["error"]["message"]
    # The provider's words, as it wrote them: inside its JSON body they may be escaped.
    wordings = (want.error_message, json.dumps(want.error_message)[1:-1], json.dumps(want.error_message, ensure_ascii=False)[1:-1])
    assert any(wording in message for wording in wordings), (want.error_message, message)
    if stream and got["events"]:  # the stream had started: the error event names the kind
        assert error.body["error"]["type"] == ERROR_TYPES[want.error_status]
    else:
        assert error.status_code == want.error_status


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
async def test_replay(case: dict[str, Any], stream: bool, replay: tuple[ReplayProvider, Any]) -> None:
    provider, client = replay
    provider.seed = "stream" if stream else "json"
    body = body_of(case)
    want = expected(case, body)
    model = f"{case['id']},{recorded_model(case)}"
    api = sdk(client)
    got = await ask(api, model, stream)
    if want.error_status is not None:
        check_error(got, want, stream)
        return
    assert "error" not in got, got["error"]
    check_content(got, want)
    if want.signed_calls:
        await check_signature_round_trip(api, model, stream, got, want, provider)


async def check_signature_round_trip(
    api: anthropic.AsyncAnthropic, model: str, stream: bool, got: dict[str, Any], want: Expected, provider: ReplayProvider
) -> None:
    """Claude Code sends the answer back as history (tool results in completion order, i.e.
    reversed here): each functionCall must carry its own signature again, nothing else one."""
    blocks = [{k: v for k, v in b.items() if k != "json" and v is not None} for b in got["blocks"]]
    uses = [b for b in blocks if b["type"] == "tool_use"]
    results = [{"type": "tool_result", "tool_use_id": b["id"], "content": f"result {n}"} for n, b in enumerate(uses)]
    history = [*USER, {"role": "assistant", "content": blocks}, {"role": "user", "content": results[::-1]}]
    await ask(api, model, stream, history)
    contents = provider.requests[-1]["contents"]
    calls = [p for p in contents[1]["parts"] if "functionCall" in p]
    assert [p["functionCall"]["name"] for p in calls] == [name for name, _ in want.tools]
    assert {n: p["thoughtSignature"] for n, p in enumerate(calls) if "thoughtSignature" in p} == want.signed_calls
    answers = [p["functionResponse"] for p in contents[2]["parts"]]
    assert [a["response"]["result"] for a in answers] == [f"result {n}" for n in range(len(uses))]
