"""`Router` (the global one, and the same shape in project/session files) -> `RouterConfig`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .model import ROUTER_KEYS, ROUTER_SCENARIOS, RouterConfig
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
    return RouterConfig(
        default=pairs.get("default"),
        background=pairs.get("background"),
        think=pairs.get("think"),
        long_context=pairs.get("longContext"),
        web_search=pairs.get("webSearch"),
        image=pairs.get("image"),
        long_context_threshold=threshold,
        extra=MappingProxyType({k: v for k, v in value.items() if k not in ROUTER_KEYS}),
        given=frozenset(k for k in value if k in ROUTER_KEYS),
    )
