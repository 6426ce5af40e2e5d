"""Context windows and answer lengths: the per-model `capabilities` config over the built-in
table, `max_tokens` capped to what the routed model can give, a prompt that does not fit refused
with Anthropic's "prompt is too long" (Claude Code compacts on it), and the window `activate` /
`code` hand to Claude Code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import pytest

from ccr_aio.cli.claude_env import chosen_window, fit_env, model_argument
from ccr_aio.config import ModelCapabilities, model_capabilities, parse_config
from ccr_aio.config.capabilities import builtin_capabilities, session_window
from tests.conftest import provider_config, sdk
from tests.fakes.openai_upstream import completion, json_reply

USER = [{"role": "user", "content": "hi"}]
SMALL = {"small": {"context_window": 10_000, "max_output_tokens": 8000}}
LONG_CALL = 30  # an explicit timeout lets the SDK send a large max_tokens without streaming


def words(count: int) -> str:
    return "word" + " word" * (count - 1)  # one cl100k token each


def config_with(fake: Any, **router: str) -> dict[str, Any]:
    provider = provider_config(fake, models=["small", "gpt-4o", "deepseek-chat", "plain"], capabilities=SMALL)
    return {"Providers": [provider], "Router": {"default": "fake,small", **router}}


def parsed(config: dict[str, Any]) -> Any:
    result = parse_config(config)
    assert result.value is not None, result.problems
    return result.value


# -- what is known -------------------------------------------------------------------------------


def test_builtin_table_reads_vendor_prefixes_and_dots() -> None:
    assert builtin_capabilities("deepseek-chat") == ModelCapabilities(128_000, 8_192)
    assert builtin_capabilities("openai/gpt-4.1-mini") == ModelCapabilities(1_047_576, 32_768, reasoning=False)
    assert builtin_capabilities("o3-mini").reasoning is True
    assert builtin_capabilities("my-local-model") == ModelCapabilities()


def test_config_overrides_the_table_field_by_field() -> None:
    config = parsed({"Providers": [{
        "name": "p", "api_base_url": "http://x", "models": ["deepseek-chat", "Mine"],
        "capabilities": {"deepseek-chat": {"max_output_tokens": 4000}, "mine": {"context_window": 32768}},
    }]})
    provider = config.providers[0]
    assert model_capabilities(provider, "deepseek-chat") == ModelCapabilities(128_000, 4_000)
    assert model_capabilities(provider, "MINE") == ModelCapabilities(32_768)  # names ignore case


@pytest.mark.parametrize(
    ("capabilities", "problem"),
    [
        ([1], "Providers[0] (p).capabilities must be an object, got an array"),
        ({"m": 5}, "Providers[0] (p).capabilities.m must be an object, got a number"),
        ({"m": {"context_window": "big"}}, "capabilities.m.context_window must be a positive whole number of tokens"),
        ({"m": {"max_output_tokens": 0}}, "capabilities.m.max_output_tokens must be a positive whole number of tokens"),
        ({"m": {"reasoning": "yes"}}, "capabilities.m.reasoning must be true or false, got a string"),
        ({"m": {"contextWindow": 1}}, "capabilities.m.contextWindow is not a capability"),
    ],
)
def test_bad_capabilities_are_refused_with_their_place(capabilities: Any, problem: str) -> None:
    result = parse_config({"Providers": [{"name": "p", "api_base_url": "http://x", "models": ["m"],
                                          "capabilities": capabilities}]})
    assert result.value is None
    assert problem in str(result.problems[0])


# -- the wire --------------------------------------------------------------------------------------


async def test_max_tokens_capped_to_the_models_longest_answer(make_client: Any, fake: Any) -> None:
    client = await make_client(config_with(fake))
    for model, sent in (("fake,small", 8000), ("fake,gpt-4o", 16_384), ("fake,plain", 32_000)):
        fake.queue(json_reply(completion("ok")))
        await sdk(client).messages.create(model=model, max_tokens=32_000, messages=USER, timeout=LONG_CALL)
        assert fake.requests[-1].body["max_tokens"] == sent, model


async def test_a_capped_answer_keeps_the_thinking_budget_below_it(make_client: Any, fake: Any) -> None:
    config = config_with(fake)
    config["Providers"][0]["transformer"] = {"use": ["Anthropic"]}  # passthrough: the body as sent
    client = await make_client(config)
    fake.queue(json_reply({"id": "m", "type": "message", "role": "assistant", "model": "small", "content": [],
                           "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}}))
    await sdk(client).messages.create(model="fake,small", max_tokens=32_000, messages=USER, timeout=LONG_CALL,
                                      thinking={"type": "enabled", "budget_tokens": 31_999})
    assert fake.requests[-1].body["max_tokens"] == 8000
    assert fake.requests[-1].body["thinking"] == {"type": "enabled", "budget_tokens": 7999}


async def test_prompt_over_the_window_is_refused_in_anthropic_words(make_client: Any, fake: Any) -> None:
    client = await make_client(config_with(fake))
    # 7000 cl100k tokens leave less than 4096 of a 10000-token window for the answer.
    long = [{"role": "user", "content": words(7000)}]
    with pytest.raises(anthropic.BadRequestError) as refused:
        await sdk(client).messages.create(model="fake,small", max_tokens=8000, messages=long)
    assert refused.value.status_code == 400
    # Claude Code matches this text and compacts the conversation instead of failing.
    assert refused.value.body["error"] == {  # type: ignore[index]
        "type": "invalid_request_error", "message": "prompt is too long: 7000 tokens > 5904 maximum",
    }
    assert fake.requests == []  # the provider is not bothered


async def test_answer_lowered_to_what_the_window_leaves(make_client: Any, fake: Any) -> None:
    client = await make_client(config_with(fake))
    fake.queue(json_reply(completion("ok")))
    prompt = [{"role": "user", "content": words(5000)}]
    await sdk(client).messages.create(model="fake,small", max_tokens=8000, messages=prompt)
    assert fake.requests[-1].body["max_tokens"] == 5000  # what the window leaves


async def test_unknown_models_are_left_alone(make_client: Any, fake: Any) -> None:
    client = await make_client(config_with(fake))
    fake.queue(json_reply(completion("ok")))
    await sdk(client).messages.create(model="fake,plain", max_tokens=100, messages=[{"role": "user", "content": words(20_000)}])
    assert fake.requests[-1].body["max_tokens"] == 100


# -- what Claude Code is told ----------------------------------------------------------------------


def test_session_window_follows_the_router(fake: Any) -> None:
    assert session_window(parsed(config_with(fake))) == 10_000
    # The smallest known window of the models a conversation may reach; unknown ones are skipped.
    assert session_window(parsed(config_with(fake, default="fake,gpt-4o", think="fake,deepseek-chat"))) == 128_000
    assert session_window(parsed(config_with(fake, default="fake,plain"))) is None
    # With longContext set, every long request goes there: its window is the session's.
    assert session_window(parsed(config_with(fake, longContext="fake,gpt-4o"))) == 128_000


def test_code_uses_the_window_of_the_model_it_starts_with(fake: Any) -> None:
    config = parsed(config_with(fake, think="fake,deepseek-chat"))
    assert model_argument(["-p", "hi", "--model", "fake,gpt-4o"]) == "fake,gpt-4o"
    assert model_argument(["--model=ccr-claude/think"]) == "ccr-claude/think"
    assert chosen_window(config, "fake,gpt-4o") == 128_000
    assert chosen_window(config, "ccr-claude/fake,gpt-4o") == 128_000
    assert chosen_window(config, "ccr-claude/think") == 128_000
    assert chosen_window(config, "opus") == 10_000  # a Claude name: routed by the Router


def test_fit_env(fake: Any) -> None:
    assert fit_env(parsed(config_with(fake))) == {
        "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1", "CLAUDE_CODE_MAX_CONTEXT_TOKENS": "10000",
    }
    big = fit_env(parsed(config_with(fake, default="fake,gpt-4o")))
    assert big["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] == big["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] == "128000"
    assert fit_env(parsed(config_with(fake, default="fake,plain"))) == {"CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1"}


def test_activate_exports_discovery_and_window(tmp_path: Path, fake: Any, capsys: Any) -> None:
    import json

    from ccr_aio.cli import main

    path = tmp_path / "config.json"
    path.write_text(json.dumps(config_with(fake, default="fake,gpt-4o")))
    assert main(["activate", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "export CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1\n" in out
    assert "export CLAUDE_CODE_MAX_CONTEXT_TOKENS=128000\n" in out
    assert "export CLAUDE_CODE_AUTO_COMPACT_WINDOW=128000\n" in out
