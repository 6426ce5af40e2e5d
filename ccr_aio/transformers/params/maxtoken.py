"""`maxtoken`: cap `max_tokens` at the `max_tokens` option.

`["maxtoken", {"max_tokens": 16384}]`: 32000 becomes 16384, 100 stays 100, an absent value
stays absent. Without the option it does nothing.
"""

from __future__ import annotations

from typing import Any

from ...shapes.unified import UnifiedRequest
from ..base import Context, ProviderInfo, Transformer, builtin
from .options import cap_max_tokens, number_option


@builtin
class MaxToken(Transformer):
    name = "maxtoken"

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.limit = number_option(self.options, "max_tokens", self.name)

    async def request_in(self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context) -> UnifiedRequest:
        return cap_max_tokens(request, self.limit)
