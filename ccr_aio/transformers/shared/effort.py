"""Reasoning effort levels: the unified request's `reasoning.effort` and what each dialect takes.

The unified levels are Claude Code's (`output_config.effort`: low, medium, high, xhigh, max)
plus `none` (a zero thinking budget). Dialects with fewer levels take the nearest one they
know, never more than their highest.
"""

from __future__ import annotations

from typing import Any

from ...shapes.unified import Effort

EFFORTS: tuple[Effort, ...] = ("none", "low", "medium", "high", "xhigh", "max")


def as_effort(value: Any) -> Effort | None:
    """`value` when it is one of the known levels, else None."""
    return next((level for level in EFFORTS if level == value), None)


def effort_of(reasoning: Any) -> Effort | None:
    """The unified `reasoning.effort` when it is one of the known levels, else None."""
    return as_effort(reasoning.get("effort") if isinstance(reasoning, dict) else None)


def capped_effort(effort: str | None, top: Effort = "high") -> Effort | None:
    """`effort` no higher than `top`; None for none or unknown levels."""
    level = as_effort(effort)
    if level is None or level == "none":
        return None
    return top if EFFORTS.index(level) > EFFORTS.index(top) else level


def at_least(effort: str | None, level: Effort) -> bool:
    known = as_effort(effort)
    return known is not None and EFFORTS.index(known) >= EFFORTS.index(level)
