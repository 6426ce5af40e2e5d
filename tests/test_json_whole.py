"""`ObjectEnd`: a streamed JSON object is whole exactly when parsing it would succeed, found in
time linear in its length (a full parse per fragment made a 2 MB tool call take 38 s of CPU)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator

import pytest

from ccr_aio.transformers.base import Context
from ccr_aio.transformers.endpoint.stream import unified_to_anthropic_stream
from ccr_aio.transformers.shared.json_whole import ObjectEnd

SAMPLES = [
    '{"a": 1}',
    '  {"path": "/x}{", "s": "quote \\" brace } \\\\", "n": [1, {"b": []}]}  ',
    '{"u": "\\u00e9\\ud83d\\ude00", "t": "}"}',
    '{"a": 1}}',  # a brace too many
    '{"a": 1} {"b": 2}',  # two objects
    '[1, 2]',  # not an object
    'x{"a": 1}',
    '{"a": [1, 2}',  # mismatched
    '{"a": "unterminated}',
    "",
    "   ",
    '{}',
]


def whole_after(pieces: list[str]) -> list[bool]:
    end, seen, out = ObjectEnd(), [], []
    for piece in pieces:
        seen.append(piece)
        end.feed(piece)
        out.append(end.whole(lambda: "".join(seen), json.loads))
    return out


def parses(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


@pytest.mark.parametrize("text", SAMPLES)
def test_whole_exactly_when_the_text_so_far_parses(text: str) -> None:
    rng = random.Random(text)
    for _ in range(30):
        cuts = sorted(rng.sample(range(len(text) + 1), min(len(text) + 1, rng.randint(0, 6))))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
        expected = [parses("".join(pieces[: i + 1])) for i in range(len(pieces))]
        assert whole_after(pieces) == expected, pieces


async def test_a_2mb_tool_call_of_code_converts_in_linear_time() -> None:
    code = "function f(a) { return {x: a}; }\n" * 60_000  # many fragments end in "}"
    args = json.dumps({"file_path": "/a.js", "content": code})

    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    async def chunks() -> AsyncIterator[dict]:
        yield chunk({"tool_calls": [{"index": 0, "id": "t", "type": "function", "function": {"name": "Write"}}]})
        for at in range(0, len(args), 6):
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[at : at + 6]}}]})
        yield chunk({"content": "done"})  # text while the tool's block is open: checks it is whole
        yield chunk({}, "tool_calls")

    started = time.process_time()
    events = [event async for event in unified_to_anthropic_stream(chunks(), Context())]
    assert time.process_time() - started < 8.0  # was 38 s
    sent = "".join(e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta"
                   and e["delta"]["type"] == "input_json_delta")
    assert sent == args and events[-1] == {"type": "message_stop"}
