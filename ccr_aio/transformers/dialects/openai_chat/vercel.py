"""`vercel`: the Vercel AI Gateway, which speaks OpenRouter's dialect."""

from __future__ import annotations

from ...base import builtin
from .openrouter_like import OpenRouterLike


@builtin
class Vercel(OpenRouterLike):
    name = "vercel"
