"""`OpenAI`: the unified shape already is OpenAI chat completions, so no conversion."""

from __future__ import annotations

from typing import Any

from ...base import Transformer, builtin


@builtin
class OpenAI(Transformer):
    """Option `cache_control: true` keeps Anthropic cache markers for OpenAI-format gateways
    that honour them (LiteLLM, DashScope...); by default they are stripped."""

    name = "OpenAI"
    endpoint = "/v1/chat/completions"

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.keeps_cache_control = bool(self.options.get("cache_control"))
