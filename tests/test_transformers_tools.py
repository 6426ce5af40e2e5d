"""`tooluse` and `enhancetool`: transformers.md §5.6 (TU, ET) with the [FIX] expectations.

Stream cases run the transformer over a list of upstream chunks, compare the raw output, then
feed it to the Anthropic converter and check the event grammar. End-to-end cases go through
HTTP with the fake provider and the anthropic SDK.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ccr_aio.transformers import BUILTINS
from ccr_aio.transformers.base import Context
from ccr_aio.transformers.endpoint.stream import unified_to_anthropic_stream
from ccr_aio.transformers.shared.json_args import repair_arguments
from tests.conftest import provider_config, sdk
from tests.fakes.openai_upstream import (
    chunk,
    completion,
    json_reply,
    stream_reply,
    usage_chunk,
)
from tests.stream_grammar import check_stream
from tests.test_anthropic_stream import TC, C, U, make_ctx

ASK = [{"role": "user", "content": "hi"}]
TOOL_A = {"type": "function", "function": {"name": "A", "description": "a", "parameters": {"type": "object"}}}


async def _aiter(items: list[dict]) -> AsyncIterator[dict]:
    for item in items:
        yield item


async def run_stream(name: str, chunks: list[dict]) -> list[dict]:
    transformer = BUILTINS.create(name)
    return [c async for c in transformer.stream_out(_aiter(chunks), Context())]


async def anthropic_events(chunks: list[dict], complete: bool = True) -> list[dict]:
    events = [e async for e in unified_to_anthropic_stream(_aiter(chunks), make_ctx())]
    check_stream(events, complete=complete)
    return events


def deltas(chunks: list[dict]) -> list[tuple[dict, Any]]:
    return [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks if c.get("choices")]


def text_of(events: list[dict]) -> str:
    return "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta")


def message_delta(events: list[dict]) -> dict:
    return next(e for e in events if e["type"] == "message_delta")


def exit_call(index: int, args: str, name: str | None = "ExitTool", id: str | None = "x") -> dict:
    return TC(index, id=id, name=name, args=args)


# -- tooluse: request ------------------------------------------------------------------------


async def test_tu1_request_with_tools_forces_tools_and_adds_exit_tool():
    request = {"model": "m", "messages": list(ASK), "tools": [TOOL_A], "stream": True}
    out = await BUILTINS.create("tooluse").request_in(request, None, Context())
    assert out["messages"][:-1] == ASK
    assert out["messages"][-1]["role"] == "system" and "ExitTool" in out["messages"][-1]["content"]
    assert out["tool_choice"] == "required"
    assert [t["function"]["name"] for t in out["tools"]] == ["A", "ExitTool"]
    params = out["tools"][1]["function"]["parameters"]
    assert params["type"] == "object" and params["required"] == ["response"]
    assert params["properties"]["response"]["type"] == "string"
    assert request["messages"] == ASK and request["tools"] == [TOOL_A]  # the input is not edited


@pytest.mark.parametrize("extra", [{}, {"tools": []}, {"tools": [TOOL_A], "tool_choice": "none"}])
async def test_tu1_no_tools_no_reminder(extra):
    request = {"model": "m", "messages": list(ASK), **extra}
    assert await BUILTINS.create("tooluse").request_in(request, None, Context()) is request


# -- tooluse: responses ----------------------------------------------------------------------


def test_tu2_non_stream_exit_tool_becomes_text_and_stop():
    call = {"id": "x", "type": "function", "function": {"name": "ExitTool", "arguments": '{"response":"bye"}'}}
    body = completion(None, [call], finish="tool_calls")
    out = BUILTINS.create("tooluse").json_out(body, Context())
    message = out["choices"][0]["message"]
    assert message["content"] == "bye" and "tool_calls" not in message
    assert out["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["tool_calls"] == [call]  # not edited in place


def test_tu2_exit_tool_at_any_position_keeps_real_calls():
    real = {"id": "r", "type": "function", "function": {"name": "A", "arguments": "{}"}}
    exit_ = {"id": "x", "type": "function", "function": {"name": "ExitTool", "arguments": "{'response': 'done'}"}}
    out = BUILTINS.create("tooluse").json_out(completion("Note.", [real, exit_], finish="tool_calls"), Context())
    message = out["choices"][0]["message"]
    assert message["tool_calls"] == [real] and message["content"] == "Note.\n\ndone"
    assert out["choices"][0]["finish_reason"] == "tool_calls"


def test_tu4_non_stream_without_exit_tool_is_untouched():
    body = completion(None, [{"id": "r", "type": "function", "function": {"name": "A", "arguments": "{}"}}], "tool_calls")
    assert BUILTINS.create("tooluse").json_out(body, Context()) is body


TU3 = [
    C({"tool_calls": [exit_call(0, "")]}),
    C({"tool_calls": [TC(0, args='{"response":')]}),
    C({"tool_calls": [TC(0, args='"Hello!"}')]}),
    C({}, "tool_calls"),
    U(1, 2),
]


async def test_tu3_stream_exit_tool_keeps_usage_and_ends_turn():
    out = await run_stream("tooluse", TU3)
    assert deltas(out) == [({"content": "Hello!"}, None), ({}, "stop")]
    assert out[-1] == U(1, 2)
    events = await anthropic_events(out)
    assert text_of(events) == "Hello!"
    assert message_delta(events)["delta"]["stop_reason"] == "end_turn"
    assert message_delta(events)["usage"]["output_tokens"] == 2
    assert not any(e.get("content_block", {}).get("type") == "tool_use" for e in events)


async def test_tu3_answer_streams_incrementally_with_escapes():
    answer = 'Line 1\nsaid "hi" — ok 😀'
    args = json.dumps({"response": answer})
    pieces = [args[i : i + 3] for i in range(0, len(args), 3)]
    chunks = [C({"role": "assistant", "tool_calls": [exit_call(0, "")]})]
    chunks += [C({"tool_calls": [TC(0, args=p)]}) for p in pieces] + [C({}, "tool_calls", usage={"completion_tokens": 9})]
    out = await run_stream("tooluse", chunks)
    texts = [d.get("content") for d, _ in deltas(out) if d.get("content")]
    assert len(texts) > 5 and "".join(texts) == answer  # streamed, not one piece at the end
    assert out[-1]["choices"][0]["finish_reason"] == "stop" and out[-1]["usage"] == {"completion_tokens": 9}
    events = await anthropic_events(out)
    assert text_of(events) == answer


async def test_tu_stream_name_repeated_in_every_delta():
    chunks = [C({"tool_calls": [exit_call(0, '{"response": "a')]}), C({"tool_calls": [exit_call(0, 'b"}')]}), C({}, "tool_calls")]
    out = await run_stream("tooluse", chunks)
    assert "".join(d.get("content") or "" for d, _ in deltas(out)) == "ab"


async def test_tu_stream_text_before_exit_and_no_finish_chunk():
    chunks = [C({"content": "Thinking aloud."}), C({"tool_calls": [exit_call(0, "{'response': 'Answer'}")]})]
    out = await run_stream("tooluse", chunks)  # single quotes: only the final tolerant parse gets it
    assert "".join(d.get("content") or "" for d, _ in deltas(out)) == "Thinking aloud.\n\nAnswer"
    # Without a finish_reason the provider may have been cut mid-arguments: the text goes out,
    # but the answer ends in an error, not end_turn (issue 9).
    events = await anthropic_events(out, complete=False)
    assert text_of(events) == "Thinking aloud.\n\nAnswer" and events[-1]["type"] == "error"
    finished = await anthropic_events(await run_stream("tooluse", [*chunks, C({}, "tool_calls")]))
    assert text_of(finished) == "Thinking aloud.\n\nAnswer"
    assert message_delta(finished)["delta"]["stop_reason"] == "end_turn"


async def test_tu4_stream_real_tool_calls_pass_through():
    chunks = [
        C({"role": "assistant", "tool_calls": [TC(0, id="r", name="A", args="")]}),
        C({"tool_calls": [TC(0, args='{"p":1}')]}),
        C({}, "tool_calls"),
        U(3, 4),
    ]
    out = await run_stream("tooluse", chunks)
    assert out == chunks
    events = await anthropic_events(out)
    assert message_delta(events)["delta"]["stop_reason"] == "tool_use"


async def test_tu_stream_exit_tool_beside_a_real_call_keeps_tool_calls():
    chunks = [
        C({"tool_calls": [TC(0, id="r", name="A", args="{}")]}),
        C({"tool_calls": [exit_call(1, '{"response": "also this"}')]}),
        C({}, "tool_calls"),
    ]
    out = await run_stream("tooluse", chunks)
    assert out[-1]["choices"][0]["finish_reason"] == "tool_calls"
    events = await anthropic_events(out)
    assert text_of(events) == "also this" and message_delta(events)["delta"]["stop_reason"] == "tool_use"


# -- enhancetool: argument repair --------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{a:1,}", {"a": 1}),
        ("{'a': 'b'}", {"a": "b"}),
        ('{"a": [1,2', {"a": [1, 2]}),
        ('{"a":"x\\y"}', {"a": "xy"}),
        ("not json at all", {}),  # [FIX] always an object (the reference gives a JSON string)
        ("", {}),
        ("   ", {}),
        ("{}", {}),
        ("[1,2]", {"value": [1, 2]}),
        ('{"path": "/a.py", "limit": 5', {"path": "/a.py", "limit": 5}),
        ('{"a": 1, "b": "tru', {"a": 1, "b": "tru"}),
        ('{"a": 1, "b":', {"a": 1}),
        ("```json\n{\"a\": 1}\n```", {"a": 1}),
        ("{'ok': True, 'none': None}", {"ok": True, "none": None}),
    ],
)
def test_et1_repair_vectors(text, expected):
    repaired = repair_arguments(text)
    assert json.loads(repaired) == expected


@pytest.mark.parametrize("text", ['{"a":1}', '{ "a": 1,\n  "b": [1, 2] }'])
def test_et1_valid_json_is_returned_byte_identical(text):
    assert repair_arguments(text) == text


def test_et2_non_stream_repair():
    calls = [{"id": "a", "type": "function", "function": {"name": "A", "arguments": "{'p': 1, q: 2,}"}}]
    body = completion(None, calls, finish="tool_calls")
    out = BUILTINS.create("enhancetool").json_out(body, Context())
    assert json.loads(out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]) == {"p": 1, "q": 2}
    assert calls[0]["function"]["arguments"] == "{'p': 1, q: 2,}"  # not edited in place


ET3 = [
    C({"content": "x"}),
    C({"tool_calls": [TC(0, id="a", name="A", args="{'p': 1,")]}),
    C({"tool_calls": [TC(0, args=" q: 2,}")]}),
    C({"tool_calls": [TC(1, id="b", name="B", args='{"z":')]}),
    C({"tool_calls": [TC(1, args="3")]}),
    C({}, "tool_calls"),
]


def completed(index: int, id: str, name: str, args: dict) -> dict:
    function = {"name": name, "arguments": json.dumps(args, separators=(",", ":"))}
    return {"role": "assistant", "tool_calls": [{"function": function, "id": id, "index": index, "type": "function"}]}


async def test_et3_stream_announces_then_sends_repaired_arguments():
    out = await run_stream("enhancetool", ET3)
    # Unlike the reference, tool 0 is not flushed when tool 1 starts: only the finish proves
    # that no more fragments (interleaved ones included) will come for it.
    assert deltas(out) == [
        ({"content": "x"}, None),
        ({"tool_calls": [TC(0, id="a", name="A", args="")]}, None),
        ({"tool_calls": [TC(1, id="b", name="B", args="")]}, None),
        (completed(0, "a", "A", {"p": 1, "q": 2}), None),
        (completed(1, "b", "B", {"z": 3}), "tool_calls"),
    ]
    events = await anthropic_events(out)
    tools = [e for e in events if e["type"] == "content_block_start" and e["content_block"]["type"] == "tool_use"]
    assert [(e["content_block"]["id"], e["content_block"]["name"]) for e in tools] == [("a", "A"), ("b", "B")]
    json_deltas = [e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"]
    assert [json.loads(d) for d in json_deltas] == [{"p": 1, "q": 2}, {"z": 3}]
    assert message_delta(events)["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize("finish", ["stop", "length"])
async def test_et4_any_finish_flushes_the_tracked_call(finish):
    chunks = [C({"tool_calls": [TC(0, id="a", name="A", args='{"p": 1')]}), C({}, finish), U(5, 6)]
    out = await run_stream("enhancetool", chunks)
    assert deltas(out)[-1] == (completed(0, "a", "A", {"p": 1}), finish)
    assert out[-1] == U(5, 6)
    events = await anthropic_events(out)
    assert message_delta(events)["usage"]["output_tokens"] == 6


async def test_et_flush_at_end_of_stream_without_finish():
    out = await run_stream("enhancetool", [C({"tool_calls": [TC(0, id="a", name="A", args="{'p': 1}")]})])
    assert deltas(out)[-1] == (completed(0, "a", "A", {"p": 1}), None)
    await anthropic_events(out, complete=False)  # no finish_reason: a cut answer (issue 9)


async def test_et_missing_index_and_parallel_entries():
    chunks = [
        C({"tool_calls": [TC(None, id="a", name="A", args='{"p":')]}),
        C({"tool_calls": [TC(None, args="1}")]}),  # no index, no id: continues the last call
        C({"tool_calls": [TC(None, id="b", name="B", args="{q: 2}"), TC(None, id="c", name="C", args="{}")]}),
        C({}, "tool_calls"),
    ]
    out = await run_stream("enhancetool", chunks)
    done = [d["tool_calls"][0] for d, _ in deltas(out) if d.get("role") == "assistant"]
    assert [(c["id"], c["index"], json.loads(c["function"]["arguments"])) for c in done] == [
        ("a", 0, {"p": 1}), ("b", 1, {"q": 2}), ("c", 2, {})
    ]
    events = await anthropic_events(out)
    assert sum(e["type"] == "content_block_start" for e in events) == 3


async def test_et_text_between_fragments_loses_nothing():
    chunks = [
        C({"tool_calls": [TC(0, id="a", name="A", args="{'p': ")]}),
        C({"content": "then text"}),
        C({"tool_calls": [TC(0, args="1}")]}),
        C({}, "stop"),
    ]
    out = await run_stream("enhancetool", chunks)
    assert [d for d, _ in deltas(out)][1:] == [{"content": "then text"}, completed(0, "a", "A", {"p": 1})]
    events = await anthropic_events(out)
    json_deltas = [e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"]
    assert json_deltas == ['{"p":1}']
    texts = [e["delta"]["text"] for e in events if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta"]
    assert texts == ["then text"]


# -- end to end ------------------------------------------------------------------------------


def config_with(fake: Any, *use: Any) -> dict[str, Any]:
    provider = provider_config(fake, transformer={"use": list(use)})
    return {"Providers": [provider], "Router": {"default": "fake,fake-model"}}


SDK_TOOLS = [{"name": "Read", "description": "read", "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}}]


async def test_e2e_enhancetool_repairs_broken_arguments(make_client, fake):
    client = await make_client(config_with(fake, "enhancetool"))
    fake.queue(stream_reply([
        chunk({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "Read", "arguments": "{file_path: '/a"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ".py',"}}]}),
        chunk({}, "stop"),
        usage_chunk(10, 4),
    ]))
    async with sdk(client).messages.stream(model="m", max_tokens=100, messages=ASK, tools=SDK_TOOLS) as stream:
        final = await stream.get_final_message()
    assert [(b.type, b.id, b.name, b.input) for b in final.content] == [("tool_use", "call_1", "Read", {"file_path": "/a.py"})]
    assert final.stop_reason == "tool_use" and final.usage.output_tokens == 4
    call = {"id": "c", "type": "function", "function": {"name": "Read", "arguments": "{'file_path': '/b.py'"}}
    fake.queue(json_reply(completion(None, [call], finish="tool_calls")))
    message = await sdk(client).messages.create(model="m", max_tokens=100, messages=ASK, tools=SDK_TOOLS)
    assert message.content[0].input == {"file_path": "/b.py"}


async def test_e2e_tooluse_exit_tool_answers_as_text(make_client, fake):
    client = await make_client(config_with(fake, "tooluse"))
    fake.queue(stream_reply([
        chunk({"role": "assistant", "tool_calls": [{"index": 0, "id": "x", "type": "function", "function": {"name": "ExitTool", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"response": "Just'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' text."}'}}]}),
        chunk({}, "tool_calls"),
        usage_chunk(10, 5),
    ]))
    async with sdk(client).messages.stream(model="m", max_tokens=100, messages=ASK, tools=SDK_TOOLS) as stream:
        final = await stream.get_final_message()
    assert [(b.type, b.text) for b in final.content] == [("text", "Just text.")]
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 5
    sent = fake.requests[0].body
    assert sent["tool_choice"] == "required" and sent["tools"][-1]["function"]["name"] == "ExitTool"
    assert sent["messages"][-1]["role"] == "system"
