"""openai-responses request mapping: unified -> Responses API (transformers.md §3.2, RP1 with [FIX]es)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ccr_aio.providers import Provider
from ccr_aio.transformers import BUILTINS, Context
from ccr_aio.transformers.dialects.responses.common import (
    encrypted_reasoning,
    reasoning_signature,
)
from ccr_aio.transformers.endpoint.request import anthropic_to_unified

PROVIDER = Provider(name="resp", api_base_url="http://127.0.0.1:9/v1/responses", api_key="k")
IMAGE = "data:image/png;base64,iVBORw0KGgo="
READ = {"type": "function", "function": {"name": "Read", "description": "Read a file", "parameters": {
    "type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}}}
EDIT_PARAMS = {
    "type": "object",
    "properties": {"file_path": {"type": "string"}, "old_string": {"type": "string"},
                   "new_string": {"type": "string"}, "replace_all": {"type": "boolean", "default": False}},
    "required": ["file_path", "old_string", "new_string"],
    "additionalProperties": False,
    "$schema": "http://json-schema.org/draft-07/schema#",
}
EDIT = {"type": "function", "function": {"name": "Edit", "description": "Edit a file", "parameters": EDIT_PARAMS}}
WEBSEARCH = {"type": "function", "function": {"name": "WebSearch", "description": "Search", "parameters": {
    "type": "object", "properties": {"query": {"type": "string"}, "allowed_domains": {"type": "array"}}}}}
SERVER_WEB_SEARCH = {"type": "function", "function": {"name": "web_search", "description": ""},
                     "server_tool_type": "web_search_20250305"}


async def convert(body: dict[str, Any], options: dict | None = None) -> dict[str, Any]:
    transformer = BUILTINS.create("openai-responses", options)
    return await transformer.request_in(body, PROVIDER, Context(provider="resp"))


def rp1_body() -> dict[str, Any]:
    thinking = {"content": "let me think", "signature": "sig-from-elsewhere"}
    return {
        "model": "gpt-5",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "S1", "cache_control": {"type": "ephemeral"}},
                                           {"type": "text", "text": "S2"}]},
            {"role": "system", "content": "second system"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "calling", "thinking": thinking, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "Read", "arguments": '{"p":1}'}}]},
            {"role": "tool", "content": "result", "tool_call_id": "call_1", "cache_control": {"type": "ephemeral"}},
            {"role": "user", "content": [{"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
                                         {"type": "image_url", "image_url": {"url": IMAGE}, "media_type": "image/png"}]},
            {"role": "assistant", "content": "plain answer", "thinking": thinking},
        ],
        "tools": [READ, EDIT, WEBSEARCH, SERVER_WEB_SEARCH],
        "reasoning": {"effort": "medium", "enabled": True},
        "temperature": 1,
        "max_tokens": 32000,
        "stream": True,
    }


async def test_rp1_request_mapping_with_fixes():
    body = rp1_body()
    original = copy.deepcopy(body)
    out = await convert(body)
    assert body == original  # the unified body (shared with the client's) is never mutated
    assert out["input"] == [
        {"role": "system", "content": "S1"},
        {"role": "system", "content": "S2"},
        {"role": "system", "content": "second system"},  # later system turns are kept in place
        {"role": "user", "content": "hi"},
        # [FIX] the assistant's text comes before its calls; its thinking does not leak
        {"role": "assistant", "content": [{"type": "output_text", "text": "calling"}]},
        {"type": "function_call", "arguments": '{"p":1}', "name": "Read", "call_id": "call_1"},
        {"type": "function_call_output", "call_id": "call_1", "output": "result"},
        {"role": "user", "content": [{"type": "input_text", "text": "look"}, {"type": "input_image", "image_url": IMAGE}]},
        {"role": "assistant", "content": "plain answer"},
    ]
    tools = out["tools"]
    assert tools[0] == {"type": "function", "name": "Read", "description": "Read a file",
                        "parameters": READ["function"]["parameters"]}
    assert tools[1]["name"] == "Edit" and tools[1]["strict"] is True
    assert tools[1]["parameters"]["required"] == ["file_path", "old_string", "new_string", "replace_all"]
    assert tools[1]["parameters"]["properties"] == EDIT_PARAMS["properties"]
    assert tools[2]["name"] == "WebSearch" and list(tools[2]["parameters"]["properties"]) == ["query"]
    assert tools[3] == {"type": "web_search"}
    assert len(tools) == 4
    assert out["reasoning"] == {"effort": "medium", "summary": "detailed"}
    assert out["parallel_tool_calls"] is False
    assert out["max_output_tokens"] == 32000  # [FIX] mapped, not deleted
    assert out["include"] == ["reasoning.encrypted_content"]
    for gone in ("temperature", "max_tokens", "messages"):
        assert gone not in out
    assert "instructions" not in out
    assert out["model"] == "gpt-5" and out["stream"] is True


async def test_string_system_becomes_instructions():
    out = await convert({"model": "m", "messages": [{"role": "system", "content": "be brief"},
                                                    {"role": "user", "content": "hi"}]})
    assert out["instructions"] == "be brief"
    assert out["input"] == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("reasoning, expected", [
    ({"effort": "high", "enabled": True, "max_tokens": 20000}, {"effort": "high", "summary": "detailed"}),
    ({"effort": "none"}, {"effort": "none", "summary": "detailed"}),
    ({"enabled": True}, {"summary": "detailed"}),
    ({"effort": "medium", "enabled": False}, None),  # [FIX] disabled means no reasoning at all
])
async def test_reasoning_shapes(reasoning, expected):
    out = await convert({"model": "m", "messages": [], "reasoning": reasoning})
    assert out.get("reasoning") == expected
    wants_encrypted = expected is not None and expected.get("effort") != "none"
    assert ("include" in out) == wants_encrypted


async def test_include_is_merged_with_an_existing_list():
    out = await convert({"model": "m", "messages": [], "reasoning": {"effort": "low"}, "include": ["x.y"]})
    assert out["include"] == ["x.y", "reasoning.encrypted_content"]


@pytest.mark.parametrize("max_tokens, expected", [(1, 16), (16, 16), (4096, 4096)])
async def test_max_output_tokens_has_the_api_minimum(max_tokens, expected):
    out = await convert({"model": "m", "messages": [], "max_tokens": max_tokens})
    assert out["max_output_tokens"] == expected


@pytest.mark.parametrize("choice, expected", [
    ({"type": "function", "function": {"name": "Read"}}, {"type": "function", "name": "Read"}),  # [FIX] shape
    ("auto", "auto"),
    ("required", "required"),
    ("none", "none"),
])
async def test_tool_choice(choice, expected):
    out = await convert({"model": "m", "messages": [], "tools": [READ], "tool_choice": choice})
    assert out["tool_choice"] == expected


async def test_forcing_the_server_web_search_requires_the_hosted_tool():
    body = {"model": "m", "messages": [], "tools": [SERVER_WEB_SEARCH],
            "tool_choice": {"type": "function", "function": {"name": "web_search"}}}
    out = await convert(body)
    assert out["tools"] == [{"type": "web_search"}] and out["tool_choice"] == "required"


async def test_no_tools_means_no_tool_choice():
    out = await convert({"model": "m", "messages": [], "tool_choice": "auto"})
    assert "tools" not in out and "tool_choice" not in out


async def test_other_server_tools_are_dropped_and_schemaless_tools_get_an_empty_schema():
    fetch = {"type": "function", "function": {"name": "web_fetch", "description": ""}, "server_tool_type": "web_fetch_20250910"}
    bare = {"type": "function", "function": {"name": "Ping"}}
    out = await convert({"model": "m", "messages": [], "tools": [fetch, bare]})
    assert out["tools"] == [{"type": "function", "name": "Ping", "parameters": {"type": "object", "properties": {}}}]


async def test_edit_schema_with_a_newer_property_stays_strict_valid():
    params = {**EDIT_PARAMS, "properties": {**EDIT_PARAMS["properties"], "expected_count": {"type": "integer"}}}
    tool = {"type": "function", "function": {"name": "Edit", "parameters": params}}
    out = await convert({"model": "m", "messages": [], "tools": [tool]})
    required = out["tools"][0]["parameters"]["required"]
    assert required == ["file_path", "old_string", "new_string", "replace_all", "expected_count"]
    assert out["tools"][0]["parameters"]["additionalProperties"] is False


async def test_parallel_tool_calls_option():
    out = await convert({"model": "m", "messages": []}, {"parallel_tool_calls": True})
    assert out["parallel_tool_calls"] is True


async def test_chat_only_keys_are_dropped_and_unknown_keys_pass_through():
    body = {"model": "m", "messages": [], "top_k": 5, "stop": ["x"], "stream_options": {"include_usage": True},
            "top_p": 0.9, "store": False, "metadata": {"a": "b"}}
    out = await convert(body)
    assert {k: out.get(k) for k in ("top_p", "store", "metadata")} == {"top_p": 0.9, "store": False, "metadata": {"a": "b"}}
    assert not {"top_k", "stop", "stream_options"} & set(out)


async def test_content_parts_files_and_empty_messages():
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "doc"},
                                     {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,AA"}}]},
        {"role": "user", "content": [{"type": "unknown"}]},  # nothing left: no empty item upstream
        {"role": "user", "content": ""},
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "tool", "tool_call_id": "c2", "content": None},
    ]
    out = await convert({"model": "m", "messages": messages})
    assert out["input"] == [
        {"role": "user", "content": [{"type": "input_text", "text": "doc"},
                                     {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,AA"}]},
        {"type": "function_call_output", "call_id": "c1", "output": "a\nb"},
        {"type": "function_call_output", "call_id": "c2", "output": ""},
    ]


async def test_assistant_calls_without_text_and_dict_arguments():
    messages = [{"role": "assistant", "content": "", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "A", "arguments": {"x": 1}}},
        {"id": "c2", "type": "function", "function": {"name": "B", "arguments": "{}"}}]}]
    out = await convert({"model": "m", "messages": messages})
    assert out["input"] == [
        {"type": "function_call", "arguments": '{"x":1}', "name": "A", "call_id": "c1"},
        {"type": "function_call", "arguments": "{}", "name": "B", "call_id": "c2"},
    ]


async def test_own_encrypted_reasoning_is_replayed_before_the_turn_it_produced():
    signature = reasoning_signature({"id": "rs_9", "encrypted_content": "gAAAAB-enc"}, "resp")
    assert encrypted_reasoning(signature, "resp") == "gAAAAB-enc"
    assert encrypted_reasoning(signature, "other") is None
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "", "thinking": {"content": "plan", "signature": signature},
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "Read", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        {"role": "assistant", "content": "done", "thinking": {"content": "", "signature": signature}},
    ]
    out = await convert({"model": "m", "messages": messages})
    reasoning = {"type": "reasoning", "summary": [{"type": "summary_text", "text": "plan"}], "encrypted_content": "gAAAAB-enc"}
    assert out["input"] == [
        {"role": "user", "content": "go"},
        reasoning,
        {"type": "function_call", "arguments": "{}", "name": "Read", "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        {**reasoning, "summary": []},
        {"role": "assistant", "content": "done"},
    ]


@pytest.mark.parametrize("signature", [
    "rs_123",  # an item id alone only resolves with server-side storage
    "oairesp:other-provider:gAAAAB-enc",  # minted by another provider: it could not decrypt it
    "ErUBCkYIBxgCIkBanthropicsignature",
    "ccr_1700000000000_1",
])
async def test_foreign_or_id_only_signatures_are_not_replayed(signature):
    messages = [{"role": "assistant", "content": "x", "thinking": {"content": "t", "signature": signature}}]
    out = await convert({"model": "m", "messages": messages})
    assert out["input"] == [{"role": "assistant", "content": "x"}]


async def test_claude_code_turn_through_the_anthropic_conversion():
    anthropic_body = {
        "model": "claude-sonnet-4", "max_tokens": 32000, "stream": True,
        "system": [{"type": "text", "text": "You are Claude Code", "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "enabled", "budget_tokens": 4000},
        "tools": [{"name": "Read", "description": "Read", "input_schema": READ["function"]["parameters"]}],
        "tool_choice": {"type": "tool", "name": "Read"},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "read a.py"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Reading."},
                                              {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "a.py"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "print(1)"},
                                         {"type": "text", "text": "now explain"}]},
        ],
    }
    unified = anthropic_to_unified(anthropic_body)
    unified["model"] = "gpt-5"
    out = await convert(unified)
    assert out["input"] == [
        {"role": "system", "content": "You are Claude Code"},
        {"role": "user", "content": [{"type": "input_text", "text": "read a.py"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Reading."}]},
        {"type": "function_call", "arguments": '{"file_path":"a.py"}', "name": "Read", "call_id": "toolu_1"},
        {"type": "function_call_output", "call_id": "toolu_1", "output": "print(1)"},
        {"role": "user", "content": [{"type": "input_text", "text": "now explain"}]},
    ]
    assert out["tool_choice"] == {"type": "function", "name": "Read"}
    assert out["reasoning"] == {"effort": "medium", "summary": "detailed"}
    assert out["max_output_tokens"] == 32000
