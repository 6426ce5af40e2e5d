"""Client input checks at the edge: the JSON body parser and the Anthropic request validator."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from ccr_aio.errors import ApiError
from ccr_aio.inputs.json_body import MAX_DEPTH, nesting_exceeds, parse_json_body
from ccr_aio.inputs.messages_request import MAX_LISTED, validate_messages_request
from tests.conftest import FIXTURES

CAPTURES = FIXTURES / "claude-code-2.1.332"
USER = {"role": "user", "content": "hi"}


def client_bodies() -> list[tuple[str, dict[str, Any]]]:
    """Every request body a real Claude Code sent (the upstream-* files are what we sent on)."""
    bodies = [("claude-code-2.1.328-first-turn.json", json.loads((FIXTURES / "claude-code-2.1.328-first-turn.json").read_text()))]
    for path in sorted(CAPTURES.glob("*.json")):
        exchange = json.loads(path.read_text())
        if isinstance(exchange.get("body"), dict) and exchange.get("path", "").startswith("/v1/messages"):
            bodies.append((path.name, exchange["body"]))
    return bodies


def test_all_captures_are_found():
    assert len(client_bodies()) == 11


def bad_request(call: Any) -> str:
    with pytest.raises(ApiError) as info:
        call()
    assert info.value.status == 400 and info.value.error_type == "invalid_request_error"
    return info.value.message


def nested(depth: int, leaf: str = "1") -> bytes:
    return ('{"messages":' + "[" * (depth - 1) + leaf + "]" * (depth - 1) + "}").encode()


# -- parse_json_body -------------------------------------------------------------------------


@pytest.mark.parametrize("name, body", client_bodies(), ids=lambda v: v if isinstance(v, str) else "")
def test_captured_bodies_parse_to_what_json_loads_gives(name, body):
    for raw in (json.dumps(body).encode(), json.dumps(body, ensure_ascii=False, indent=2).encode()):
        assert parse_json_body(raw) == json.loads(raw)


@pytest.mark.parametrize("raw, words", [
    (b"{not json", "Invalid JSON in request body: Expecting property name"),
    (b"", "Invalid JSON in request body: Expecting value"),
    (b'{"a": 1} trailing', "Invalid JSON in request body: Extra data"),
    (b"[1, 2]", "Request body must be a JSON object, got an array"),
    (b'"text"', "Request body must be a JSON object, got a string"),
    (b"null", "Request body must be a JSON object, got null"),
    (b'{"a": "\xff"}', "Invalid JSON in request body: not UTF-8 (byte 7)"),
    (b'{"a": "\xed\xa0\x80"}', "not UTF-8"),  # a surrogate encoded as UTF-8 bytes is not UTF-8
])
def test_what_is_not_a_json_object_is_400(raw, words):
    assert words in bad_request(lambda: parse_json_body(raw))


@pytest.mark.parametrize("raw, words", [
    (b"1],[2", "Extra data"),
    (b'{"a": 1}],[{"b": 2}', "Extra data"),
    (b'{"a": 1}]', "Extra data"),
    (b"   ", "Expecting value"),
    (b'[{"a": 1}', "Expecting"),
])
def test_text_that_could_close_the_fast_parsers_depth_wrappers_is_refused(raw, words):
    for body in (raw, raw + b" " * 20_000):  # small bodies and large ones take different checks
        assert words in bad_request(lambda: parse_json_body(body))


def test_nesting_limit_holds_for_large_bodies_too():
    padding = b'"' + b"x" * 20_000 + b'"'
    near = nested(MAX_DEPTH, padding.decode())
    assert parse_json_body(near)["messages"]
    assert "nested deeper than" in bad_request(lambda: parse_json_body(nested(MAX_DEPTH + 1, padding.decode())))


def test_large_bodies_parse_to_what_json_loads_gives():
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "é😀" * 10, "n": [1, 2.5, None]}]}] * 400}
    raw = json.dumps(body).encode()
    assert len(raw) > 20_000 and parse_json_body(raw) == body


def test_utf8_bom_is_accepted():
    assert parse_json_body(b'\xef\xbb\xbf{"a": "\xc3\xa9"}') == {"a": "é"}


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(token):
    for raw in (f'{{"temperature": {token}}}', f'{{"a": [1, {{"b": {token}}}]}}'):
        assert f"Invalid JSON in request body: {token} is not a JSON value" == bad_request(lambda: parse_json_body(raw.encode()))


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1" + "0" * 400 + ".0"])
def test_numbers_that_overflow_to_infinity_are_refused(number):
    assert "is out of range" in bad_request(lambda: parse_json_body(f'{{"top_p": {number}}}'.encode()))


def test_ordinary_numbers_keep_their_values():
    assert parse_json_body(b'{"a": 1.5, "b": -0.0, "c": 1e308, "d": 12345678901234567890}') == {
        "a": 1.5, "b": -0.0, "c": 1e308, "d": 12345678901234567890}


def test_nesting_up_to_the_limit_parses_and_one_more_is_400():
    assert parse_json_body(nested(MAX_DEPTH))["messages"]
    message = bad_request(lambda: parse_json_body(nested(MAX_DEPTH + 1)))
    assert message == f"Invalid JSON in request body: nested deeper than {MAX_DEPTH} levels"


@pytest.mark.parametrize("raw", [
    nested(1_000),
    nested(10_000),
    b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    b"[" * 10_000,  # never closed
    b'{"a": ' + b'[{"b": [], "c": ' * 5_000 + b"1" + b"}]" * 5_000 + b"}",  # siblings between levels
    b'{"s": "' + b"]" * 10_000 + b'", "t": ' + b"[" * 10_000,  # closers hidden in a string do not help
])
def test_deep_nesting_is_400_without_recursion_error(raw):
    assert "nested deeper than" in bad_request(lambda: parse_json_body(raw))


def test_brackets_and_escapes_inside_strings_are_not_nesting():
    text = '[[[{{{' * 200 + '\\"]]' + "\\\\" + '"' * 0
    body = {"messages": [{"role": "user", "content": text}], "k\\\"[": "\\", "q": '"' + "}" * 50}
    raw = json.dumps(body).encode()
    assert parse_json_body(raw) == body
    assert not nesting_exceeds(raw, 3) and nesting_exceeds(raw, 2)


def _random_json(rng: random.Random, depth: int) -> Any:
    """A random document whose strings hold everything that could confuse a byte-level scan."""
    if depth == 0 or rng.random() < 0.2:
        pieces = ['"', "\\", "[", "]", "{", "}", "\\u", "a", "é", "\U0001F600", ":", ","]
        return "".join(rng.choice(pieces) for _ in range(rng.randrange(6)))
    if rng.random() < 0.5:
        return [_random_json(rng, depth - 1) for _ in range(rng.randrange(4))]
    return {_random_json(rng, 0): _random_json(rng, depth - 1) for _ in range(rng.randrange(4))}


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def test_nesting_check_is_exact_on_random_documents():
    rng = random.Random(9)
    for _ in range(400):
        document = _random_json(rng, rng.randrange(1, 9))
        depth = _depth(document)
        for raw in (json.dumps(document).encode(), json.dumps(document, ensure_ascii=False).encode()):
            assert not nesting_exceeds(raw, depth), raw
            if depth:
                assert nesting_exceeds(raw, depth - 1), raw


@pytest.mark.parametrize("escaped, expected", [
    (r"\ud800", "\ufffd"),
    (r"cut emoji \ud83d", "cut emoji \ufffd"),
    (r"\ude00 low first", "\ufffd low first"),
    (r"\ude00\ud83d", "\ufffd\ufffd"),  # the wrong order is no pair
    (r"\ud83d\ud83d\ude00", "\ufffd\U0001F600"),
    (r"\ud83d\\ude00", "\ufffd\\ude00"),  # an escaped backslash, then text
    (r"\\ud800", "\\ud800"),  # text, not an escape: left alone
    (r"\ud83d\ude00", "\U0001F600"),  # a proper pair
])
def test_lone_surrogates_become_replacement_characters(escaped, expected):
    raw = ('{"messages": [{"role": "user", "content": [{"type": "text", "text": "%s"}]}], "k%s": ["%s"]}'
           % (escaped, escaped, escaped)).encode()
    body = parse_json_body(raw)
    assert body["messages"][0]["content"][0]["text"] == expected
    assert body[f"k{expected}"] == [expected]
    json.dumps(body, ensure_ascii=False).encode("utf-8")  # now encodable for the provider


# -- validate_messages_request -------------------------------------------------------------


@pytest.mark.parametrize("name, body", client_bodies(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_captured_claude_code_body_is_valid(name, body):
    validate_messages_request(body, model_required="count-tokens" not in name)


def messages_problem(body: dict[str, Any], model_required: bool = True) -> str:
    return bad_request(lambda: validate_messages_request(body, model_required))


def with_messages(*messages: Any, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 10, "messages": [USER, *messages], **extra}


@pytest.mark.parametrize("text, kind", [(42, "a number"), ({"nested": True}, "an object"), (None, "null"), ([], "an array")])
def test_assistant_text_of_the_wrong_type_is_named_with_its_path(text, kind):
    assistant = {"role": "assistant", "content": [{"type": "text", "text": "ok"}, {"type": "text", "text": text}]}
    assert messages_problem(with_messages(assistant)) == f"messages[1].content[1].text must be a string, got {kind}"


def test_tool_result_text_as_a_number():
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
        {"type": "text", "text": "fine"}, {"type": "text", "text": 7}]}]}
    assert messages_problem(with_messages(result)) == "messages[1].content[0].content[1].text must be a string, got a number"


def test_tool_whose_type_is_a_list():
    body = with_messages(tools=[{"name": "Read", "input_schema": {}}, {"type": ["web_search"], "name": "w"}])
    assert messages_problem(body) == "tools[1].type must be a string, got an array"


def test_every_problem_is_listed_in_one_message():
    body = {
        "model": 5,
        "max_tokens": 0,
        "stream": "yes",
        "messages": [
            {"role": "robot", "content": 3},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": "ls"}, "text"]},
            {"role": "user", "content": [{"type": "tool_result", "content": "x", "is_error": "no"}, {"text": "no type"}]},
        ],
        "system": [{"type": "text", "text": ["a"]}],
        "tools": [{"description": "no name"}, "Bash"],
        "metadata": {"user_id": 1},
        "thinking": {"type": "enabled", "budget_tokens": "lots"},
        "temperature": "hot",
        "top_k": 1.5,
        "stop_sequences": ["a", 1],
        "tool_choice": "auto",
    }
    assert messages_problem(body).split("; ") == [
        "model must be a string, got a number",
        'messages[0].role must be "user", "assistant" or "system", got "robot"',
        "messages[0].content must be a string or an array of content blocks, got a number",
        "messages[1].content[0].input must be an object, got a string",
        "messages[1].content[1] must be an object, got a string",
        "messages[2].content[0].tool_use_id is required",
        "messages[2].content[0].is_error must be a boolean, got a string",
        "messages[2].content[1].type is required",
        "system[0].text must be a string, got an array",
        "tools[0].name is required",
        "tools[1] must be an object, got a string",
        "max_tokens must be a positive integer, got 0",
        "stream must be a boolean, got a string",
        "tool_choice must be an object, got a string",
        "temperature must be a number, got a string",
        "top_k must be an integer, got a number",
        "stop_sequences must be an array of strings, got an array",
        "metadata.user_id must be a string, got a number",
        "thinking.budget_tokens must be an integer, got a string",
    ]


def test_the_list_of_problems_is_capped():
    bad = {"role": "assistant", "content": [{"type": "text", "text": 1}]}
    message = messages_problem(with_messages(*[bad] * (MAX_LISTED + 7)))
    assert message.count("must be a string") == MAX_LISTED
    assert message.endswith("; and 7 more")


@pytest.mark.parametrize("body, problem", [
    ({"model": "m"}, "messages is required"),
    ({"model": "m", "messages": {"role": "user"}}, "messages must be an array, got an object"),
    ({"messages": [USER]}, "model is required"),
    ({"model": "", "messages": [USER]}, "model is required"),
    ({"model": "m", "messages": [{"content": "hi"}]}, 'messages[0].role is required'),
    ({"model": "m", "messages": [{"role": "user"}]}, "messages[0].content is required"),
    ({"model": "m", "messages": [USER], "system": 3}, "system must be a string or an array of text blocks, got a number"),
    ({"model": "m", "messages": [USER], "tools": {}}, "tools must be an array, got an object"),
    ({"model": "m", "messages": [USER], "max_tokens": True}, "max_tokens must be a positive integer, got a boolean"),
])
def test_top_level_problems(body, problem):
    assert messages_problem(body) == problem


@pytest.mark.parametrize("block, problem", [
    ({"type": "image", "source": "http://x/a.png"}, ".source must be an object, got a string"),
    ({"type": "image", "source": {"type": "base64", "media_type": "image/png"}}, ".source.data is required"),
    ({"type": "image", "source": {"type": "url", "url": 5}}, ".source.url must be a string, got a number"),
    ({"type": "document", "source": {"data": "x"}}, ".source.type is required"),
    ({"type": "tool_use", "name": "Bash", "input": {}}, ".id is required"),
    ({"type": "server_tool_use", "id": "s", "name": "web_search", "input": []}, ".input must be an object, got an array"),
    ({"type": "web_search_tool_result", "tool_use_id": 1, "content": []}, ".tool_use_id must be a string, got a number"),
    ({"type": "tool_result", "tool_use_id": "t", "content": 5}, ".content must be a string or an array of content blocks, got a number"),
    ({"type": "thinking", "thinking": "hm", "signature": 1}, ".signature must be a string, got a number"),
    ({"type": "redacted_thinking"}, ".data is required"),
    ({"type": "text", "text": "a", "cache_control": "ephemeral"}, ".cache_control must be an object, got a string"),
    ({"type": ["text"], "text": "a"}, ".type must be a string, got an array"),
    ({"type": "search_result", "source": "s", "title": "t", "content": [{"type": "text", "text": 1}]},
     ".content[0].text must be a string, got a number"),
])
def test_block_problems(block, problem):
    body = with_messages({"role": "assistant", "content": [block]})
    assert messages_problem(body) == "messages[1].content[0]" + problem


def test_what_anthropic_accepts_passes():
    body = with_messages(
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hm", "signature": "sig"},
            {"type": "redacted_thinking", "data": "abc"},
            {"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {"query": "q"}},
            {"type": "web_search_tool_result", "tool_use_id": "srv_1", "content": [{"type": "web_search_result", "url": "u"}]},
            {"type": "text", "text": "see", "citations": [{"type": "web_search_result_location", "url": "u"}]},
            {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "/a"}},
            {"type": "a_block_type_from_the_future", "payload": [1, {"x": None}]},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "is_error": False, "content": [
                {"type": "text", "text": "data"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                {"type": "tool_reference", "tool_name": "Grep"},
            ]},
            {"type": "tool_result", "tool_use_id": "t2"},
            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}, "title": "d"},
            {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "c"}]}},
            {"type": "search_result", "source": "s", "title": "t", "content": [{"type": "text", "text": "r"}]},
            {"type": "text", "text": "", "cache_control": {"type": "ephemeral"}},
        ]},
        {"role": "system", "content": "mid-conversation instructions"},
        system=[{"type": "text", "text": "you are", "cache_control": {"type": "ephemeral"}}],
        tools=[
            {"name": "Read", "description": "read", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
            {"type": "text_editor_20250728"},  # a server tool may leave the name to its type
        ],
        tool_choice={"type": "tool", "name": "Read", "disable_parallel_tool_use": True},
        thinking={"type": "enabled", "budget_tokens": 2048},
        metadata={"user_id": "u"},
        temperature=1, top_p=0.9, top_k=5, stop_sequences=["END"], stream=False,
        context_management={"edits": []}, output_config={"effort": "high"}, service_tier="auto",
    )
    validate_messages_request(body)


def test_null_optional_fields_count_as_absent():
    validate_messages_request(with_messages(
        system=None, tools=None, tool_choice=None, thinking=None, metadata=None, temperature=None,
        top_p=None, top_k=None, stop_sequences=None, stream=None, max_tokens=None,
    ))


def test_count_tokens_needs_no_model_but_checks_the_rest():
    validate_messages_request({"messages": [USER]}, model_required=False)
    validate_messages_request({"model": "", "messages": [USER]}, model_required=False)
    assert messages_problem({"model": 3, "messages": [USER]}, model_required=False) == "model must be a string, got a number"
    assert messages_problem({}, model_required=False) == "messages is required"
