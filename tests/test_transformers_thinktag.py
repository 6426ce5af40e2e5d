"""forcereasoning and extrathinktag: transformers.md §5.8 FR1–FR5, XT1 with the [FIX]
expectations, plus the tag state machine's edge cases."""

from __future__ import annotations

import copy

import pytest

from ccr_aio.transformers.endpoint.response import unified_to_anthropic_message
from ccr_aio.transformers.reasoning.forcereasoning import PROMPT
from ccr_aio.transformers.reasoning.tags import TagSplitter
from tests.test_transformers_reasoning import (
    PROVIDER,
    SIG,
    TC,
    TH,
    C,
    U,
    blocks,
    chained,
    completion,
    end_of,
    make,
    make_ctx,
    stream,
    usage,
    view,
)

P = {"type": "text", "text": PROMPT}


def contents(*pieces: str, finish: str = "stop") -> list[dict]:
    return [C({"content": piece}) for piece in pieces] + [C({}, finish)]


def test_prompt_names_the_tags():
    assert "<reasoning_content>" in PROMPT and "</reasoning_content>" in PROMPT


async def test_fr1_request():
    request = {
        "messages": [
            {"role": "assistant", "content": "prev", "thinking": {"content": "old", "signature": "s"}},
            {"role": "user", "content": "q"},
        ]
    }
    before = copy.deepcopy(request)
    out = await make("forcereasoning").request_in(request, PROVIDER, make_ctx())
    assert request == before
    assert out["messages"] == [
        {"role": "assistant", "content": "<reasoning_content>old</reasoning_content>\nprev"},
        {"role": "user", "content": [P, {"type": "text", "text": "q"}]},
    ]
    tool_last = {"messages": [{"role": "user", "content": [{"type": "text", "text": "go"}]}, {"role": "tool", "content": "r", "tool_call_id": "t"}]}
    out = await make("forcereasoning").request_in(tool_last, PROVIDER, make_ctx())
    assert out["messages"][-1] == {"role": "user", "content": [P]}
    assert out["messages"][0]["content"] == [{"type": "text", "text": "go"}]  # only the last turn gets the prompt
    parts_last = {"messages": [{"role": "user", "content": [{"type": "text", "text": "go"}]}]}
    out = await make("forcereasoning").request_in(parts_last, PROVIDER, make_ctx())
    assert out["messages"][0]["content"] == [{"type": "text", "text": "go"}, P]


async def test_fr1_only_ten_newest_turns_replayed_unless_empty():
    messages = []
    for n in range(12):
        messages.append({"role": "assistant", "content": "" if n == 0 else f"a{n}", "thinking": {"content": f"t{n}"}})
        messages.append({"role": "user", "content": "u"})
    out = (await make("forcereasoning").request_in({"messages": messages}, PROVIDER, make_ctx()))["messages"]
    assistants = [m for m in out if m["role"] == "assistant"]
    assert all("thinking" not in m for m in assistants)
    tagged = [m["content"].startswith("<reasoning_content>") for m in assistants]
    assert tagged == [True, False] + [True] * 10  # newest ten, plus the empty oldest one


async def test_fr2_tags_split_across_chunks():
    chunks = contents("<reason", "ing_content>abc</reasoning", "_content>\n", "Final")
    out = [view(c) for c in await stream(make("forcereasoning"), chunks)]
    assert out == [TH("abc"), SIG(), {"content": "\nFinal"}, {"finish": "stop"}]
    events = await chained(make("forcereasoning"), chunks)
    assert blocks(events) == [("thinking", "abc", "ccr_1"), ("text", "\nFinal", None)]


@pytest.mark.parametrize("name", ["forcereasoning", "extrathinktag"])
async def test_fr3_no_tags_is_plain_text(name):
    chunks = [C({"role": "assistant", "content": ""}), C({"content": "Hello"}), C({}, "stop"), U(5, 1)]
    out = [view(c) for c in await stream(make(name), chunks)]
    assert out == [{"role": "assistant"}, {"content": "Hello"}, {"finish": "stop"}, {"usage": usage(5, 1)}]
    events = await chained(make(name), chunks)
    assert blocks(events) == [("text", "Hello", None)]
    assert end_of(events) == ("end_turn", 5, 1)


