"""What a request says about itself, for the routing rules: is it a subagent's, does it have
thinking on, did the user ask for deeper thinking.

Observed with Claude Code 2.1.332: every main-loop request carries `thinking: {"type":
"adaptive"}` (older Claude model names get `{"type": "enabled", "budget_tokens": max_tokens - 1}`
on every request), so "thinking is on" says nothing about the user. What the user controls:

- the `ultrathink` keyword in a prompt (Claude Code keeps it in the prompt text and adds a
  note; `output_config` does not change), which asks for deeper thinking on that turn, tool
  calls included;
- `/effort`, `--effort`, `CLAUDE_CODE_EFFORT_LEVEL`: `output_config.effort`, on every request.
  Claude Code's own default is `medium` for its current model names (Opus/Sonnet/Haiku 5.5,
  what `opus`, `sonnet`, `haiku` and the Default row mean), `xhigh` for Opus 4.7 and `high` for
  other names, its older ones and the ones it does not know (`provider,model`); only an effort
  above that default is the user's doing;
- `MAX_THINKING_TOKENS` with an older model name: `budget_tokens` below the automatic
  `max_tokens - 1`. Other clients that enable thinking with a budget ask for it too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

AGENT_HEADER = "x-claude-code-agent-id"
SUBAGENT_MARK = "cc_is_subagent=true"
BILLING_PREFIX = "x-anthropic-billing-header:"
ULTRATHINK = re.compile(r"\bultrathink\b", re.I)  # Claude Code's own test
REMINDER = "<system-reminder>"
EFFORTS = ("low", "medium", "high", "xhigh", "max")
MEDIUM_BY_DEFAULT = re.compile(r"claude-(opus|sonnet|haiku)-5-5|claude-(fable|mythos)-5-2")


def is_subagent(body: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    """A Claude Code subagent's request: the agent id header, or `cc_is_subagent=true` in the
    billing block of the system prompt."""
    if headers.get(AGENT_HEADER):
        return True
    system = body.get("system")
    blocks = system if isinstance(system, list) else [{"text": system}]
    for block in blocks:
        text = block.get("text") if isinstance(block, dict) else None
        if isinstance(text, str) and text.startswith(BILLING_PREFIX) and SUBAGENT_MARK in text:
            return True
    return False


def has_thinking(body: Mapping[str, Any]) -> bool:
    """Claude Code Router's test: `thinking` present and not disabled."""
    thinking = body.get("thinking")
    return bool(thinking) and not (isinstance(thinking, dict) and thinking.get("type") == "disabled")


def asked_for_thinking(body: Mapping[str, Any]) -> bool:
    """The user asked for deeper thinking: `ultrathink` in the latest prompt, an effort above
    Claude Code's default for the model name, or an explicit thinking budget."""
    return _raised_effort(body) or _explicit_budget(body) or _ultrathink(body)


def _effort(body: Mapping[str, Any]) -> str | None:
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    return effort.lower() if isinstance(effort, str) and effort.lower() in EFFORTS else None


def _raised_effort(body: Mapping[str, Any]) -> bool:
    effort = _effort(body)
    if effort is None:
        return False
    model = body.get("model")
    return EFFORTS.index(effort) > EFFORTS.index(default_effort(model if isinstance(model, str) else ""))


def default_effort(model: str) -> str:
    """The effort Claude Code 2.1.332 sends for `model` when the user did not choose one."""
    name = model.lower()
    if MEDIUM_BY_DEFAULT.search(name):
        return "medium"
    return "xhigh" if "claude-opus-4-7" in name else "high"


def _explicit_budget(body: Mapping[str, Any]) -> bool:
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return False
    budget, limit = thinking.get("budget_tokens"), body.get("max_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool):
        return False
    return not (isinstance(limit, int) and budget == limit - 1)


def _ultrathink(body: Mapping[str, Any]) -> bool:
    return any(ULTRATHINK.search(text) for text in latest_prompt(body))


def latest_prompt(body: Mapping[str, Any]) -> list[str]:
    """The texts of the user's latest prompt: the last user message with text of its own (not
    only tool results or `<system-reminder>` blocks), so the turn's tool loop keeps it."""
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return [content]
        texts = [
            block["text"] for block in content if isinstance(block, dict) and block.get("type") == "text"
            and isinstance(block.get("text"), str) and not block["text"].lstrip().startswith(REMINDER)
        ] if isinstance(content, list) else []
        if texts:
            return texts
    return []
