"""Anthropic request -> unified request (transformers.md §2.2, §5.2 AQ1-AQ12 with [FIX]es)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ccr_aio.transformers.endpoint.request import anthropic_to_unified

FIXTURE = Path(__file__).resolve().parent / "data" / "claude-code-2.1.328-first-turn.json"
EPH = {"type": "ephemeral"}


def convert(**body):
    body.setdefault("model", "m")
    body.setdefault("messages", [])
    return anthropic_to_unified(body)


def messages(**body):
    return convert(**body)["messages"]


def assert_no_none(value):
    if isinstance(value, dict):
        for key, item in value.items():
            assert item is not None, key
            assert_no_none(item)
    elif isinstance(value, list):
        for item in value:
            assert_no_none(item)


# AQ1 / AQ2: system


def test_aq1_system_array_keeps_cache_control_only_when_set():
    system = [
        {"type": "text", "text": "sys1", "cache_control": EPH},
        {"type": "text", "text": ""},
        {"type": "text", "text": "sys2"},
    ]
    assert messages(system=system)[0] == {
        "role": "system",
        "content": [{"type": "text", "text": "sys1", "cache_control": EPH}, {"type": "text", "text": "sys2"}],
    }


def test_aq2_system_string_empty_array_and_all_filtered():
    assert messages(system="S") == [{"role": "system", "content": "S"}]
    assert messages(system=[]) == []
    assert messages(system="") == []
    assert messages(system=[{"type": "text", "text": ""}]) == [{"role": "system", "content": []}]


def test_billing_header_block_is_dropped():
    system = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.328.593; cc_entrypoint=sdk-cli;"},
        {"type": "text", "text": "You are Claude", "cache_control": EPH},
    ]
    assert messages(system=system) == [
        {"role": "system", "content": [{"type": "text", "text": "You are Claude", "cache_control": EPH}]}
    ]


# AQ3: assistant


def test_aq3_assistant_blocks():
    content = [
        {"type": "thinking", "thinking": "let me think", "signature": "sig1"},
        {"type": "redacted_thinking", "data": "xxx"},
        {"type": "text", "text": "I'll read"},
        {"type": "text", "text": "two"},
        {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"p": "/a"}},
        {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {}},
    ]
    assert messages(messages=[{"role": "assistant", "content": content}]) == [
        {
            "role": "assistant",
            "content": "I'll read\ntwo",
            "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "Read", "arguments": '{"p":"/a"}'}},
                {"id": "toolu_2", "type": "function", "function": {"name": "Read", "arguments": "{}"}},
            ],
            "thinking": {"content": "let me think", "signature": "sig1"},
        }
    ]


def test_assistant_first_signed_thinking_wins_and_unsigned_is_skipped():
    content = [
        {"type": "thinking", "thinking": "unsigned", "signature": ""},
        {"type": "thinking", "thinking": "a", "signature": "s1"},
        {"type": "thinking", "thinking": "b", "signature": "s2"},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
        {"type": "tool_use", "name": "NoId", "input": {}},
        {"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": "ls ü"}},
    ]
    (msg,) = messages(messages=[{"role": "assistant", "content": content}])
    assert msg["thinking"] == {"content": "a", "signature": "s1"}
    assert msg["content"] == ""
    assert msg["tool_calls"] == [
        {"id": "t", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"ls ü"}'}}
    ]


# AQ4 / AQ5: user turns


def test_aq4_user_with_tool_results_text_images_and_document():
    content = [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "file A", "cache_control": EPH},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "file B"}], "is_error": True},
        {"type": "text", "text": "continue", "cache_control": EPH},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}},
        {"type": "text", "text": ""},
    ]
    assert messages(messages=[{"role": "user", "content": content}]) == [
        {"role": "tool", "content": "file A", "tool_call_id": "toolu_1", "cache_control": EPH},
        {"role": "tool", "content": "Error: file B", "tool_call_id": "toolu_2"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "continue", "cache_control": EPH},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}, "media_type": "image/png"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                {"type": "file", "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
            ],
        },
    ]


def test_tool_result_array_joins_text_and_moves_images_to_following_user_message():
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}}
    content = [
        {
            "type": "tool_result",
            "tool_use_id": "t1",
            "content": [{"type": "text", "text": "line 1"}, image, {"type": "text", "text": "line 2"}],
        },
        {"type": "tool_result", "tool_use_id": "t2", "content": [{"type": "tool_reference", "tool_name": "X"}]},
        {"type": "tool_result", "tool_use_id": "t3"},
        {"type": "text", "text": "next"},
    ]
    assert messages(messages=[{"role": "user", "content": content}]) == [
        {"role": "tool", "content": "line 1\nline 2", "tool_call_id": "t1"},
        {"role": "tool", "content": '{"type":"tool_reference","tool_name":"X"}', "tool_call_id": "t2"},
        {"role": "tool", "content": "", "tool_call_id": "t3"},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}, "media_type": "image/jpeg"},
                {"type": "text", "text": "next"},
            ],
        },
    ]


def test_tool_result_image_only_still_produces_user_message():
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QQ=="}}
    content = [{"type": "tool_result", "tool_use_id": "t1", "content": [image]}]
    assert messages(messages=[{"role": "user", "content": content}]) == [
        {"role": "tool", "content": "", "tool_call_id": "t1"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ=="}, "media_type": "image/png"}]},
    ]


def test_tool_results_follow_the_order_of_the_calls():
    """Claude Code sends parallel results in completion order; the unified tool messages follow
    the assistant's tool_calls, and a result for an unknown call keeps its place after them."""
    calls = [{"type": "tool_use", "id": f"t{n}", "name": "Bash", "input": {}} for n in (1, 2, 3)]
    results = [{"type": "tool_result", "tool_use_id": i, "content": i} for i in ("t3", "stray", "t1", "t2")]
    out = messages(
        messages=[
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": calls},
            {"role": "user", "content": [*results, {"type": "text", "text": "next"}]},
        ]
    )
    assert [m.get("tool_call_id") for m in out[2:]] == ["t1", "t2", "t3", "stray", None]
    assert out[-1] == {"role": "user", "content": [{"type": "text", "text": "next"}]}