async def test_text_that_only_starts_like_a_tag():
    chunks = contents("<", "b>bold</b>")
    out = [view(c) for c in await stream(make("extrathinktag"), chunks)]
    assert out == [{"content": "<b>bold</b>"}, {"finish": "stop"}]


async def test_fr4_eof_inside_reasoning_is_signed():
    out = [view(c) for c in await stream(make("forcereasoning"), [C({"content": "<reasoning_content>abc</reas"})])]
    assert out == [TH("abc"), TH("</reas"), SIG()]
    out = [view(c) for c in await stream(make("forcereasoning"), contents("<reasoning_content>abc", finish="length"))]
    assert out == [TH("abc"), SIG(), {"finish": "length"}]


async def test_fr5_non_stream():
    body = completion({"content": "<reasoning_content>abc</reasoning_content>\nFinal"})
    out = make("forcereasoning").json_out(body, make_ctx())
    assert out["choices"][0]["message"]["content"] == "Final"
    assert out["choices"][0]["message"]["thinking"] == {"content": "abc", "signature": "ccr_1"}
    assert "thinking" not in out
    assert [b["type"] for b in unified_to_anthropic_message(out)["content"]] == ["thinking", "text"]
    plain = completion({"content": "no tags <think>here</think>"})
    assert make("extrathinktag").json_out(plain, make_ctx()) is plain


async def test_xt1():
    chunks = [C({"content": "<think>a"}), C({"content": "b</thi"}), C({"content": "nk>\n\nX"}), C({"content": ""}, "stop")]
    out = [view(c) for c in await stream(make("extrathinktag"), chunks)]
    assert out == [TH("a"), TH("b"), SIG(), {"content": "\n\nX"}, {"finish": "stop"}]  # content blanked


async def test_leading_whitespace_and_tool_call_after_thinking():
    call = TC(0, "t1", "Read", '{"p":1}')
    chunks = [C({"content": "\n "}), C({"content": "<think>plan</think>\n"}), C({"tool_calls": [call]}), C({}, "tool_calls"), U(4, 2)]
    out = [view(c) for c in await stream(make("extrathinktag"), chunks)]
    assert out == [TH("plan"), SIG(), {"tool_calls": [call]}, {"finish": "tool_calls"}, {"usage": usage(4, 2)}]
    events = await chained(make("extrathinktag"), chunks)
    assert blocks(events) == [("thinking", "plan", "ccr_1"), ("tool_use", '{"p":1}', None)]
    assert end_of(events) == ("tool_use", 4, 2)


async def test_trailing_whitespace_and_partial_tag_flushed():
    out = [view(c) for c in await stream(make("extrathinktag"), contents("<think>t</think>A", "\n"))]
    assert out == [TH("t"), SIG(), {"content": "A"}, {"content": "\n"}, {"finish": "stop"}]
    out = [view(c) for c in await stream(make("extrathinktag"), [C({"content": "<thi"})])]
    assert out == [{"content": "<thi"}]


def test_splitter_is_independent_of_chunking():
    text = "  <think>step one</think>\n\nThe answer </think> stays"
    whole = TagSplitter("<think>", "</think>")
    expected = whole.feed(text) + whole.flush()
    for size in (1, 2, 3, 5):
        splitter = TagSplitter("<think>", "</think>")
        pieces = [p for i in range(0, len(text), size) for p in splitter.feed(text[i : i + size])] + splitter.flush()
        joined = {kind: "".join(t for k, t in pieces if k == kind) for kind in ("thinking", "text")}
        assert joined == {kind: "".join(t for k, t in expected if k == kind) for kind in ("thinking", "text")}
        assert [k for k, _ in pieces].count("signature") == 1
    assert "".join(t for k, t in expected if k == "text") == "\n\nThe answer </think> stays"
