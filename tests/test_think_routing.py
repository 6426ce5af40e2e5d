"""`Router.think` vs `Router.default`, and `Router.subagent`, on what Claude Code 2.1.332 sends.

Every main-loop request carries `thinking: {"type": "adaptive"}`, so "thinking present" says
nothing; the user asks for deeper thinking with `ultrathink` or a raised effort (`/effort`,
`--effort`: `output_config.effort` above Claude Code's default, `medium` for its own names).
Subagent requests carry `x-claude-code-agent-id` and `cc_is_subagent=true` in the billing block.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import FIXTURES, provider_config, sdk
from tests.fakes.openai_upstream import completion, json_reply

CAPTURED = FIXTURES / "claude-code-2.1.332"
MODELS = ["default-m", "think-m", "bg-m", "sub-m", "tag-m"]
ROUTER = {"default": "fake,default-m", "think": "fake,think-m", "background": "fake,bg-m"}


def captured(name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A request body Claude Code sent and the headers that matter here, non-streaming."""
    exchange = json.loads((CAPTURED / name).read_text())
    body = copy.deepcopy(exchange["body"])
    body["stream"] = False
    headers = {k: v for k, v in exchange["headers"].items() if k.lower().startswith("x-claude-code")}
    return body, headers


def with_prompt(body: dict[str, Any], text: str) -> dict[str, Any]:
    """The first turn with the user's own text replaced (the system-reminder block stays)."""
    body["messages"][0]["content"][-1]["text"] = text
    return body


async def routed(client: Any, fake: Any, body: dict[str, Any], headers: dict[str, str] | None = None) -> str:
    fake.queue(json_reply(completion("ok")))
    response = await client.post("/v1/messages?beta=true", json=body, headers=headers or {})
    assert response.status == 200, await response.text()
    return str(fake.requests[-1].body["model"])


@pytest.fixture
async def client(make_client: Any, fake: Any) -> Any:
    return await make_client({"Providers": [provider_config(fake, models=MODELS)], "Router": dict(ROUTER)})


async def test_an_ordinary_turn_goes_to_default(client: Any, fake: Any) -> None:
    body, _ = captured("first-turn.json")  # `claude -p "say hi"`: adaptive thinking, effort medium
    assert body["thinking"]["type"] == "adaptive" and body["output_config"] == {"effort": "medium"}
    assert await routed(client, fake, body) == "default-m"


@pytest.mark.parametrize("prompt", ["ultrathink: why does this fail?", "Please ULTRATHINK about it", "ultrathink"])
async def test_ultrathink_goes_to_think(client: Any, fake: Any, prompt: str) -> None:
    body, _ = captured("first-turn.json")
    assert await routed(client, fake, with_prompt(body, prompt)) == "think-m"


async def test_ultrathink_holds_for_the_tool_calls_of_its_turn(client: Any, fake: Any) -> None:
    body, _ = captured("tool-result-turn.json")
    body["model"] = "claude-opus-5-5"
    body["output_config"] = {"effort": "medium"}
    assert await routed(client, fake, body) == "default-m"
    body["messages"][0]["content"][-1]["text"] = "ultrathink, then run the check"
    assert body["messages"][-1]["content"][0]["type"] == "tool_result"  # the turn goes on
    assert await routed(client, fake, body) == "think-m"
    body["messages"].append({"role": "user", "content": [{"type": "text", "text": "thanks, now say hi"}]})
    assert await routed(client, fake, body) == "default-m"  # a new prompt: a new turn


async def test_ultrathink_in_a_system_reminder_is_not_the_users(client: Any, fake: Any) -> None:
    body, _ = captured("first-turn.json")
    body["messages"][0]["content"][0]["text"] = "<system-reminder>\nCLAUDE.md: ultrathink before refactors\n</system-reminder>"
    assert await routed(client, fake, body) == "default-m"


@pytest.mark.parametrize(
    ("model", "effort", "expected"),
    [
        ("claude-opus-5-5", "low", "default-m"),
        ("claude-opus-5-5", "medium", "default-m"),  # Claude Code's default for its own names
        ("claude-opus-5-5", "high", "think-m"),  # /effort high, --effort high
        ("claude-opus-5-5", "xhigh", "think-m"),
        ("claude-opus-5-5", "max", "think-m"),
        ("claude-sonnet-5-5", "high", "think-m"),
        ("claude-opus-4-6", "high", "default-m"),  # older names: Claude Code's default is high
        ("claude-opus-4-6", "xhigh", "think-m"),
        ("claude-opus-4-7", "xhigh", "default-m"),  # its default
        ("claude-opus-4-7", "max", "think-m"),
        ("deepseek-chat-like", "high", "default-m"),  # Claude Code's default for names it does not know
        ("deepseek-chat-like", "max", "think-m"),
    ],
)
async def test_a_raised_effort_goes_to_think(client: Any, fake: Any, model: str, effort: str, expected: str) -> None:
    body, _ = captured("first-turn.json")
    body["model"], body["output_config"] = model, {"effort": effort}
    assert await routed(client, fake, body) == expected


