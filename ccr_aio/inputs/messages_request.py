"""The shape of an Anthropic Messages request, checked once at the edge.

Every problem is named with its JSON path, all of them in one 400 (`messages[3].content[1].text
must be a string, got a number`), so a client learns everything at once and no converter ever
meets a wrong type deep inside. The checks cover what ccr-aio reads; everything else passes
through untouched, and so do block types this code does not know: Anthropic adds new ones, and a
router must not refuse what the API accepts. It is one pass over messages and blocks that never
copies the body; paths are only formatted for problems.

`null` for an optional field counts as absent, as the converters treat it.
"""

from __future__ import annotations

from typing import Any

from ..errors import ApiError
from .content_blocks import block_problems
from .fields import (
    MISSING,
    Fields,
    Found,
    is_bool,
    is_int,
    is_number,
    is_object,
    is_str,
    is_string_array,
    must_be,
    optional,
)
from .json_body import json_kind

MAX_LISTED = 20  # problems named in one message; the rest are counted
ROLES = ("user", "assistant", "system")  # Claude Code sends `system` turns between user turns
_ROLE_EXPECTED = '"user", "assistant" or "system"'


class Problems:
    """Collects `path problem` lines; `raise_if_any` turns them into one 400."""

    def __init__(self) -> None:
        self.listed: list[str] = []
        self.more = 0

    def add(self, path: str, problem: str) -> None:
        if len(self.listed) < MAX_LISTED:
            self.listed.append(f"{path} {problem}")
        else:
            self.more += 1

    def add_all(self, prefix: str, found: Found | None) -> None:
        for path, problem in found or ():
            self.add(prefix + path, problem)

    def raise_if_any(self) -> None:
        if self.listed:
            more = f"; and {self.more} more" if self.more else ""
            raise ApiError(400, "; ".join(self.listed) + more)


_OPTIONAL_TOP_LEVEL: Fields = (
    ("stream", is_bool, "a boolean"),
    ("metadata", is_object, "an object"),
    ("thinking", is_object, "an object"),
    ("tool_choice", is_object, "an object"),
    ("temperature", is_number, "a number"),
    ("top_p", is_number, "a number"),
    ("top_k", is_int, "an integer"),
    ("stop_sequences", is_string_array, "an array of strings"),
)


def validate_messages_request(body: dict[str, Any], model_required: bool = True) -> None:
    """ApiError(400) naming every problem of a /v1/messages body (count_tokens: no model needed)."""
    problems = Problems()
    model = body.get("model")
    if model is None or model == "":
        if model_required:
            problems.add("model", "is required")
    elif type(model) is not str:
        problems.add("model", must_be(model, "a string"))
    _check_messages(body.get("messages", MISSING), problems)
    system = body.get("system")
    if system is not None and type(system) is not str:
        if type(system) is list:
            for index, block in enumerate(system):
                problems.add_all(f"system[{index}]", block_problems(block))
        else:
            problems.add("system", must_be(system, "a string or an array of text blocks"))
    _check_tools(body.get("tools"), problems)
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and not (is_int(max_tokens) and max_tokens > 0):
        got = max_tokens if is_int(max_tokens) else json_kind(max_tokens)
        problems.add("max_tokens", f"must be a positive integer, got {got}")
    for key, check, expected in _OPTIONAL_TOP_LEVEL:
        value = body.get(key)
        if value is not None and not check(value):
            problems.add(key, must_be(value, expected))
    problems.add_all("", _nested_fields(body))
    problems.raise_if_any()


def _check_messages(messages: Any, problems: Problems) -> None:
    if messages is MISSING or messages is None:
        problems.add("messages", "is required")
        return
    if type(messages) is not list:
        problems.add("messages", must_be(messages, "an array"))
        return
    for index, message in enumerate(messages):
        if type(message) is not dict:
            problems.add(f"messages[{index}]", must_be(message, "an object"))
            continue
        role = message.get("role", MISSING)
        if type(role) is not str:
            problems.add(f"messages[{index}].role", must_be(role, _ROLE_EXPECTED))
        elif role not in ROLES:
            problems.add(f"messages[{index}].role", f'must be {_ROLE_EXPECTED}, got "{role[:40]}"')
        content = message.get("content", MISSING)
        if type(content) is list:
            for position, block in enumerate(content):
                found = block_problems(block)
                if found:
                    problems.add_all(f"messages[{index}].content[{position}]", found)
        elif type(content) is not str:
            problems.add(f"messages[{index}].content", must_be(content, "a string or an array of content blocks"))


def _check_tools(tools: Any, problems: Problems) -> None:
    if tools is None:
        return
    if type(tools) is not list:
        problems.add("tools", must_be(tools, "an array"))
        return
    for index, tool in enumerate(tools):
        if type(tool) is not dict:
            problems.add(f"tools[{index}]", must_be(tool, "an object"))
            continue
        kind = tool.get("type")
        if kind is not None and type(kind) is not str:
            problems.add(f"tools[{index}].type", must_be(kind, "a string"))
        # Server tools (web_search_20250305, ...) may leave out the name; custom tools may not.
        name = tool.get("name", MISSING if kind in (None, "custom") else None)
        if name is not None and type(name) is not str:
            problems.add(f"tools[{index}].name", must_be(name, "a string"))
        problems.add_all(f"tools[{index}]", optional(tool, _TOOL_FIELDS))


_TOOL_FIELDS: Fields = (
    ("description", is_str, "a string"),
    ("input_schema", is_object, "an object"),
    ("cache_control", is_object, "an object"),
)


def _nested_fields(body: dict[str, Any]) -> Found | None:
    """Fields inside the optional top-level objects that routing and converters read."""
    found: Found = []
    for key, fields in _NESTED:
        value = body.get(key)
        if type(value) is dict:
            for path, problem in optional(value, fields):
                found.append((key + path, problem))
    return found or None


_NESTED: tuple[tuple[str, Fields], ...] = (
    ("metadata", (("user_id", is_str, "a string"),)),
    ("thinking", (("type", is_str, "a string"), ("budget_tokens", is_int, "an integer"))),
    ("tool_choice", (("type", is_str, "a string"), ("name", is_str, "a string"))),
)
