"""`sampling`: pin sampling parameters from options.

Options `max_tokens` (a cap, like `maxtoken`), `temperature`, `top_p`, `top_k`,
`repetition_penalty`: each one set in the options overwrites the request's value (or adds it).
"""

from __future__ import annotations

from typing import Any

from ...shapes.unified import ProviderBody, UnifiedRequest
from ..base import Context, ProviderInfo, Transformer, builtin
from .options import cap_max_tokens, number_option

_PINNED = ("temperature", "top_p", "top_k", "repetition_penalty")


@builtin
class Sampling(Transformer):
    name = "sampling"

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.limit = number_option(self.options, "max_tokens", self.name)
        pinned = {key: number_option(self.options, key, self.name) for key in _PINNED}
        self.pinned = {key: value for key, value in pinned.items() if value is not None}

    async def request_in(self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context) -> ProviderBody:
        request = cap_max_tokens(request, self.limit)
        return {**request, **self.pinned} if self.pinned else request
