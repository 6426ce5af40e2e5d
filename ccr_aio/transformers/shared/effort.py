"""Reasoning effort levels: the unified request's `reasoning.effort` and what each dialect takes.

The unified levels are Claude Code's (`output_config.effort`: low, medium, high, xhigh, max)
plus `none` (a zero thinking budget). Dialects with fewer levels take the nearest one they
know, never more than their highest.
"""

from __future__ import annotations

from typing import Any

EFFORTS = ("none", "low", "medium", "high", "xhigh", "max")


def effort_of(reasoning: Any) -> str | None:
    """The unified `reasoning.effort` when it is one of the known levels, else None."""
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    return effort if effort in EFFORTS else None


def capped_effort(effort: str | None, top: str = "high") -> str | None:
    """`effort` no higher than `top`; None for none or unknown levels."""
    if effort not in EFFORTS or effort == "none":
        return None
    return top if EFFORTS.index(effort) > EFFORTS.index(top) else effort


def at_least(effort: str | None, level: str) -> bool:
    return effort in EFFORTS and EFFORTS.index(effort) >= EFFORTS.index(level)