def test_aq5_data_url_tolerance():
    block = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "data:image/png;base64,AAAA"}}
    (msg,) = messages(messages=[{"role": "user", "content": [block]}])
    assert msg["content"][0]["image_url"] == {"url": "data:image/png;base64,AAAA"}


def test_text_documents_become_text_parts():
    docs = [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello doc"}, "cache_control": EPH},
        {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "data:application/pdf;base64,JVB="}},
    ]
    (msg,) = messages(messages=[{"role": "user", "content": docs}])
    assert msg["content"] == [
        {"type": "text", "text": "hello doc", "cache_control": EPH},
        {"type": "text", "text": "a\nb"},
        {"type": "file", "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVB="}},
    ]


def test_text_block_is_passed_whole():
    block = {"type": "text", "text": "t", "citations": [{"x": 1}], "cache_control": EPH}
    (msg,) = messages(messages=[{"role": "user", "content": [block]}])
    assert msg["content"] == [block]


# AQ6: dropped and kept shapes


def test_aq6_dropped_shapes():
    assert messages(messages=[{"role": "assistant", "content": []}]) == [{"role": "assistant", "content": ""}]
    only_unknown = [{"type": "search_result", "source": "x", "title": "t", "content": []}]
    assert messages(messages=[{"role": "user", "content": only_unknown}]) == []
    assert messages(messages=[{"role": "user", "content": None}, {"role": "tool", "content": "x"}]) == []
    assert messages(messages=[{"role": "user", "content": ""}]) == [{"role": "user", "content": ""}]


def test_aq6_fix_system_role_inside_messages_is_kept_in_place():
    msgs = [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "be brief"},
        {"role": "system", "content": [{"type": "text", "text": "env", "cache_control": EPH}, {"type": "image"}]},
        {"role": "assistant", "content": "ok"},
    ]
    assert messages(system="S", messages=msgs) == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "be brief"},
        {"role": "system", "content": [{"type": "text", "text": "env", "cache_control": EPH}]},
        {"role": "assistant", "content": "ok"},
    ]


# AQ7: tools


def test_aq7_tools():
    schema = {"type": "object", "properties": {"p": {"type": "string"}}, "$schema": "http://json-schema.org/draft-07/schema#"}
    tools = [
        {"name": "Read", "description": "read", "input_schema": schema, "cache_control": EPH},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 8},
        {"name": "NoDesc", "input_schema": schema, "defer_loading": True},
    ]
    out = convert(tools=tools)["tools"]
    assert out == [
        {"type": "function", "function": {"name": "Read", "description": "read", "parameters": schema}},
        {"type": "function", "function": {"name": "web_search", "description": ""}, "server_tool_type": "web_search_20250305"},
        {"type": "function", "function": {"name": "NoDesc", "description": "", "parameters": schema}},
    ]
    assert out[0]["function"]["parameters"] is schema  # verbatim, not copied