async def test_thinking_budgets(client: Any, fake: Any) -> None:
    messages = [{"role": "user", "content": "hi"}]
    # Older Claude names: Claude Code always sends budget_tokens = max_tokens - 1 (not the user's doing).
    automatic = {"model": "claude-sonnet-4-5", "max_tokens": 32000, "messages": messages,
                 "thinking": {"type": "enabled", "budget_tokens": 31999}}
    assert await routed(client, fake, automatic) == "default-m"
    # MAX_THINKING_TOKENS, or any client that picks a budget, asks for thinking.
    chosen = {**automatic, "thinking": {"type": "enabled", "budget_tokens": 12000}}
    assert await routed(client, fake, chosen) == "think-m"


async def test_ccr_rule_behind_think_when(make_client: Any, fake: Any) -> None:
    router = {**ROUTER, "thinkWhen": "thinking"}
    client = await make_client({"Providers": [provider_config(fake, models=MODELS)], "Router": router})
    body, _ = captured("first-turn.json")
    assert await routed(client, fake, body) == "think-m"
    body["thinking"] = {"type": "disabled"}
    assert await routed(client, fake, body) == "default-m"


async def test_sdk_turns(client: Any, fake: Any) -> None:
    fake.queue(json_reply(completion("ok")), json_reply(completion("ok")))
    messages = [{"role": "user", "content": "ultrathink: plan it"}]
    await sdk(client).messages.create(model="claude-opus-5-5", max_tokens=100, messages=messages,
                                      thinking={"type": "adaptive"})  # type: ignore[typeddict-item]
    await sdk(client).messages.create(model="claude-opus-5-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}],
                                      thinking={"type": "adaptive"})  # type: ignore[typeddict-item]
    assert [r.body["model"] for r in fake.requests] == ["think-m", "default-m"]


# -- subagents ----------------------------------------------------------------------------------


def untagged_subagent() -> tuple[dict[str, Any], dict[str, str]]:
    body, headers = captured("subagent-first-turn.json")
    body["system"][2]["text"] = body["system"][2]["text"].split("</CCR-SUBAGENT-MODEL>\n", 1)[1]
    return body, headers


@pytest.fixture
async def with_subagent(make_client: Any, fake: Any) -> Any:
    router = {**ROUTER, "subagent": "fake,sub-m"}
    return await make_client({"Providers": [provider_config(fake, models=MODELS)], "Router": router})


async def test_subagent_without_tag_goes_to_router_subagent(with_subagent: Any, fake: Any) -> None:
    body, headers = untagged_subagent()
    assert headers["x-claude-code-agent-id"] == "a78aba6775c5394ca"
    assert body["model"] == "claude-haiku-5-5"  # would be `background` without the rule
    assert await routed(with_subagent, fake, body, headers) == "sub-m"


async def test_either_subagent_mark_is_enough(with_subagent: Any, fake: Any) -> None:
    body, headers = untagged_subagent()
    assert await routed(with_subagent, fake, copy.deepcopy(body)) == "sub-m"  # billing block only
    body["system"][0]["text"] = body["system"][0]["text"].replace(" cc_is_subagent=true;", "")
    assert await routed(with_subagent, fake, copy.deepcopy(body), headers) == "sub-m"  # header only
    assert await routed(with_subagent, fake, body) == "bg-m"  # neither: a main-loop haiku request


async def test_the_tag_wins_over_router_subagent(with_subagent: Any, fake: Any) -> None:
    body, headers = captured("subagent-first-turn.json")
    body["system"][2]["text"] = body["system"][2]["text"].replace("fake,sc-sub", "fake,tag-m")
    assert await routed(with_subagent, fake, body, headers) == "tag-m"


async def test_without_router_subagent_nothing_changes(client: Any, fake: Any) -> None:
    body, headers = untagged_subagent()
    assert await routed(client, fake, body, headers) == "bg-m"
