"""transformers.md §5.9 GM1–GM3 with the [FIX] expectations: Gemini URL, request body, thinking
config, tool schemas cleaned to Gemini's subset, and thought signatures across turns.

Deliberate differences from the reference's verified body (GM2): system text goes to
`systemInstruction`; empty text parts are not sent (Vertex rejects them); media parts use the
documented camelCase names; the replayed signature sits only on the first functionCall, and only
when it is one Gemini issued (tagged `ccr_gemini::`), since foreign ones are rejected as corrupt.
"""

from __future__ import annotations

from typing import Any

import pytest

from ccr_aio.providers import Provider
from ccr_aio.transformers.base import Context
from ccr_aio.transformers.dialects.gemini.gemini import Gemini, gemini_url
from ccr_aio.transformers.dialects.gemini.request import (
    SKIP_SIGNATURE,
    build_request,
    gemini_signature,
    mark_signature,
)
from ccr_aio.transformers.dialects.gemini.schema import function_parameters, to_gemini_schema
from ccr_aio.transformers.shared.tool_signatures import with_signature

READ_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"p": {"type": "string", "description": "path"}},
    "required": ["p"],
    "additionalProperties": False,
}
SIG = mark_signature("SIG")


def gm2_request(**extra: Any) -> dict[str, Any]:
    return {
        "model": "gemini-2.5-pro",
        "max_tokens": 32000,
        "temperature": 1,
        "stream": True,
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "SYS", "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": "",
                "thinking": {"content": "plan", "signature": SIG},
                "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "Read", "arguments": '{"p":"/a"}'}},
                    {"id": "t2", "type": "function", "function": {"name": "Bash", "arguments": ""}},
                ],
            },
            {"role": "tool", "content": "A-content", "tool_call_id": "t1"},
            {"role": "tool", "content": "B-content", "tool_call_id": "t2"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "go"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ=="}, "media_type": "image/png"},
                    {"type": "image_url", "image_url": {"url": "https://h/x.jpg"}, "media_type": "image/jpeg"},
                ],
            },
        ],
        "tools": [
            {"type": "function", "function": {"name": "Read", "description": "r", "parameters": READ_SCHEMA}},
            {"type": "function", "function": {"name": "web_search", "description": ""}, "server_tool_type": "web_search_20250305"},
        ],
        "tool_choice": {"type": "function", "function": {"name": "Read"}},
        "reasoning": {"effort": "medium", "enabled": True},
        **extra,
    }


def provider(url: str = "https://generativelanguage.googleapis.com/v1beta/models/") -> Provider:
    return Provider(name="g", api_base_url=url, api_key="KEY")


# -- GM1 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base",
    [
        "https://generativelanguage.googleapis.com/v1beta/models/",
        "https://generativelanguage.googleapis.com/v1beta/models",  # [FIX] same as with the slash
        "https://generativelanguage.googleapis.com/v1beta/",
        "https://generativelanguage.googleapis.com",
    ],
)
def test_gm1_url_shapes(base: str) -> None:
    root = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro"
    assert gemini_url(base, "gemini-2.5-pro", True) == f"{root}:streamGenerateContent?alt=sse"
    assert gemini_url(base, "gemini-2.5-pro", False) == f"{root}:generateContent"


async def test_gm1_transformer_url_and_headers() -> None:
    body, options = await Gemini().request_in(gm2_request(), provider(), Context(model="gemini-2.5-pro"))
    assert options.url.endswith("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse")
    assert options.headers == {"x-goog-api-key": "KEY", "Authorization": None}
    assert "model" not in body and "messages" not in body
    _, options = await Gemini().request_in(gm2_request(stream=False), provider(), Context())
    assert options.url.endswith(":generateContent")


# -- GM2 ---------------------------------------------------------------------------------------


def test_gm2_contents() -> None:
    body = build_request(gm2_request(), "gemini-2.5-pro")
    assert body["systemInstruction"] == {"parts": [{"text": "SYS"}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]},
        {
            "role": "model",
            "parts": [
                {"functionCall": {"id": "t1", "name": "Read", "args": {"p": "/a"}}, "thoughtSignature": "SIG"},
                {"functionCall": {"id": "t2", "name": "Bash", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "Read", "id": "t1", "response": {"result": "A-content"}}},
                {"functionResponse": {"name": "Bash", "id": "t2", "response": {"result": "B-content"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"text": "go"},
                {"inlineData": {"mimeType": "image/png", "data": "QQ=="}},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://h/x.jpg"}},
            ],
        },
    ]


def test_gm2_tools_tool_config_and_generation_config() -> None:
    body = build_request(gm2_request(), "gemini-2.5-pro")
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "Read",
                    "description": "r",
                    "parameters": {"type": "OBJECT", "properties": {"p": {"type": "STRING", "description": "path"}}, "required": ["p"]},
                }
            ]
        },
        {"googleSearch": {}},
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["Read"]}}
    assert body["generationConfig"] == {"maxOutputTokens": 32000, "temperature": 1, "thinkingConfig": {"includeThoughts": True}}


