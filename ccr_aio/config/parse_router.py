"""`Router` (the global one, and the same shape in project/session files) -> `RouterConfig`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .model import ROUTER_KEYS, ROUTER_SCENARIOS, THINK_WHEN, RouterConfig, ThinkWhen
from .problems import At, Findings, kind


def parse_router(value: Any, at: At, found: Findings) -> RouterConfig:
    """Scenarios are `"provider,model"` strings ("" = unset); null means an empty Router."""
    if value is None:
        return RouterConfig()
    if not isinstance(value, Mapping):
        found.add(at, f"must be an object, got {kind(value)}")
        return RouterConfig()
    pairs: dict[str, str | None] = {}
    for key in ROUTER_SCENARIOS:
        pair = value.get(key)
        if pair is not None and not isinstance(pair, str):
            found.add(at.field(key), f'must be a string "provider,model", got {kind(pair)}')
        elif pair and "," not in pair:
            found.add(at.field(key), f'must be "provider,model", got {pair!r}'[:200])
        else:
            pairs[key] = pair
    threshold = value.get("longContextThreshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        found.add(at.field("longContextThreshold"), "must be a number")
        threshold = None
    think_when = _think_when(value.get("thinkWhen"), at, found)
    return RouterConfig(
        default=pairs.get("default"),
        background=pairs.get("background"),
        think=pairs.get("think"),
        long_context=pairs.get("longContext"),
        web_search=pairs.get("webSearch"),
        image=pairs.get("image"),
        subagent=pairs.get("subagent"),
        long_context_threshold=threshold,
        think_when=think_when,
        extra=MappingProxyType({k: v for k, v in value.items() if k not in ROUTER_KEYS}),
        given=frozenset(k for k in value if k in ROUTER_KEYS),
    )


def _think_when(value: Any, at: At, found: Findings) -> ThinkWhen | None:
    """`"asked"` (the default) or `"thinking"` (Claude Code Router's rule); null or "" = not set."""
    if value is None or value == "":
        return None
    for choice in THINK_WHEN:
        if isinstance(value, str) and value.strip().lower() == choice:
            return choice
    choices = " or ".join(f'"{c}"' for c in THINK_WHEN)
    found.add(at.field("thinkWhen"), f"must be {choices}, got {value!r}"[:200])
    return None
