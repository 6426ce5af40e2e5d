"""`openrouter`: the OpenRouter gateway. Options are merged over the
request body, e.g. `["openrouter", {"provider": {"only": ["anthropic"]}}]`."""

from __future__ import annotations

from ...base import builtin
from .openrouter_like import OpenRouterLike


@builtin
class OpenRouter(OpenRouterLike):
    name = "openrouter"
