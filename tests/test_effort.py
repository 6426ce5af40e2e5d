"""Claude Code's effort (`output_config.effort`: low, medium, high, xhigh, max) reaches each
dialect's own knob, and a chain that has no reasoning transformer sends no `reasoning` at all."""

from __future__ import annotations

from typing import Any

import pytest

from ccr_aio.pipeline.chain import prepare_request
from ccr_aio.providers import build_provider
from ccr_aio.transformers import BUILTINS
from ccr_aio.transformers.base import Context
from ccr_aio.transformers.dialects.anthropic_messages.request import unified_to_anthropic
from ccr_aio.transformers.endpoint.request import anthropic_to_unified, convert_thinking
from tests.conftest import provider_config, sdk
from tests.fakes.openai_upstream import completion, json_reply
from tests.fakes.responses_upstream import MODEL, ResponsesUpstream, message_item, reply

ADAPTIVE = {"type": "adaptive"}
USER = [{"role": "user", "content": "hi"}]


def claude_code_body(effort: str | None, thinking: Any = ADAPTIVE) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "claude-opus-5-5", "max_tokens": 32000, "messages": USER, "stream": False}
    if thinking is not None:
        body["thinking"] = thinking
    if effort is not None:
        body["output_config"] = {"effort": effort}
    return body


