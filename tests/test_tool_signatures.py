"""Gemini thought signatures carried inside tool_use ids, and kept from providers that do not read them.

The id the client gets holds the call's own id and the signature; the endpoint splits it, so
every provider sees the short id, and only the Gemini dialects see the signature.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from ccr_aio.transformers.endpoint.anthropic import Anthropic
from ccr_aio.transformers.endpoint.request import anthropic_to_unified
from ccr_aio.transformers.shared.tool_signatures import (
    id_with_signature,
    signature_of,
    split_id,
    strip_signatures,
    with_signature,
)
from tests.conftest import sdk
from tests.fakes.openai_upstream import completion, json_reply

ANTHROPIC_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
SIGNATURES = ["EpwICpkIAXLI2nxl+U6g/sWZ", "Es8FCswFAXLI2nx=", "EqsFCqgFAb4+9vv/tAF5n8==", "S"]


@pytest.mark.parametrize("signature", SIGNATURES)
def test_the_id_carries_the_signature_exactly_in_anthropics_alphabet(signature: str) -> None:
    tool_use_id = id_with_signature("ccr_tool_17_3", signature)
    assert ANTHROPIC_ID.match(tool_use_id) and tool_use_id.startswith("ccr_tool_17_3__sig")
    assert split_id(tool_use_id) == ("ccr_tool_17_3", signature)


@pytest.mark.parametrize("signature", [None, "", "not base64!", "abc===", "skip_thought_signature_validator"])
def test_what_cannot_be_written_in_an_id_is_not_carried(signature: Any) -> None:
    assert id_with_signature("call_1", signature) == "call_1"


@pytest.mark.parametrize("tool_use_id", ["toolu_01A09q90qw90lq917835lq9", "call_1", "x__sig1_", "", 7])
def test_other_ids_are_their_own(tool_use_id: Any) -> None:
    assert split_id(tool_use_id) == (tool_use_id, None)


def history(tool_use_id: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": tool_use_id, "name": "weather", "input": {"q": "SF"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use_id, "content": "sunny"}]},
    ]


def test_the_unified_request_has_the_short_id_and_the_signature_beside_it() -> None:
    messages = anthropic_to_unified({"model": "m", "messages": history(id_with_signature("fc_1", "SIG+/A="))})["messages"]
    [call] = messages[1]["tool_calls"]
    assert call["id"] == "fc_1" and signature_of(call) == "SIG+/A="
    assert messages[2] == {"role": "tool", "content": "sunny", "tool_call_id": "fc_1"}


def test_strip_signatures_removes_them_and_leaves_other_requests_alone() -> None:
    call = {"id": "fc_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
    signed = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [with_signature(call, "S")]}]}
    stripped = strip_signatures(signed)
    assert stripped["messages"][1]["tool_calls"] == [call]
    assert stripped["messages"][0] is signed["messages"][0]
    assert signature_of(signed["messages"][1]["tool_calls"][0]) == "S"  # the input is not mutated
    plain = {"messages": [{"role": "assistant", "tool_calls": [call]}]}
    assert strip_signatures(plain) is plain


def test_passthrough_sends_anthropic_the_short_ids() -> None:
    body = {"model": "claude-x", "messages": history(id_with_signature("fc_1", "SIG"))}
    sent = Anthropic().passthrough(body, None)  # type: ignore[arg-type]
    assert sent["messages"][1]["content"][0]["id"] == "fc_1"
    assert sent["messages"][2]["content"][0]["tool_use_id"] == "fc_1"
    assert body["messages"][1]["content"][0]["id"] != "fc_1"  # the client body is not mutated


async def test_an_openai_provider_sees_short_ids_and_no_signature(client: Any, fake: Any) -> None:
    """A session that used Gemini goes on with an OpenAI-format provider: OpenAI caps tool call
    ids at 40 characters, and strict providers reject unknown keys."""
    fake.queue(json_reply(completion("It is sunny.")))
    tool_use_id = id_with_signature("ccr_tool_1796094492715_68", "EpwICpkIAXLI2nxlU6gsWZaZHRYkX1orzuM8vSUFwaAt1JRxEC2hJ" * 8)
    message = await sdk(client).messages.create(model="m", max_tokens=50, messages=history(tool_use_id))
    assert message.content[0].text == "It is sunny."
    sent = fake.requests[0].body["messages"]
    assert sent[1]["tool_calls"] == [
        {"id": "ccr_tool_1796094492715_68", "type": "function", "function": {"name": "weather", "arguments": '{"q":"SF"}'}}
    ]
    assert sent[2]["tool_call_id"] == "ccr_tool_1796094492715_68"
