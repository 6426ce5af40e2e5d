"""Random upstream chunk sequences must always convert into a well-formed Anthropic stream.

Claude Code breaks on a single malformed event, so beyond the spec's cases, every seeded random
mix of text, reasoning, parallel fragmented tool calls, annotations, usage, finish reasons and
errors — through each reasoning-family transformer too — is run through the grammar checker,
and the tool arguments that reach the client must be exactly what the provider sent.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from ccr_aio.transformers import BUILTINS
from ccr_aio.transformers.base import Context
from ccr_aio.transformers.endpoint.stream import unified_to_anthropic_stream
from tests.stream_grammar import check_stream


def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        out["usage"] = usage
    return out


def random_stream(rng: random.Random) -> tuple[list[dict], dict[str, str]]:
    """A plausible but messy upstream: returns the chunks and each tool's full arguments."""
    chunks: list[dict] = []
    tools: dict[int, dict[str, Any]] = {}
    for _ in range(rng.randint(0, 40)):
        kind = rng.choice(["text", "text", "reasoning", "thinking", "signature", "tool", "tool", "usage", "annot", "empty"])
        if kind == "text":
            chunks.append(chunk({"content": rng.choice(["a", "é🙂", " word", "\n"])}))
        elif kind == "reasoning":
            chunks.append(chunk({"reasoning_content": rng.choice(["hmm ", "so", "🙂"])}))
        elif kind == "thinking":
            chunks.append(chunk({"thinking": {"content": rng.choice(["t1 ", "t2"])}}))
        elif kind == "signature":
            chunks.append(chunk({"thinking": {"signature": f"sig{rng.randint(0, 9)}"}}))
        elif kind == "tool":
            index = rng.randint(0, 2)
            tool = tools.setdefault(index, {"args": json.dumps({"k": index, "v": "x" * rng.randint(0, 5)}), "sent": 0, "named": False})
            remaining = tool["args"][tool["sent"]:]
            piece = remaining[: rng.randint(0, len(remaining))] if remaining else ""
            tool["sent"] += len(piece)
            call: dict[str, Any] = {"index": index, "function": {"arguments": piece}}
            if not tool["named"] and rng.random() < 0.7:
                call.update(id=f"call_{index}", type="function")
                call["function"]["name"] = f"Tool{index}"
                tool["named"] = True
            chunks.append(chunk({"tool_calls": [call]}))
        elif kind == "usage":
            chunks.append({"id": "c", "model": "m", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 3}})
        elif kind == "annot":
            chunks.append(chunk({"annotations": [{"type": "url_citation", "url_citation": {"url": "https://a", "title": "A"}}]}))
        else:
            chunks.append(chunk({}))
    for index, tool in tools.items():  # finish every tool's arguments and name
        call = {"index": index, "function": {"arguments": tool["args"][tool["sent"]:]}}
        if not tool["named"]:
            call.update(id=f"call_{index}", type="function")
            call["function"]["name"] = f"Tool{index}"
        chunks.append(chunk({"tool_calls": [call]}))
    chunks.append(chunk({}, rng.choice(["stop", "tool_calls", "length", None]), {"prompt_tokens": 5, "completion_tokens": 2}))
    if rng.random() < 0.3:
        chunks.append({"id": "c", "model": "m", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 4}})
    return chunks, {f"call_{i}": t["args"] for i, t in tools.items()}


async def aiter(items: list[dict]):
    for item in items:
        yield item


async def convert(chunks: list[dict], chain: list[str]) -> list[dict]:
    ctx = Context(model="m", stream=True)
    stream: Any = aiter(chunks)
    for name in chain:
        stream = BUILTINS.create(name).stream_out(stream, ctx)
    return [event async for event in unified_to_anthropic_stream(stream, ctx)]


def tool_arguments(events: list[dict]) -> dict[str, str]:
    blocks: dict[int, dict[str, Any]] = {}
    for event in events:
        if event["type"] == "content_block_start" and event["content_block"]["type"] == "tool_use":
            blocks[event["index"]] = {"id": event["content_block"]["id"], "args": ""}
        elif event["type"] == "content_block_delta" and event["delta"]["type"] == "input_json_delta":
            blocks[event["index"]]["args"] += event["delta"]["partial_json"]
    return {b["id"]: b["args"] for b in blocks.values()}


@pytest.mark.parametrize("chain", [[], ["deepseek"], ["reasoning"], ["openrouter"], ["groq"], ["enhancetool"]])
@pytest.mark.parametrize("seed", range(60))
async def test_random_streams_are_well_formed(chain: list[str], seed: int) -> None:
    rng = random.Random(seed)
    chunks, expected_tools = random_stream(rng)
    events = await convert(chunks, chain)
    # A stream whose provider never gave a finish_reason was cut: it must end in an error.
    finished = any(c["choices"] and c["choices"][0]["finish_reason"] for c in chunks)
    check_stream(events, complete=finished)
    if not finished:
        assert events[-1]["type"] == "error"
    got = tool_arguments(events)
    if chain in ([], ["deepseek"], ["reasoning"]):  # these never touch ids or arguments
        assert got == expected_tools
    for args in got.values():
        assert isinstance(json.loads(args or "{}"), dict)
