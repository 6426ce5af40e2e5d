"""`OpenAI`: the unified shape already is OpenAI chat completions, so no conversion."""

from __future__ import annotations

from .base import Transformer, builtin


@builtin
class OpenAI(Transformer):
    name = "OpenAI"
    endpoint = "/v1/chat/completions"
