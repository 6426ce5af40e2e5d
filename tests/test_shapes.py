"""The TypedDicts in ccr_aio/shapes/ describe what the server really emits.

mypy checks the code against the shapes; these tests check the shapes against the output: every
event, block and delta the endpoint produces for the fuzz streams has exactly the keys its
TypedDict declares (the required ones present, no others), with values of the declared types.
"""

from __future__ import annotations

import random
import types
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from ccr_aio.errors import error_body
from ccr_aio.shapes.anthropic import (
    AnthropicEvent,
    AnthropicMessage,
    BlockDelta,
    BlockKind,
    ContentBlock,
    DeltaType,
    ErrorEvent,
    EventType,
)
from ccr_aio.transformers.endpoint.response import message_to_events, unified_to_anthropic_message
from tests.test_stream_fuzz import convert, random_stream


def _fields(cls: Any) -> dict[str, tuple[Any, bool]]:
    """name -> (type, required), reading NotRequired/Required from the annotations themselves
    (the class's __required_keys__ cannot see them through `from __future__ import annotations`)."""
    fields = {}
    for name, hint in get_type_hints(cls, include_extras=True).items():
        required = cls.__total__
        if get_origin(hint) is NotRequired:
            hint, required = get_args(hint)[0], False
        elif get_origin(hint) is Required:
            hint, required = get_args(hint)[0], True
        fields[name] = (hint, required)
    return fields


def conforms(value: Any, hint: Any, path: str = "$") -> None:
    """Assert that `value` has the shape `hint` describes."""
    origin = get_origin(hint)
    if hint is Any:
        return
    if is_typeddict(hint):
        assert isinstance(value, dict), f"{path}: {value!r} is not an object"
        fields = _fields(hint)
        missing = [name for name, (_, required) in fields.items() if required and name not in value]
        extra = [name for name in value if name not in fields]
        assert not missing and not extra, f"{path} ({hint.__name__}): missing {missing}, undeclared {extra}"
        for name, item in value.items():
            conforms(item, fields[name][0], f"{path}.{name}")
    elif origin in (Union, types.UnionType):
        members = get_args(hint)
        tagged = {get_args(_fields(m)["type"][0])[0]: m for m in members if is_typeddict(m) and "type" in _fields(m)}
        if tagged and isinstance(value, dict) and value.get("type") in tagged:
            conforms(value, tagged[value["type"]], path)
            return
        failures = []
        for member in members:
            try:
                conforms(value, member, path)
                return
            except AssertionError as exc:
                failures.append(str(exc))
        raise AssertionError(f"{path}: {value!r} fits none of {hint}: {failures}")
    elif origin is Literal:
        assert value in get_args(hint), f"{path}: {value!r} not in {get_args(hint)}"
    elif origin is list:
        assert isinstance(value, list), f"{path}: {value!r} is not a list"
        for i, item in enumerate(value):
            conforms(item, get_args(hint)[0], f"{path}[{i}]")
    elif origin is dict:
        assert isinstance(value, dict), f"{path}: {value!r} is not an object"
    elif hint is type(None):
        assert value is None, f"{path}: {value!r} is not null"
    elif hint is float:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{path}: {value!r} is not a number"
    else:
        fits = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
        assert fits, f"{path}: {value!r} is not {hint}"


def _type_tags(union: Any) -> set[str]:
    return {get_args(_fields(member)["type"][0])[0] for member in get_args(union)}


def test_the_literals_name_every_member_of_their_union() -> None:
    assert _type_tags(AnthropicEvent) == set(get_args(EventType))
    assert _type_tags(BlockDelta) == set(get_args(DeltaType))
    assert _type_tags(ContentBlock) == set(get_args(BlockKind))


def test_the_checker_rejects_what_does_not_fit() -> None:
    with pytest.raises(AssertionError, match="undeclared"):
        conforms({"type": "content_block_stop", "index": 0, "extra": 1}, AnthropicEvent)
    with pytest.raises(AssertionError, match="missing"):
        conforms({"type": "content_block_delta", "index": 0}, AnthropicEvent)
    with pytest.raises(AssertionError):
        bad_delta = {"type": "text_delta", "text": 1}
        conforms({"type": "content_block_delta", "index": 0, "delta": bad_delta}, AnthropicEvent)


@pytest.mark.parametrize("chain", [[], ["deepseek"], ["openrouter"], ["enhancetool"]])
@pytest.mark.parametrize("seed", range(25))
async def test_streamed_events_fit_their_shapes(chain: list[str], seed: int) -> None:
    chunks, _ = random_stream(random.Random(seed))
    for event in await convert(chunks, chain):
        conforms(event, AnthropicEvent)


@pytest.mark.parametrize(
    "message",
    [
        {"role": "assistant", "content": "hello"},
        {"role": "assistant", "content": None, "thinking": {"content": "hm", "signature": "s"},
         "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "Read", "arguments": '{"a":1}'}}]},
        {"role": "assistant", "content": "see",
         "annotations": [{"type": "url_citation", "url_citation": {"url": "u", "title": "t"}}]},
    ],
)
def test_a_converted_answer_and_its_replayed_events_fit_their_shapes(message: dict[str, Any]) -> None:
    completion = {"id": "c1", "model": "m", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 12, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 2}}}
    answer = unified_to_anthropic_message(completion, "claude-x")
    conforms(answer, AnthropicMessage)
    for event in message_to_events(answer):
        conforms(event, AnthropicEvent)


def test_error_bodies_fit_the_error_event() -> None:
    conforms(error_body(529, "busy"), ErrorEvent)
    conforms(error_body(418, "teapot", "invalid_request_error"), AnthropicEvent)