def test_empty_tools_are_absent():
    assert "tools" not in convert(tools=[])


# AQ8: tool_choice


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "none"}, "none"),
        ({"type": "any"}, "required"),
        ({"type": "tool", "name": "Read"}, {"type": "function", "function": {"name": "Read"}}),
    ],
)
def test_aq8_tool_choice(choice, expected):
    out = convert(tool_choice=choice)
    assert out["tool_choice"] == expected
    assert "parallel_tool_calls" not in out


def test_disable_parallel_tool_use():
    out = convert(tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    assert out["tool_choice"] == "auto"
    assert out["parallel_tool_calls"] is False


# AQ9: thinking


@pytest.mark.parametrize(
    ("budget", "effort"), [(0, "none"), (1, "low"), (1024, "low"), (1025, "medium"), (8192, "medium"), (8193, "high")]
)
def test_aq9_thinking_budget_table(budget, effort):
    out = convert(thinking={"type": "enabled", "budget_tokens": budget})
    assert out["reasoning"] == {"effort": effort, "enabled": True, "max_tokens": budget}


def test_aq9_thinking_disabled_is_omitted():
    assert "reasoning" not in convert(thinking={"type": "disabled"})
    assert "reasoning" not in convert()


@pytest.mark.parametrize("thinking", [{"type": "adaptive"}, {"type": "adaptive", "display": "omitted"}, {"type": "future"}])
def test_thinking_adaptive_and_unknown_types(thinking):
    assert convert(thinking=thinking)["reasoning"] == {"effort": "medium", "enabled": True}


# AQ10 / AQ11: parameters


def test_aq10_sampling_params_and_stop_sequences():
    out = convert(top_p=0.9, top_k=5, stop_sequences=["A", "B", "C", "D", "E"], metadata={"user_id": "u"})
    assert out["top_p"] == 0.9
    assert out["top_k"] == 5
    assert out["stop"] == ["A", "B", "C", "D"]
    assert "metadata" not in out and "stop_sequences" not in out and "user" not in out


def test_aq11_unset_keys_are_omitted():
    out = anthropic_to_unified({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": None})
    assert out == {"messages": [{"role": "user", "content": "hi"}], "model": "m", "stream": False}


def test_copied_params_and_dropped_anthropic_fields():
    out = convert(
        max_tokens=100,
        temperature=0,
        stream=True,
        context_management={"edits": []},
        output_config={"effort": "low"},
        service_tier="auto",
        container="c",
        mcp_servers=[],
        betas=["x"],
    )
    assert out == {"messages": [], "model": "m", "max_tokens": 100, "temperature": 0, "stream": True}


# AQ12: no mutation


def test_aq12_input_is_not_mutated():
    body = json.loads(FIXTURE.read_text())
    body["messages"].append(
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "x"}], "is_error": True},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "data:image/png;base64,AA"}},
            ],
        }
    )
    body["tool_choice"] = {"type": "any", "disable_parallel_tool_use": True}
    before = copy.deepcopy(body)
    anthropic_to_unified(body)
    assert body == before


# The real Claude Code request


def test_claude_code_fixture():
    body = json.loads(FIXTURE.read_text())
    out = anthropic_to_unified(body)

    system = out["messages"][0]
    assert system["role"] == "system"
    assert all(not part["text"].startswith("x-anthropic-billing-header") for part in system["content"])
    assert len(system["content"]) == 2
    assert all(part["cache_control"] == EPH for part in system["content"])

    roles = [m["role"] for m in out["messages"]]
    assert roles == ["system", "user", "system"]
    assert out["messages"][2]["content"][0]["text"].startswith("# Environment")
    assert "output_config" not in out["messages"][2]

    for key in ("metadata", "context_management", "output_config", "thinking"):
        assert key not in out
    assert out["reasoning"] == {"effort": "medium", "enabled": True}
    assert out["model"] == "claude-opus-5-5"
    assert out["max_tokens"] == 128000
    assert out["stream"] is True
    assert len(out["tools"]) == len(body["tools"])
    assert all("defer_loading" not in t and "defer_loading" not in t["function"] for t in out["tools"])
    assert_no_none(out)
    assert "null" not in json.dumps(out)
