"""deepseek and reasoning: transformers.md §5.5 DS1–DS3, RS1–RS3 with the [FIX] expectations.

Streams are lists of upstream chunks through `stream_out`; each is also chained with the
Anthropic stream converter and checked against the stream grammar. The helpers here are shared
by the other reasoning-transformer test files.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import AsyncIterator
from typing import Any

from ccr_aio.providers import Provider
from ccr_aio.transformers import BUILTINS
from ccr_aio.transformers.base import Context, Transformer
from ccr_aio.transformers.endpoint.response import unified_to_anthropic_message
from ccr_aio.transformers.endpoint.stream import unified_to_anthropic_stream
from tests.stream_grammar import check_stream

PROVIDER = Provider(name="p", api_base_url="http://127.0.0.1:1/v1/chat/completions", api_key="sk-test")


class PinnedContext(Context):
    """Ids from per-context counters: `ccr_1`, `ccr_2`…, uuids `u1`, `u2`…"""

    def new_id(self, prefix: str) -> str:
        ids = self.extra.setdefault("ids", itertools.count(1))
        return f"{prefix}{next(ids)}"


def make_ctx() -> Context:
    uuids = itertools.count(1)
    return PinnedContext(now_ms=lambda: 1_700_000_000_000, new_uuid=lambda: f"u{next(uuids)}")


def make(name: str, options: dict | None = None) -> Transformer:
    return BUILTINS.create(name, options)


def C(delta: dict, fr: str | None = None, usage: dict | None = None, **choice_extra: Any) -> dict:
    chunk: dict[str, Any] = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": fr, **choice_extra}]
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def usage(p: int, c: int) -> dict:
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def U(p: int, c: int) -> dict:
    return {"id": "c1", "object": "chat.completion.chunk", "model": "m", "choices": [], "usage": usage(p, c)}


def TC(index: int = 0, id: str | None = None, name: str | None = None, args: str | None = None) -> dict:
    call: dict[str, Any] = {"index": index, "function": {}}
    if id is not None:
        call["id"], call["type"] = id, "function"
    if name is not None:
        call["function"]["name"] = name
    if args is not None:
        call["function"]["arguments"] = args
    return call


def completion(message: dict, finish: str = "stop") -> dict:
    return {
        "id": "x",
        "object": "chat.completion",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        "usage": usage(12, 3),
    }


async def aiter(items: list[dict]) -> AsyncIterator[dict]:
    for item in items:
        yield item


async def collect(items: AsyncIterator[dict]) -> list[dict]:
    return [item async for item in items]


async def stream(transformer: Transformer, chunks: list[dict], ctx: Context | None = None) -> list[dict]:
    """`stream_out` over `chunks`; the input chunks must come out unmutated, and the output
    must make a grammatical Anthropic stream."""
    before = copy.deepcopy(chunks)
    out = await collect(transformer.stream_out(aiter(chunks), ctx or make_ctx()))
    assert chunks == before, "stream_out mutated its input"
    # Whatever a transformer emits must convert into a valid Anthropic stream; one that never
    # gives a finish_reason (or that errs) is a cut answer and must not look complete.
    await anthropic_events(out, complete=finished(out))
    return out


def finished(chunks: list[dict]) -> bool:
    """The unified chunks say the answer is complete: a finish_reason and no error."""
    if any("error" in c for c in chunks):
        return False
    return any(c.get("choices") and c["choices"][0].get("finish_reason") for c in chunks)


def view(chunk: dict) -> dict:
    """A chunk reduced to what consumers read: delta keys, finish, usage, error."""
    if "error" in chunk:
        return {"error": chunk["error"]}
    out: dict[str, Any] = {}
    if chunk.get("choices"):
        choice = chunk["choices"][0]
        out.update({k: v for k, v in (choice.get("delta") or {}).items() if v is not None})
        if choice.get("finish_reason"):
            out["finish"] = choice["finish_reason"]
    if chunk.get("usage"):
        out["usage"] = chunk["usage"]
    return out


async def anthropic_events(unified: list[dict], complete: bool = True) -> list[dict]:
    events = await collect(unified_to_anthropic_stream(aiter(unified), make_ctx()))
    check_stream(events, complete=complete)
    return events


async def chained(transformer: Transformer, chunks: list[dict], complete: bool = True) -> list[dict]:
    """stream_out, then the Anthropic converter, checked by the grammar."""
    return await anthropic_events(await stream(transformer, chunks), complete)


def blocks(events: list[dict]) -> list[tuple[str, str, str | None]]:
    """(block type, concatenated delta text, signature) per content block."""
    out: list[list[Any]] = []
    for e in events:
        if e["type"] == "content_block_start":
            out.append([e["content_block"]["type"], "", None])
        elif e["type"] == "content_block_delta":
            d = e["delta"]
            if d["type"] == "signature_delta":
                out[-1][2] = d["signature"]
            else:
                out[-1][1] += d.get("text") or d.get("thinking") or d.get("partial_json") or ""
    return [tuple(b) for b in out]


def end_of(events: list[dict]) -> tuple[str, int, int]:
    delta = next(e for e in events if e["type"] == "message_delta")
    return delta["delta"]["stop_reason"], delta["usage"]["input_tokens"], delta["usage"]["output_tokens"]


def SIG(sig: str = "ccr_1") -> dict:
    return {"thinking": {"signature": sig}}


def TH(text: str) -> dict:
    return {"thinking": {"content": text}}


# -- deepseek -------------------------------------------------------------------------------

HISTORY = [
    {"role": "user", "content": "q"},
    {"role": "assistant", "content": "a", "thinking": {"content": "why", "signature": "sig-from-anthropic"}},
    {"role": "assistant", "content": "", "tool_calls": [], "thinking": {"content": "", "signature": "s"}},
    {"role": "user", "content": "next"},
]


async def test_ds1_max_tokens_capped():
    ds = make("deepseek")
    assert (await ds.request_in({"messages": [], "max_tokens": 32000}, PROVIDER, make_ctx()))["max_tokens"] == 8192
    assert (await ds.request_in({"messages": [], "max_tokens": 100}, PROVIDER, make_ctx()))["max_tokens"] == 100
    assert "max_tokens" not in await ds.request_in({"messages": []}, PROVIDER, make_ctx())


async def test_ds_replays_reasoning_content_and_drops_thinking():
    request = {"messages": copy.deepcopy(HISTORY), "model": "deepseek-reasoner"}
    before = copy.deepcopy(request)
    out = await make("deepseek").request_in(request, PROVIDER, make_ctx())
    assert request == before  # the input is not mutated
    assert out["messages"][1] == {"role": "assistant", "content": "a", "reasoning_content": "why"}
    # deepseek-reasoner is in thinking mode: every assistant turn must carry the field.
    assert out["messages"][2] == {"role": "assistant", "content": "", "tool_calls": [], "reasoning_content": ""}
    assert out["messages"][0] == HISTORY[0] and out["messages"][3] == HISTORY[3]
    assert not any("thinking" in m for m in out["messages"])  # foreign signatures never go upstream


async def test_ds_placeholder_only_in_thinking_mode():
    other_model = {"role": "assistant", "content": "from another model"}
    messages = [{"role": "user", "content": "q"}, other_model, {"role": "user", "content": "q2"}]
    chat = await make("deepseek").request_in({"model": "deepseek-chat", "messages": messages}, PROVIDER, make_ctx())
    assert chat["messages"][1] == other_model
    thinking = {"model": "deepseek-chat", "messages": messages, "reasoning": {"effort": "medium", "enabled": True}}
    out = await make("deepseek").request_in(thinking, PROVIDER, make_ctx())
    assert out["messages"][1] == {**other_model, "reasoning_content": ""}
    assert other_model == {"role": "assistant", "content": "from another model"}


async def test_ds2_stream_sequence():
    chunks = [
        C({"role": "assistant", "content": None, "reasoning_content": "think1"}),
        C({"content": None, "reasoning_content": " think2"}),
        C({"content": "Ans", "reasoning_content": None}),
        C({"content": "wer"}),
        C({"content": ""}, "stop", usage(9, 3)),
    ]
    out = [view(c) for c in await stream(make("deepseek"), chunks)]
    assert out == [
        {"role": "assistant", **TH("think1")},
        TH(" think2"),
        SIG(),  # alone: no content, no tool calls
        {"content": "Ans"},
        {"content": "wer"},
        {"content": "", "finish": "stop", "usage": usage(9, 3)},
    ]


async def test_ds2_chained_keeps_finish_and_usage():
    chunks = [C({"reasoning_content": "think1"}), C({"content": "Ans"}), C({}, "stop"), U(9, 3)]
    events = await chained(make("deepseek"), chunks)
    assert blocks(events) == [("thinking", "think1", "ccr_1"), ("text", "Ans", None)]
    assert end_of(events) == ("end_turn", 9, 3)


async def test_ds_reasoning_then_finish_or_eof_is_signed():
    for tail in ([C({}, "length")], []):
        out = [view(c) for c in await stream(make("deepseek"), [C({"reasoning_content": "r"}), *tail])]
        assert out[:2] == [TH("r"), SIG()]
        events = await anthropic_events(
            await stream(make("deepseek"), [C({"reasoning_content": "r"}), *tail]), complete=bool(tail)
        )
        assert blocks(events) == [("thinking", "r", "ccr_1")]


async def test_ds_bare_finish_without_delta_ends_reasoning():
    bare = {"id": "c1", "model": "m", "choices": [{"index": 0, "finish_reason": "stop"}]}
    out = [view(c) for c in await stream(make("deepseek"), [C({"reasoning_content": "r"}), bare])]
    assert out == [TH("r"), SIG(), {"finish": "stop"}]


async def test_ds_reasoning_and_content_in_one_chunk():
    out = [view(c) for c in await stream(make("deepseek"), [C({"reasoning_content": "r", "content": "A"}, "stop")])]
    assert out == [TH("r"), SIG(), {"content": "A", "finish": "stop"}]


async def test_ds_plain_stream_passes_through_unchanged():
    chunks = [C({"role": "assistant", "content": ""}), C({"content": "hi"}), C({}, "stop"), U(1, 1)]
    assert await stream(make("deepseek"), chunks) == chunks


async def test_ds3_non_stream_thinking_in_message():
    body = completion({"content": "Answer", "reasoning_content": "because"})
    out = make("deepseek").json_out(body, make_ctx())
    message = out["choices"][0]["message"]
    assert message["thinking"] == {"content": "because", "signature": "ccr_1"}
    assert "reasoning_content" not in message and "thinking" not in out
    assert "thinking" not in body["choices"][0]["message"]  # input untouched
    anthropic = unified_to_anthropic_message(out)
    assert [(b["type"], b.get("thinking") or b.get("text")) for b in anthropic["content"]] == [
        ("thinking", "because"),
        ("text", "Answer"),
    ]
    assert anthropic["content"][0]["signature"] == "ccr_1"


# -- reasoning ------------------------------------------------------------------------------


async def test_rs1_request_switches():
    request = {"messages": [], "reasoning": {"effort": "high", "enabled": True}}
    out = await make("reasoning").request_in(request, PROVIDER, make_ctx())
    assert out["reasoning"] == {"effort": "high", "enabled": True}
    assert out["thinking"] == {"type": "enabled"} and out["enable_thinking"] is True
    budget = {"messages": [], "reasoning": {"effort": "low", "enabled": True, "max_tokens": 1000}}
    assert (await make("reasoning").request_in(budget, PROVIDER, make_ctx()))["thinking"] == {
        "type": "enabled",
        "budget_tokens": 1000,
    }
    off = await make("reasoning", {"enable": False}).request_in(dict(request), PROVIDER, make_ctx())
    assert off["thinking"] == {"type": "disabled", "budget_tokens": -1} and off["enable_thinking"] is False
    assert off["reasoning"] == request["reasoning"]
    plain = await make("reasoning").request_in({"messages": []}, PROVIDER, make_ctx())
    assert "thinking" not in plain and "enable_thinking" not in plain


async def test_rs_replays_reasoning_content():
    out = await make("reasoning").request_in({"messages": copy.deepcopy(HISTORY)}, PROVIDER, make_ctx())
    assert out["messages"][1] == {"role": "assistant", "content": "a", "reasoning_content": "why"}
    assert out["messages"][2] == {"role": "assistant", "content": "", "tool_calls": []}  # no reasoning asked
    asked = {"messages": copy.deepcopy(HISTORY), "reasoning": {"effort": "low", "enabled": True}}
    out = await make("reasoning").request_in(asked, PROVIDER, make_ctx())
    assert out["messages"][2]["reasoning_content"] == ""
    off = await make("reasoning", {"enable": False}).request_in({"messages": copy.deepcopy(HISTORY)}, PROVIDER, make_ctx())
    assert off["messages"][1] == {"role": "assistant", "content": "a"}


async def test_rs2_tool_call_after_reasoning_is_not_duplicated():
    call = TC(0, "t1", "A", '{"a":1}')
    chunks = [C({"reasoning_content": "r"}), C({"tool_calls": [call]}), C({}, "tool_calls")]
    out = [view(c) for c in await stream(make("reasoning"), chunks)]
    assert out == [TH("r"), SIG(), {"tool_calls": [call]}, {"finish": "tool_calls"}]
    events = await chained(make("reasoning"), chunks)
    assert blocks(events) == [("thinking", "r", "ccr_1"), ("tool_use", '{"a":1}', None)]
    json_deltas = [e for e in events if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"]
    assert len(json_deltas) == 1
    assert end_of(events)[0] == "tool_use"


async def test_rs_vllm_reasoning_field():
    chunks = [C({"reasoning": "r"}), C({"content": "A"}), C({}, "stop")]
    events = await chained(make("reasoning"), chunks)
    assert blocks(events) == [("thinking", "r", "ccr_1"), ("text", "A", None)]


async def test_rs_disabled_passes_stream_and_json_through():
    off = make("reasoning", {"enable": False})
    chunks = [C({"reasoning_content": "r"}), C({"content": "A"}), C({}, "stop")]
    assert await stream(off, chunks) == chunks
    body = completion({"content": "A", "reasoning_content": "r"})
    assert off.json_out(body, make_ctx()) is body


async def test_rs3_non_stream():
    call = {"id": "t", "type": "function", "function": {"name": "A", "arguments": "{}"}}
    body = completion({"content": None, "reasoning_content": "r", "tool_calls": [call]}, "tool_calls")
    out = make("reasoning").json_out(body, make_ctx())
    assert out["choices"][0]["message"]["thinking"] == {"content": "r", "signature": "ccr_1"}
    anthropic = unified_to_anthropic_message(out)
    assert [b["type"] for b in anthropic["content"]] == ["thinking", "tool_use"]
    assert anthropic["stop_reason"] == "tool_use"


async def test_usage_only_and_error_chunks_pass_through():
    error = {"error": {"message": "boom"}}
    for name in ("deepseek", "reasoning"):
        out = await stream(make(name), [C({"reasoning_content": "r"}), U(2, 1), error])
        assert [view(c) for c in out] == [TH("r"), {"usage": usage(2, 1)}, error, SIG()]
        events = await anthropic_events(out, complete=False)
        assert events[-1]["type"] == "error"
