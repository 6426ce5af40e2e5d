"""transformers.md §5.4 (AS1–AS19) with the [FIX] expectations, plus the §2.5 bug fixes.

Every stream case goes through the real SSE parser in three read splittings (one line per read,
one read, seeded random 1–7-byte reads) and must give identical events that obey the grammar.
One stricter rule than AS6: every thinking block is signed, since Claude Code drops unsigned ones.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ccr_aio.errors import ApiError
from ccr_aio.pipeline.sse import encode_event, iter_json_chunks
from ccr_aio.transformers.base import Context
from ccr_aio.transformers.endpoint.stream import unified_to_anthropic_stream
from tests.stream_grammar import check_stream, parse_sse_bytes

NOW = 1_700_000_000_000
UUID = "0123456789abcdef0123456789abcdef"


class PinnedContext(Context):
    """Ids from a per-stream counter, so the three splittings produce identical events."""

    def new_id(self, prefix: str) -> str:
        ids = self.extra.setdefault("ids", itertools.count(1))
        return f"{prefix}{next(ids)}"


def make_ctx(**kw: Any) -> Context:
    return PinnedContext(now_ms=lambda: NOW, new_uuid=lambda: UUID, **kw)


def C(delta: dict, fr: str | None = None, usage: dict | None = None, model: str | None = "m") -> dict:
    chunk: dict[str, Any] = {"id": "c1", "object": "chat.completion.chunk", "created": 1}
    if model is not None:
        chunk["model"] = model
    chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": fr}]
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def U(p: int, c: int, cached: int | None = None) -> dict:
    usage = {"prompt_tokens": p, "completion_tokens": c, "prompt_tokens_details": {"cached_tokens": cached}}
    return {"id": "c1", "model": "m", "choices": [], "usage": usage}


def TC(index: int | None = 0, id: str | None = None, name: str | None = None, args: str | None = None) -> dict:
    call: dict[str, Any] = {"function": {}}
    if index is not None:
        call["index"] = index
    if id is not None:
        call["id"], call["type"] = id, "function"
    if name is not None:
        call["function"]["name"] = name
    if args is not None:
        call["function"]["arguments"] = args
    return call


def sse(*items: dict | str | bytes) -> bytes:
    """dict -> a `data: <json>` event, str -> a raw `data:` payload, bytes -> verbatim."""
    out = []
    for item in items:
        if isinstance(item, bytes):
            out.append(item)
        elif isinstance(item, str):
            out.append(f"data: {item}\n\n".encode())
        else:
            out.append(f"data: {json.dumps(item, ensure_ascii=False)}\n\n".encode())
    return b"".join(out)


def splittings(data: bytes) -> dict[str, list[bytes]]:
    rng = random.Random(len(data))
    pieces, pos = [], 0
    while pos < len(data):
        step = rng.randint(1, 7)
        pieces.append(data[pos : pos + step])
        pos += step
    return {"per_line": data.splitlines(keepends=True), "one_read": [data], "random_1_7": pieces}


async def _bytes(parts: list[bytes], fail: BaseException | None = None) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if fail is not None:
        raise fail


async def convert(parts: list[bytes], ctx: Context | None = None, fail: BaseException | None = None) -> list[dict]:
    events: list[dict] = []
    async for event in unified_to_anthropic_stream(iter_json_chunks(_bytes(parts, fail)), ctx or make_ctx()):
        events.append(event)
    return events


async def run(data: bytes, *, complete: bool = True, **ctx_kw: Any) -> list[dict]:
    """Convert `data` in every splitting; all must agree, obey the grammar and survive framing."""
    results = {name: await convert(parts, make_ctx(**ctx_kw)) for name, parts in splittings(data).items()}
    events = results["per_line"]
    for name, other in results.items():
        assert other == events, f"{name} differs from per_line"
    check_stream(events, complete=complete)
    assert parse_sse_bytes(b"".join(encode_event(e) for e in events)) == events
    return events


def blocks(events: list[dict]) -> list[tuple[str, dict, str, str | None]]:
    """(block type, content_block, concatenated delta text, signature) per block, in order."""
    out: list[list[Any]] = []
    for e in events:
        if e["type"] == "content_block_start":
            out.append([e["content_block"]["type"], e["content_block"], "", None])
        elif e["type"] == "content_block_delta":
            d = e["delta"]
            if d["type"] == "signature_delta":
                out[-1][3] = d["signature"]
            else:
                out[-1][2] += d.get("text") or d.get("thinking") or d.get("partial_json") or ""
    return [tuple(b) for b in out]


def message_delta(events: list[dict]) -> dict:
    assert events[-2]["type"] == "message_delta"
    return events[-2]


def MS(model: str = "m", input_tokens: int = 0, msg_id: str = "msg_1") -> dict:
    return {
        "type": "message_start",
        "message": {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 0},
        },
    }


def CBS(i: int, block: dict) -> dict:
    return {"type": "content_block_start", "index": i, "content_block": block}


def CBD(i: int, delta: dict) -> dict:
    return {"type": "content_block_delta", "index": i, "delta": delta}


def CBE(i: int) -> dict:
    return {"type": "content_block_stop", "index": i}


def MD(stop: str, inp: int = 0, out: int = 0, cached: int = 0) -> dict:
    usage = {"input_tokens": inp, "output_tokens": out, "cache_read_input_tokens": cached}
    return {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": usage}


def TEXT(i: int, text: str) -> dict:
    return CBD(i, {"type": "text_delta", "text": text})


MSTOP = {"type": "message_stop"}
TEXT_BLOCK = {"type": "text", "text": ""}
THINKING_BLOCK = {"type": "thinking", "thinking": ""}

AS1_INPUT = sse(
    C({"role": "assistant", "content": "Hel"}), C({"content": "lo"}), C({}, "stop"), U(100, 5, 40), "[DONE]"
)
AS1_EXPECTED = [
    MS(),
    CBS(0, TEXT_BLOCK),
    TEXT(0, "Hel"),
    TEXT(0, "lo"),
    CBE(0),
    MD("end_turn", 60, 5, 40),
    MSTOP,
]


async def test_as1_text_then_separate_usage() -> None:
    assert await run(AS1_INPUT) == AS1_EXPECTED


async def test_as2_same_in_one_read_keeps_late_usage() -> None:
    assert await convert([AS1_INPUT], make_ctx()) == AS1_EXPECTED


async def test_as3_text_and_two_sequential_tool_calls() -> None:
    events = await run(
        sse(
            C({"content": "Let me check."}),
            C({"tool_calls": [TC(0, "call_a", "Read", "")]}),
            C({"tool_calls": [TC(0, args='{"file_path":')]}),
            C({"tool_calls": [TC(0, args='"/a"}')]}),
            C({"tool_calls": [TC(1, "call_b", "Bash", '{"command":"ls"}')]}),
            C({}, "tool_calls", usage={"prompt_tokens": 10, "completion_tokens": 20}),
        )
    )
    json_delta = lambda i, s: CBD(i, {"type": "input_json_delta", "partial_json": s})  # noqa: E731
    assert events == [
        MS(),
        CBS(0, TEXT_BLOCK),
        TEXT(0, "Let me check."),
        CBE(0),
        CBS(1, {"type": "tool_use", "id": "call_a", "name": "Read", "input": {}}),
        json_delta(1, '{"file_path":'),
        json_delta(1, '"/a"}'),
        CBE(1),
        CBS(2, {"type": "tool_use", "id": "call_b", "name": "Bash", "input": {}}),
        json_delta(2, '{"command":"ls"}'),
        CBE(2),
        MD("tool_use", 10, 20),
        MSTOP,
    ]


async def test_as4_thinking_protocol() -> None:
    events = await run(
        sse(
            C({"thinking": {"content": "hmm"}}),
            C({"thinking": {"content": " ok"}}),
            C({"content": None, "thinking": {"content": "hmm ok", "signature": "123"}}),
            C({"content": "Answer"}),
            C({}, "stop"),
        )
    )
    assert events == [
        MS(),
        CBS(0, THINKING_BLOCK),
        CBD(0, {"type": "thinking_delta", "thinking": "hmm"}),
        CBD(0, {"type": "thinking_delta", "thinking": " ok"}),
        CBD(0, {"type": "signature_delta", "signature": "123"}),
        CBE(0),
        CBS(1, TEXT_BLOCK),
        TEXT(1, "Answer"),
        CBE(1),
        MD("end_turn"),
        MSTOP,
    ]


async def test_as5_text_after_tool_call_opens_a_new_text_block() -> None:
    events = await run(
        sse(
            C({"content": "A"}),
            C({"tool_calls": [TC(0, "call_a", "X", "{}")]}),
            C({"content": "B"}),
            C({}, "stop"),
        )
    )
    assert blocks(events) == [
        ("text", TEXT_BLOCK, "A", None),
        ("tool_use", {"type": "tool_use", "id": "call_a", "name": "X", "input": {}}, "{}", None),
        ("text", TEXT_BLOCK, "B", None),
    ]
    assert message_delta(events)["delta"]["stop_reason"] == "tool_use"


async def test_as6_unsigned_thinking_gets_a_synthesized_signature() -> None:
    events = await run(sse(C({"thinking": {"content": "t"}}), C({"content": "x"}), C({}, "length")))
    assert events[1:] == [
        CBS(0, THINKING_BLOCK),
        CBD(0, {"type": "thinking_delta", "thinking": "t"}),
        CBD(0, {"type": "signature_delta", "signature": "ccr_2"}),  # msg_1 took the first id
        CBE(0),
        CBS(1, TEXT_BLOCK),
        TEXT(1, "x"),
        CBE(1),
        MD("max_tokens"),
        MSTOP,
    ]


@pytest.mark.parametrize(
    "after",
    [
        [],  # EOF right after thinking
        [C({"tool_calls": [TC(0, "call_a", "Read", "{}")]})],
        [C({"annotations": [{"type": "url_citation", "url_citation": {"url": "https://a", "title": "A"}}]})],
    ],
)
async def test_thinking_is_signed_whatever_closes_it(after: list[dict]) -> None:
    events = await run(sse(C({"thinking": {"content": "t"}}), *after, C({}, "stop")))
    first = blocks(events)[0]
    assert first[0] == "thinking" and first[2] == "t" and first[3].startswith("ccr_")


async def test_as7_error_chunk_ends_the_stream_without_message_stop() -> None:
    events = await run(
        sse(C({"content": "x"}), {"error": {"message": "boom", "code": 500}}, C({}, "stop")),
        complete=False,
    )
    assert events == [
        MS(),
        CBS(0, TEXT_BLOCK),
        TEXT(0, "x"),
        CBE(0),
        {"type": "error", "error": {"type": "api_error", "message": "boom"}},
    ]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"message": "slow down", "code": 429}, {"type": "rate_limit_error", "message": "slow down"}),
        ({"message": "busy", "status": "529"}, {"type": "overloaded_error", "message": "busy"}),
        ({"message": "bad", "type": "invalid_request_error"}, {"type": "invalid_request_error", "message": "bad"}),
        ({"message": "odd", "code": "server_error"}, {"type": "api_error", "message": "odd"}),
        ({"code": 502}, {"type": "api_error", "message": '{"code":502}'}),
        ("plain text", {"type": "api_error", "message": "plain text"}),
    ],
)
async def test_error_chunk_type_and_message(error: Any, expected: dict) -> None:
    events = await run(sse({"error": error}), complete=False)
    assert events == [MS(model="unknown"), {"type": "error", "error": expected}]


async def test_error_chunk_closes_thinking_with_a_signature_and_drops_pending_tools() -> None:
    events = await run(
        sse(
            C({"thinking": {"content": "t"}}),
            C({"tool_calls": [TC(0, "a", "A", '{"x":'), TC(1, "b", "B", "{}")]}),
            {"error": {"message": "boom"}},
        ),
        complete=False,
    )
    assert [b[0] for b in blocks(events)] == ["thinking", "tool_use"]
    assert events[-2:] == [CBE(1), {"type": "error", "error": {"type": "api_error", "message": "boom"}}]


async def test_error_chunk_closes_the_upstream_iterator() -> None:
    closed = []

    async def upstream() -> AsyncIterator[dict]:
        try:
            yield C({"content": "x"})
            yield {"error": {"message": "boom"}}
            yield C({"content": "never read"})
        finally:
            closed.append(True)

    events = [e async for e in unified_to_anthropic_stream(upstream(), make_ctx())]
    assert events[-1]["type"] == "error" and closed == [True]


CITE_A = {
    "type": "url_citation",
    "url_citation": {"url": "https://a", "title": "A", "content": "", "start_index": 0, "end_index": 1},
}
CITE_B = {"type": "url_citation", "url_citation": {"url": "https://b", "title": "B"}}
SERVER_TOOL = {"type": "server_tool_use", "id": f"srvtoolu_{UUID}", "name": "web_search", "input": {"query": ""}}


async def test_as8_annotations_give_server_tool_use_and_one_result_block() -> None:
    events = await run(
        sse(C({"content": "See"}), C({"annotations": [CITE_A, CITE_B]}), C({"content": " more"}), C({}, "stop"))
    )
    result = {
        "type": "web_search_tool_result",
        "tool_use_id": f"srvtoolu_{UUID}",
        "content": [
            {"type": "web_search_result", "url": "https://a", "title": "A"},
            {"type": "web_search_result", "url": "https://b", "title": "B"},
        ],
    }
    assert events[1:] == [
        CBS(0, TEXT_BLOCK),
        TEXT(0, "See"),
        CBE(0),
        CBS(1, SERVER_TOOL),
        CBE(1),
        CBS(2, result),
        CBE(2),
        CBS(3, TEXT_BLOCK),
        TEXT(3, " more"),
        CBE(3),
        MD("end_turn"),
        MSTOP,
    ]


async def test_empty_annotations_make_no_blocks() -> None:
    events = await run(sse(C({"content": "x", "annotations": []}), C({}, "stop")))
    assert [b[0] for b in blocks(events)] == ["text"]


@pytest.mark.parametrize("data", [b"", b": keep-alive\n\n", sse("[DONE]")])
async def test_as9_empty_stream_is_an_error_not_an_empty_answer(data: bytes) -> None:
    # Issue 9 replaces AS9's [FIX] (MS, MD, MSTOP): a provider that sent nothing gave no answer,
    # and before any event the client can still get an HTTP error status.
    for parts in splittings(data).values():
        with pytest.raises(ApiError) as info:
            await convert(parts, make_ctx(provider="p", model="m1"))
        assert info.value.status == 502 and info.value.error_type == "api_error"
        assert "Provider p,m1 ended the stream before the answer was finished" in info.value.message


async def test_as10_interleaved_tool_arguments_stay_contiguous() -> None:
    events = await run(
        sse(
            C({"tool_calls": [TC(0, "a", "A", '{"x":'), TC(1, "b", "B", '{"y":')]}),
            C({"tool_calls": [TC(0, args="1}"), TC(1, args="2}")]}),
            C({}, "tool_calls"),
        )
    )
    summary = [(b[1]["id"], b[1]["name"], b[2]) for b in blocks(events)]
    assert summary == [("a", "A", '{"x":1}'), ("b", "B", '{"y":2}')]
    assert message_delta(events)["delta"]["stop_reason"] == "tool_use"


async def test_three_tools_interleaved_over_many_chunks() -> None:
    parts = {0: ['{"a"', ":", "1", "}"], 1: ['{"b"', ":", "2", "}"], 2: ['{"c"', ":", "3", "}"]}
    chunks = [C({"tool_calls": [TC(i, f"id{i}", f"T{i}") for i in range(3)]})]
    for step in range(4):
        chunks.append(C({"tool_calls": [TC(i, args=parts[i][step]) for i in (2, 0, 1)]}))
    events = await run(sse(*chunks, C({}, "tool_calls")))
    summary = [(b[1]["name"], b[2]) for b in blocks(events)]
    assert summary == [("T0", '{"a":1}'), ("T1", '{"b":2}'), ("T2", '{"c":3}')]


async def test_parallel_fragmented_tool_calls_stream_live_in_order() -> None:
    events = await run(
        sse(
            C({"role": "assistant", "content": None, "tool_calls": [TC(0, "call_0", "Read", "")]}),
            C({"tool_calls": [TC(0, args='{"file_')]}),
            C({"tool_calls": [TC(0, args='path":"/a"}')]}),
            C({"tool_calls": [TC(1, "call_1", "Grep", "")]}),
            C({"tool_calls": [TC(1, args='{"pat')]}),
            C({"tool_calls": [TC(1, args='tern":"x"}')]}),
            C({}, "tool_calls"),
            U(7, 9),
        )
    )
    assert [(b[1]["id"], b[2]) for b in blocks(events)] == [
        ("call_0", '{"file_path":"/a"}'),
        ("call_1", '{"pattern":"x"}'),
    ]
    # Sequential upstream tools are not buffered: each fragment is its own delta.
    assert sum(e["type"] == "content_block_delta" for e in events) == 4
    assert message_delta(events) == MD("tool_use", 7, 9)


async def test_b6_duplicate_entries_for_one_index_concatenate() -> None:
    events = await run(
        sse(C({"tool_calls": [TC(0, "a", "A", '{"x"'), TC(0, args=":1"), TC(0, args="}")]}), C({}, "tool_calls"))
    )
    assert [b[2] for b in blocks(events)] == ['{"x":1}']


async def test_tool_calls_without_index_are_told_apart_by_id() -> None:
    events = await run(
        sse(
            C({"tool_calls": [TC(None, "a", "A", '{"x":1}')]}),
            C({"tool_calls": [TC(None, "b", "B", '{"y"')]}),
            C({"tool_calls": [TC(None, args=":2}")]}),
            C({}, "tool_calls"),
        )
    )
    assert [(b[1]["id"], b[2]) for b in blocks(events)] == [("a", '{"x":1}'), ("b", '{"y":2}')]


async def test_as11_tool_start_waits_for_the_real_id_and_name() -> None:
    events = await run(
        sse(
            C({"tool_calls": [TC(0, args="{")]}),
            C({"tool_calls": [TC(0, "real", "Real", "}")]}),
            C({}, "tool_calls"),
        )
    )
    tool = {"type": "tool_use", "id": "real", "name": "Real", "input": {}}
    assert blocks(events) == [("tool_use", tool, "{}", None)]


async def test_tool_never_named_falls_back_to_synthetic_values_at_the_end() -> None:
    events = await run(sse(C({"tool_calls": [TC(0, args="{}")]}), C({}, "tool_calls")))
    tool = {"type": "tool_use", "id": "call_2", "name": "tool_0", "input": {}}
    assert blocks(events) == [("tool_use", tool, "{}", None)]


async def test_as12_usage_without_finish_is_a_cut_answer() -> None:
    # Issue 9 replaces AS12 (MD end_turn): usage alone does not say the answer is finished.
    events = await run(sse(C({"content": "x"}, usage={"prompt_tokens": 3, "completion_tokens": 1})), complete=False)
    assert [e["type"] for e in events] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_stop", "error"
    ]
    assert events[-1]["error"]["type"] == "api_error"
    assert "ended the stream before the answer was finished" in events[-1]["error"]["message"]


CANONICAL = [C({"role": "assistant", "content": "Hi"}), C({"content": " there"}), C({}, "stop"), U(4, 2)]


def _lines(framing: str, eol: str = "\n") -> bytes:
    return "".join(f"{framing}{json.dumps(c)}{eol}{eol}" for c in CANONICAL).encode()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_lines("data:"), id="data-without-space"),
        pytest.param(_lines("data: ", "\r\n"), id="crlf"),
        pytest.param(b": keep-alive\n\n" + _lines("data: ") + b": keep-alive\n\n", id="keep-alive-comments"),
        pytest.param(_lines("event: foo\ndata: "), id="event-lines"),
        pytest.param(b"data: {not json\n\n" + _lines("data: "), id="invalid-json-skipped"),
        pytest.param(_lines("id: 7\ndata: ").replace(b"\n\n", b"\n\n\n"), id="id-lines-extra-blanks"),
        pytest.param(_lines("data: ").rstrip(b"\n"), id="no-final-newline"),
    ],
)
async def test_as13_parsing_robustness(data: bytes) -> None:
    assert await run(data) == await run(sse(*CANONICAL))


async def test_as14_done_mid_stream_is_not_terminal() -> None:
    events = await run(sse(C({"content": "a"}), "[DONE]", C({"content": "b"}), C({}, "stop"), "[DONE]", U(2, 2)))
    assert blocks(events) == [("text", TEXT_BLOCK, "ab", None)]
    assert message_delta(events) == MD("end_turn", 2, 2)


async def test_as15_choices_beyond_the_first_are_ignored() -> None:
    chunk = C({"content": "first"})
    chunk["choices"].append({"index": 1, "delta": {"content": "second"}, "finish_reason": None})
    events = await run(sse(chunk, C({}, "stop")))
    assert blocks(events) == [("text", TEXT_BLOCK, "first", None)]


async def test_as16_utf8_split_inside_multibyte_sequences() -> None:
    data = sse(C({"content": "héllo 🙂"}), C({"content": "ünïcödé ✓"}), C({}, "stop"))
    events = await run(data)
    assert blocks(events) == [("text", TEXT_BLOCK, "héllo 🙂ünïcödé ✓", None)]
    for cut in range(1, len(data)):  # every two-read split, including each multi-byte boundary
        assert await convert([data[:cut], data[cut:]], make_ctx()) == events


async def test_as17_finish_without_usage_keeps_earlier_usage() -> None:
    events = await run(sse(C({"content": "x"}, usage={"prompt_tokens": 5, "completion_tokens": 2}), C({}, "stop")))
    assert message_delta(events) == MD("end_turn", 5, 2)


async def test_b2_last_non_empty_usage_wins() -> None:
    zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    events = await run(
        sse(
            C({"content": "x"}, usage={"prompt_tokens": 1, "completion_tokens": 1}),
            C({}, "stop", usage={"prompt_tokens": 9, "completion_tokens": 4, "cache_creation_input_tokens": 3}),
            {"id": "c1", "choices": [], "usage": zero},
        )
    )
    assert message_delta(events)["usage"] == {
        "input_tokens": 9,
        "output_tokens": 4,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 3,
    }


@pytest.mark.parametrize(
    ("first_model", "client_model", "expected"),
    [("m1", None, "m1"), (None, None, "unknown"), ("m1", "claude-sonnet-4", "claude-sonnet-4")],
)
async def test_as18_model_propagation(first_model: str | None, client_model: str | None, expected: str) -> None:
    data = sse(C({"role": "assistant"}, model=first_model), C({"content": "x"}, model="later"), C({}, "stop"))
    events = await run(data, client_model=client_model)
    assert events[0]["message"]["model"] == expected


async def test_message_start_reports_the_input_token_estimate() -> None:
    events = await run(sse(C({"content": "x"}), C({}, "stop")), input_tokens=1234)
    assert events[0] == MS(input_tokens=1234)


@pytest.mark.parametrize("split", ["per_line", "one_read", "random_1_7"])
async def test_as19_dropped_upstream_propagates_without_message_stop(split: str) -> None:
    data = sse(
        C({"thinking": {"content": "t"}}), C({"content": "partial"}), C({"tool_calls": [TC(0, "a", "A", '{"x"')]})
    )
    events: list[dict] = []
    stream = unified_to_anthropic_stream(
        iter_json_chunks(_bytes(splittings(data)[split], ConnectionResetError("upstream gone"))), make_ctx()
    )
    with pytest.raises(ConnectionResetError):
        async for event in stream:
            events.append(event)
    check_stream(events, complete=False)
    assert not {"message_delta", "message_stop"} & {e["type"] for e in events}
    assert [b[0] for b in blocks(events)] == ["thinking", "text", "tool_use"]


async def test_reasoning_then_tool_calls() -> None:
    events = await run(
        sse(
            C({"thinking": {"content": "need to read"}}),
            C({"thinking": {"signature": "sig-1"}}),
            C({"tool_calls": [TC(0, "call_r", "Read", '{"file_path":"/x"}')]}),
            C({"thinking": {"content": "and list"}}),
            C({"tool_calls": [TC(1, "call_l", "LS", "{}")]}),
            C({}, "tool_calls"),
        )
    )
    summary = [(b[0], b[2], b[3]) for b in blocks(events)]
    assert summary == [
        ("thinking", "need to read", "sig-1"),
        ("tool_use", '{"file_path":"/x"}', None),
        ("thinking", "and list", "ccr_2"),
        ("tool_use", "{}", None),
    ]
    assert message_delta(events)["delta"]["stop_reason"] == "tool_use"


async def test_b4_interleaved_thinking_and_text_make_separate_blocks() -> None:
    events = await run(
        sse(
            C({"thinking": {"content": "a"}}),
            C({"content": "1"}),
            C({"thinking": {"content": "b"}}),
            C({"thinking": {"content": "b", "signature": "s"}}),
            C({"content": "2"}),
            C({}, "stop"),
        )
    )
    summary = [(b[0], b[2]) for b in blocks(events)]
    assert summary == [("thinking", "a"), ("text", "1"), ("thinking", "b"), ("text", "2")]


async def test_signature_chunks_without_an_open_thinking_block() -> None:
    events = await run(
        sse(
            C({"thinking": {"signature": "orphan"}}),  # nothing to sign: dropped
            C({"thinking": {"content": "whole", "signature": "s1"}}),  # one-shot block keeps its text
            C({"thinking": {}}),  # empty thinking opens nothing
            C({"content": "x"}),
            C({}, "stop"),
        )
    )
    assert [(b[0], b[2], b[3]) for b in blocks(events)] == [("thinking", "whole", "s1"), ("text", "x", None)]


async def test_b1_content_after_finish_is_still_converted() -> None:
    events = await run(sse(C({"content": "a"}, "stop"), C({"content": "b"}), U(1, 2)))
    assert blocks(events) == [("text", TEXT_BLOCK, "ab", None)]
    assert message_delta(events) == MD("end_turn", 1, 2)


def test_check_stream_rejects_protocol_violations() -> None:
    start, text = MS(), CBS(0, TEXT_BLOCK)
    bad = {
        "no message_start": [text, CBE(0), MD("end_turn"), MSTOP],
        "delta to a closed block": [start, text, CBE(0), TEXT(0, "x"), MD("end_turn"), MSTOP],
        "wrong delta type": [start, text, CBD(0, {"type": "input_json_delta", "partial_json": ""}), CBE(0), MSTOP],
        "unsigned thinking": [start, CBS(0, THINKING_BLOCK), CBE(0), MD("end_turn"), MSTOP],
        "index gap": [start, CBS(1, TEXT_BLOCK), CBE(1), MD("end_turn"), MSTOP],
        "unclosed block": [start, text, MD("end_turn"), MSTOP],
        "no message_stop": [start, MD("end_turn")],
    }
    for events in bad.values():
        with pytest.raises(AssertionError):
            check_stream(events)
    with pytest.raises(AssertionError):
        check_stream([start, MD("end_turn"), MSTOP], complete=False)
    check_stream([start, text, {"type": "error", "error": {"type": "api_error", "message": "x"}}], complete=False)


def test_parse_sse_bytes_checks_event_names() -> None:
    assert parse_sse_bytes(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n: ping\n\n") == [MSTOP]
    with pytest.raises(AssertionError):
        parse_sse_bytes(b"event: ping\ndata: {\"type\":\"message_stop\"}\n\n")


async def test_the_anthropic_sdk_accumulates_the_stream() -> None:
    """The official SDK's accumulator (what Anthropic clients build messages with) accepts it."""
    pytest.importorskip("anthropic")
    from anthropic._models import construct_type
    from anthropic.lib.streaming._messages import accumulate_event
    from anthropic.types import RawMessageStreamEvent

    events = await run(
        sse(
            C({"thinking": {"content": "plan"}}),
            C({"content": "Reading."}),
            C({"tool_calls": [TC(0, "a", "Read", '{"file_path":'), TC(1, "b", "LS", '{"path":')]}),
            C({"tool_calls": [TC(0, args='"/a"}'), TC(1, args='"/"}')]}),
            C({}, "tool_calls"),
            U(10, 3),
        )
    )
    snapshot, bufs = None, {}
    for event in events:
        typed = construct_type(type_=RawMessageStreamEvent, value=event)
        snapshot = accumulate_event(event=typed, current_snapshot=snapshot, json_bufs=bufs)
    content = [block.model_dump(exclude_none=True) for block in snapshot.content]
    assert content == [
        {"type": "thinking", "thinking": "plan", "signature": "ccr_2"},
        {"type": "text", "text": "Reading."},
        {"type": "tool_use", "id": "a", "name": "Read", "input": {"file_path": "/a"}},
        {"type": "tool_use", "id": "b", "name": "LS", "input": {"path": "/"}},
    ]
    assert snapshot.stop_reason == "tool_use" and snapshot.usage.output_tokens == 3


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param([C({"content": "half an ans"})], id="mid-text"),
        pytest.param([C({"thinking": {"content": "let me"}})], id="mid-thinking"),
        pytest.param([C({"tool_calls": [TC(0, "a", "Bash", '{"command":')]})], id="mid-tool-arguments"),
        pytest.param([C({"tool_calls": [TC(0, "a", "Bash", "{}")]}), U(3, 1)], id="whole-tool-no-finish"),
        pytest.param([C({"role": "assistant", "content": ""})], id="role-only"),
    ],
)
async def test_clean_end_without_finish_reason_is_never_complete(cut: list[dict]) -> None:
    """A proxy or provider that closes the stream cleanly mid-answer: the client must see an
    error event, never message_delta/message_stop (Claude Code trusts message_stop)."""
    for tail in (b"", sse("[DONE]")):  # a [DONE] alone does not finish an answer either
        events = await run(sse(*cut) + tail, complete=False, provider="p", model="m1")
        assert events[-1]["type"] == "error"
        assert events[-1]["error"] == {
            "type": "api_error",
            "message": "Provider p,m1 ended the stream before the answer was finished (no finish reason): "
            "the answer is incomplete",
        }
        assert not {"message_delta", "message_stop"} & {e["type"] for e in events}


@pytest.mark.parametrize(
    "finish",
    [
        pytest.param([C({}, "stop")], id="finish-no-done"),
        pytest.param([C({}, "stop"), U(3, 1)], id="finish-then-usage-no-done"),
        pytest.param([C({}, "stop"), U(3, 1), "[DONE]"], id="finish-usage-done"),
        pytest.param([C({}, "length", usage={"prompt_tokens": 3, "completion_tokens": 1})], id="finish-with-usage"),
    ],
)
async def test_a_finish_reason_completes_the_answer_whatever_follows(finish: list) -> None:
    events = await run(sse(C({"content": "x"}), *finish))
    assert events[-1] == MSTOP