async def sent_upstream(model: str, body: dict[str, Any], use: list[Any] | None = None,
                        capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a provider with this chain receives (the upstream body, before the HTTP call)."""
    entry: dict[str, Any] = {"name": "p", "api_base_url": "http://127.0.0.1:1/v1/x", "api_key": "k", "models": [model]}
    if use is not None:
        entry["transformer"] = {"use": use}
    if capabilities is not None:
        entry["capabilities"] = {model: capabilities}
    provider = build_provider(entry, BUILTINS)
    endpoint = BUILTINS.create("anthropic")
    prepared = await prepare_request(endpoint, provider, model, body, Context(provider="p", model=model))
    return prepared.body


# -- Anthropic request -> unified --------------------------------------------------------------


@pytest.mark.parametrize(
    ("thinking", "output_config", "expected"),
    [
        (ADAPTIVE, {"effort": "high"}, {"effort": "high", "enabled": True}),
        (ADAPTIVE, {"effort": "max"}, {"effort": "max", "enabled": True}),
        (ADAPTIVE, None, {"effort": "medium", "enabled": True}),
        ({"type": "enabled", "budget_tokens": 2000}, None, {"effort": "medium", "enabled": True, "max_tokens": 2000}),
        ({"type": "enabled", "budget_tokens": 2000}, {"effort": "xhigh"}, {"effort": "xhigh", "enabled": True, "max_tokens": 2000}),
        ({"type": "disabled"}, {"effort": "high"}, None),
        (None, {"effort": "high"}, None),
        (ADAPTIVE, {"effort": "bogus"}, {"effort": "medium", "enabled": True}),
    ],
)
def test_effort_comes_from_output_config(thinking: Any, output_config: Any, expected: Any) -> None:
    assert convert_thinking(thinking, output_config) == expected


# -- dialects ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effort", "expected"),
    [("low", "low"), ("medium", "medium"), ("high", "high"), ("xhigh", "high"), ("max", "high")],
)
async def test_responses_reasoning_effort(effort: str, expected: str) -> None:
    body = await sent_upstream("gpt-5", claude_code_body(effort), ["openai-responses"])
    assert body["reasoning"] == {"effort": expected, "summary": "detailed"}


@pytest.mark.parametrize(
    ("model", "effort", "expected"),
    [
        ("gemini-2.5-flash", "low", {"includeThoughts": True, "thinkingBudget": 1024}),
        ("gemini-2.5-flash", "medium", {"includeThoughts": True}),  # the model's dynamic budget
        ("gemini-2.5-flash", "high", {"includeThoughts": True, "thinkingBudget": 24576}),
        ("gemini-2.5-pro", "max", {"includeThoughts": True, "thinkingBudget": 32768}),
        ("gemini-2.5-flash", "xhigh", {"includeThoughts": True, "thinkingBudget": 24576}),
        ("gemini-3-pro-preview", "low", {"includeThoughts": True, "thinkingLevel": "low"}),
        ("gemini-3-pro-preview", "max", {"includeThoughts": True, "thinkingLevel": "high"}),
        ("gemini-3-flash-preview", "medium", {"includeThoughts": True, "thinkingLevel": "medium"}),
    ],
)
async def test_gemini_thinking_budget(model: str, effort: str, expected: dict[str, Any]) -> None:
    body = await sent_upstream(model, claude_code_body(effort), ["gemini"])
    assert body["generationConfig"]["thinkingConfig"] == expected


@pytest.mark.parametrize(("effort", "switch"), [("low", None), ("high", None), ("xhigh", {"type": "enabled"}),
                                                ("max", {"type": "enabled"})])
async def test_deepseek_switch(effort: str, switch: Any) -> None:
    body = await sent_upstream("deepseek-chat", claude_code_body(effort), ["deepseek"])
    assert "reasoning" not in body
    assert body.get("thinking") == switch


@pytest.mark.parametrize(("effort", "on"), [("low", False), ("medium", True), ("high", True), ("max", True)])
async def test_qwen_switch(effort: str, on: bool) -> None:
    body = await sent_upstream("qwen3-max", claude_code_body(effort), ["reasoning"])
    assert body["enable_thinking"] is on


@pytest.mark.parametrize(("effort", "expected"), [("low", "low"), ("high", "high"), ("max", "high")])
async def test_openrouter_effort(effort: str, expected: str) -> None:
    body = await sent_upstream("openai/gpt-5", claude_code_body(effort), ["openrouter"])
    assert body["reasoning"] == {"effort": expected, "enabled": True}


def test_vertex_claude_budget_follows_effort() -> None:
    low = unified_to_anthropic(anthropic_to_unified(claude_code_body("low")))
    most = unified_to_anthropic(anthropic_to_unified(claude_code_body("max")))
    assert low["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert most["thinking"] == {"type": "enabled", "budget_tokens": 31999}  # below max_tokens


# -- chains without a reasoning transformer ---------------------------------------------------------


@pytest.mark.parametrize("use", [None, ["openai"], ["maxtoken"], ["forcereasoning"]])
async def test_no_reasoning_transformer_no_reasoning_field(use: Any) -> None:
    body = await sent_upstream("my-model", claude_code_body("high"), use)
    assert "reasoning" not in body and "reasoning_effort" not in body


@pytest.mark.parametrize(("effort", "expected"), [("low", "low"), ("high", "high"), ("max", "high")])
async def test_a_model_known_to_reason_gets_openai_reasoning_effort(effort: str, expected: str) -> None:
    assert (await sent_upstream("o3-mini", claude_code_body(effort)))["reasoning_effort"] == expected  # built-in table
    configured = await sent_upstream("my-model", claude_code_body(effort), capabilities={"reasoning": True})
    assert configured["reasoning_effort"] == expected and "reasoning" not in configured


async def test_no_effort_without_thinking() -> None:
    body = await sent_upstream("o3-mini", claude_code_body("high", thinking={"type": "disabled"}))
    assert "reasoning_effort" not in body and "reasoning" not in body


async def test_reasoning_false_wins_over_the_chain() -> None:
    body = await sent_upstream("gemini-2.5-pro", claude_code_body("high"), ["gemini"], {"reasoning": False})
    assert "thinkingConfig" not in body["generationConfig"]


# -- over HTTP -------------------------------------------------------------------------------------


async def test_claude_code_high_effort_reaches_the_provider(make_client: Any, fake: Any) -> None:
    reasoner = provider_config(fake, name="r", models=["gpt-5"])
    plain = provider_config(fake, name="plain", models=["local-model"])
    client = await make_client({"Providers": [reasoner, plain], "Router": {"default": "plain,local-model"}})
    for model in ("r,gpt-5", "plain,local-model"):
        fake.queue(json_reply(completion("ok")))
        await sdk(client).messages.create(model=model, max_tokens=100, messages=USER,
                                          thinking=ADAPTIVE,  # type: ignore[arg-type]
                                          extra_body={"output_config": {"effort": "high"}})
    to_reasoner, to_plain = (r.body for r in fake.requests)
    assert to_reasoner["reasoning_effort"] == "high" and "reasoning" not in to_reasoner
    assert "reasoning_effort" not in to_plain and "reasoning" not in to_plain


async def test_responses_provider_gets_claude_codes_effort(make_client: Any, aiohttp_server: Any) -> None:
    upstream = ResponsesUpstream()
    server = await aiohttp_server(upstream.app(), host="127.0.0.1")
    provider = {"name": "resp", "api_base_url": str(server.make_url("/v1/responses")), "api_key": "k",
                "models": [MODEL], "transformer": {"use": ["openai-responses"]}}
    client = await make_client({"Providers": [provider], "Router": {"default": f"resp,{MODEL}"}})
    upstream.queue(reply([message_item("ok")]))
    await sdk(client).messages.create(model="claude-opus-5-5", max_tokens=100, messages=USER,
                                      thinking=ADAPTIVE,  # type: ignore[arg-type]
                                      extra_body={"output_config": {"effort": "high"}})
    assert upstream.requests[0].body["reasoning"]["effort"] == "high"  # was always "medium"
