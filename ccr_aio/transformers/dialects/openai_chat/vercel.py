"""`vercel`: the Vercel AI Gateway, which speaks OpenRouter's dialect (transformers.md §3.6)."""

from __future__ import annotations

from ._openrouter import OpenRouterLike
from .base import builtin


@builtin
class Vercel(OpenRouterLike):
    name = "vercel"