def test_gm2_parameters_json_schema_option_sends_schema_verbatim() -> None:
    body = build_request(gm2_request(), "gemini-2.5-pro", json_schema=True)
    declaration = body["tools"][0]["functionDeclarations"][0]
    assert declaration["parametersJsonSchema"] == {k: v for k, v in READ_SCHEMA.items() if k != "$schema"}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("auto", {"mode": "AUTO"}), ("none", {"mode": "NONE"}), ("required", {"mode": "ANY"}), ("bogus", None)],
)
def test_tool_choice_modes_are_upper_case(choice: str, expected: dict | None) -> None:
    body = build_request(gm2_request(tool_choice=choice), "gemini-2.5-pro")
    assert body.get("toolConfig") == ({"functionCallingConfig": expected} if expected else None)


def test_generation_config_maps_sampling_and_stop() -> None:
    request = gm2_request(top_p=0.9, top_k=40, stop=["END"], temperature=0)
    config = build_request(request, "gemini-2.5-pro")["generationConfig"]
    assert config["topP"] == 0.9 and config["topK"] == 40 and config["stopSequences"] == ["END"]
    assert config["temperature"] == 0  # 0 is a value, not "unset"


def test_max_output_tokens_is_capped() -> None:
    assert build_request(gm2_request(max_tokens=128000), "gemini-2.5-pro")["generationConfig"]["maxOutputTokens"] == 65536
    config = build_request(gm2_request(max_tokens=128000), "m", max_output_tokens=100000)["generationConfig"]
    assert config["maxOutputTokens"] == 100000


def test_invalid_tool_arguments_do_not_crash() -> None:
    request = gm2_request()
    request["messages"][2]["tool_calls"][0]["function"]["arguments"] = '{"p": "/a",'
    parts = build_request(request, "gemini-2.5-pro")["contents"][1]["parts"]
    assert parts[0]["functionCall"]["args"] == {"p": "/a"}


# -- GM3 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "reasoning", "expected"),
    [
        ("gemini-3-pro-preview", {"effort": "high", "enabled": True}, {"includeThoughts": True, "thinkingLevel": "high"}),
        ("gemini-3-flash-preview", {"effort": "medium"}, {"includeThoughts": True, "thinkingLevel": "medium"}),
        ("gemini-3-pro-preview", {"effort": "medium"}, {"includeThoughts": True, "thinkingLevel": "high"}),
        ("gemini-2.5-flash", {"effort": "high", "max_tokens": 99999}, {"includeThoughts": True, "thinkingBudget": 24576}),
        ("gemini-2.5-pro", {"effort": "low", "max_tokens": 50}, {"includeThoughts": True, "thinkingBudget": 128}),
        ("gemini-2.5-pro", {"effort": "medium"}, {"includeThoughts": True}),
        ("gemini-2.5-pro", {"effort": "none"}, None),
        ("gemini-3-pro-preview", {"effort": "none"}, None),
        ("gemini-2.5-pro", {"effort": "high", "enabled": False}, None),
    ],
)
def test_gm3_thinking_config(model: str, reasoning: dict, expected: dict | None) -> None:
    config = build_request(gm2_request(model=model, reasoning=reasoning), model)["generationConfig"]
    assert config.get("thinkingConfig") == expected


# -- thought signatures across turns ------------------------------------------------------------


def assistant_turn(signature: str | None, tool_calls: bool = True) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "answer"}
    if signature is not None:
        message["thinking"] = {"content": "t", "signature": signature}
    if tool_calls:
        message["tool_calls"] = [{"id": "a", "type": "function", "function": {"name": "A", "arguments": "{}"}}]
    return message


def model_parts(message: dict[str, Any], model: str = "gemini-2.5-pro") -> list[dict[str, Any]]:
    body = build_request({"messages": [{"role": "user", "content": "q"}, message]}, model)
    return body["contents"][1]["parts"]


def test_signature_round_trip_helpers() -> None:
    assert gemini_signature(mark_signature("abc")) == "abc"
    for foreign in ("EqQBCgIYAhIM", "ccr_1700000000000", "1700000000000", "", None, "ccr_gemini::", "ccr_openrouter::x"):
        assert gemini_signature(foreign) is None


@pytest.mark.parametrize("foreign", ["EqQBCgIYAhIMxyz", "ccr_1700000000000", "1700000000000"])
def test_foreign_signatures_are_stripped(foreign: str) -> None:
    parts = model_parts(assistant_turn(foreign), "gemini-2.5-pro")
    assert all("thoughtSignature" not in p for p in parts)


def test_gemini3_call_without_gemini_signature_gets_the_skip_sentinel() -> None:
    parts = model_parts(assistant_turn("EqQBforeign"), "gemini-3-pro-preview")
    assert parts[-1] == {"functionCall": {"id": "a", "name": "A", "args": {}}, "thoughtSignature": SKIP_SIGNATURE}
    parts = model_parts(assistant_turn(mark_signature("REAL")), "gemini-3-pro-preview")
    assert parts[-1]["thoughtSignature"] == "REAL"


