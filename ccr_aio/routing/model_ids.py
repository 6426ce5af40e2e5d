"""The model ids ccr-aio offers Claude Code's `/model` picker, and reading them back.

Claude Code (with `CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1`) asks `GET /v1/models` and
keeps only ids that match `/(claude|anthropic)/i`, so a bare `deepseek,deepseek-chat` is never
offered. Each pair is therefore listed as `ccr-claude/deepseek,deepseek-chat`, and each set Router
scenario as `ccr-claude/think` (whatever `Router.think` names when the request arrives). When
Claude Code sends such an id back as `model`, the prefix is taken off and the request goes
exactly where the id says. The prefix does not start with `claude-` and ends in `/`, so Claude
Code reads the part after it as the model's name and never mistakes the id for one of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ROUTER_SCENARIOS, RouterScenario

PREFIX = "ccr-claude/"


@dataclass(frozen=True)
class Picked:
    """What a picker id names: a `provider,model` pair, or a Router scenario."""

    pair: str | None = None
    scenario: RouterScenario | None = None


def picker_id(target: str) -> str:
    """The id for a `provider,model` pair or a Router scenario name."""
    return PREFIX + target


def read_picker_id(model: str) -> Picked | None:
    """What a `ccr-claude/...` id names (case-insensitive), or None for any other model name."""
    if model[: len(PREFIX)].lower() != PREFIX:
        return None
    rest = model[len(PREFIX):].strip()
    if "," in rest:
        return Picked(pair=rest)
    lowered = rest.lower()
    scenario = next((s for s in ROUTER_SCENARIOS if s.lower() == lowered), None)
    return Picked(scenario=scenario) if scenario else Picked(pair=rest)
