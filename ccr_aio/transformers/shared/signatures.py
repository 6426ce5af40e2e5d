"""Thinking signatures: synthesized ones, and provenance tags on real ones.

A thinking block's signature only means something to the provider that issued it. Claude Code
stores whatever signature we stream and sends it back on later turns, possibly to another
provider after a model switch, and a provider that verifies signatures (Anthropic models behind
OpenRouter or Vercel) answers "invalid signature" to any it did not issue. So a real upstream
signature is relayed wrapped in a tag naming its source, and a request hook replays a signature
only when the tag names itself. Every other signature (synthesized `ccr_…`, epoch-ms strings
from the reference, or another provider's) is foreign: the reasoning text may be replayed, the
signature never is. Tags start with `ccr_` too, so code that treats `ccr_` as "not Anthropic's"
keeps them away from Anthropic-native endpoints.
"""

from __future__ import annotations

from ..base import Context


def synthesize(ctx: Context) -> str:
    """A signature for a thinking block whose upstream gave none."""
    return ctx.new_id("ccr_")


def tag(source: str, signature: str, fmt: str | None = None) -> str:
    """Wrap a real upstream signature: `ccr_<source>:<format>:<signature>`."""
    return f"ccr_{source}:{fmt or ''}:{signature}"


def untag(source: str, signature: object) -> tuple[str, str | None] | None:
    """(signature, format) when `signature` is a tag issued for `source`, else None (foreign)."""
    prefix = f"ccr_{source}:"
    if not isinstance(signature, str) or not signature.startswith(prefix):
        return None
    fmt, sep, real = signature[len(prefix) :].partition(":")
    if not sep or not real:
        return None
    return real, fmt or None