def test_signature_without_calls_goes_on_the_last_text_part() -> None:
    parts = model_parts(assistant_turn(mark_signature("TXT"), tool_calls=False))
    assert parts == [{"text": "answer", "thoughtSignature": "TXT"}]


def test_each_call_gets_its_own_signature_back() -> None:
    """Signatures carried with the tool calls return on their own functionCall parts; the
    thinking block's then belongs to the text (it came on a text part)."""
    message = assistant_turn(mark_signature("TXT"))
    message["tool_calls"] = [
        with_signature({"id": "a", "type": "function", "function": {"name": "A", "arguments": "{}"}}, "SIG-A"),
        {"id": "b", "type": "function", "function": {"name": "B", "arguments": "{}"}},
    ]
    assert model_parts(message, "gemini-3-pro-preview") == [
        {"text": "answer", "thoughtSignature": "TXT"},
        {"functionCall": {"id": "a", "name": "A", "args": {}}, "thoughtSignature": "SIG-A"},
        {"functionCall": {"id": "b", "name": "B", "args": {}}},
    ]


def test_later_system_turns_stay_in_place_and_empty_messages_vanish() -> None:
    request = {
        "messages": [
            {"role": "system", "content": "S1"},
            {"role": "user", "content": ""},
            {"role": "user", "content": "u"},
            {"role": "system", "content": "later"},
            {"role": "assistant", "content": ""},
        ]
    }
    body = build_request(request, "gemini-2.5-pro")
    assert body["systemInstruction"] == {"parts": [{"text": "S1"}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "u"}]}, {"role": "user", "parts": [{"text": "later"}]}]


# -- schema cleaning ---------------------------------------------------------------------------


def test_schema_cleaning_to_gemini_subset() -> None:
    schema = {
        "$schema": "x",
        "type": "object",
        "$defs": {"Mode": {"type": "string", "enum": ["a", "b"]}},
        "properties": {
            "mode": {"$ref": "#/$defs/Mode", "description": "m"},
            "count": {"type": ["integer", "null"], "default": 3, "exclusiveMinimum": 0},
            "tags": {"type": "array"},
            "value": {"anyOf": [{"type": "string"}, {"type": "number"}]},
            "maybe": {"anyOf": [{"type": "string", "format": "uri"}, {"type": "null"}], "description": "d"},
            "level": {"type": "integer", "enum": [1, 2]},
            "fixed": {"const": "x"},
            "nested": {"type": "object", "additionalProperties": {"type": "string"}},
            "both": {"allOf": [{"properties": {"a": {"type": "string"}}, "required": ["a"]}, {"properties": {"b": {"type": "boolean"}}}]},
        },
        "required": ["mode", "ghost"],
        "additionalProperties": False,
    }
    assert to_gemini_schema(schema) == {
        "type": "OBJECT",
        "properties": {
            "mode": {"type": "STRING", "description": "m", "enum": ["a", "b"]},
            "count": {"type": "INTEGER", "description": "(default: 3)", "nullable": True},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
            "value": {"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}]},
            "maybe": {"type": "STRING", "description": "d", "nullable": True},
            "level": {"type": "INTEGER"},
            "fixed": {"type": "STRING", "enum": ["x"]},
            "nested": {"type": "OBJECT"},
            "both": {
                "type": "OBJECT",
                "properties": {"a": {"type": "STRING"}, "b": {"type": "BOOLEAN"}},
                "required": ["a"],
            },
        },
        "required": ["mode"],
    }
    assert "additionalProperties" in schema and schema["properties"]["mode"] == {"$ref": "#/$defs/Mode", "description": "m"}


def test_recursive_refs_are_cut_and_empty_parameters_omitted() -> None:
    tree = {"type": "object", "properties": {"child": {"$ref": "#"}}}
    # The reference is expanded once, then cut where it would recurse.
    child = {"type": "OBJECT", "properties": {"child": {"type": "OBJECT"}}}
    assert to_gemini_schema(tree) == {"type": "OBJECT", "properties": {"child": child}}
    assert function_parameters({"type": "object", "properties": {}}) is None
    assert function_parameters(None) is None
    assert function_parameters({}) is None


def test_every_node_gets_a_type() -> None:
    """Vertex rejects typeless nodes ("schema didn't specify the schema type field")."""
    schema = {
        "type": "object",
        "properties": {
            "any": {"description": "anything"},
            "ints": {"enum": [1, 2]},
            "flags": {"enum": [True]},
            "ratio": {"const": 0.5},
            "obj": {"properties": {"x": {}}},
            "list": {"items": {"type": "integer"}},
            "nothing": {"type": "null"},
        },
    }
    assert to_gemini_schema(schema)["properties"] == {
        "any": {"type": "STRING", "description": "anything"},
        "ints": {"type": "INTEGER"},
        "flags": {"type": "BOOLEAN"},
        "ratio": {"type": "NUMBER"},
        "obj": {"type": "OBJECT", "properties": {"x": {"type": "STRING"}}},
        "list": {"type": "ARRAY", "items": {"type": "INTEGER"}},
        "nothing": {"type": "STRING", "nullable": True},
    }
