"""`maxcompletiontokens`: send `max_tokens` as `max_completion_tokens`, as OpenAI's o-series and
gpt-5 models require."""

from __future__ import annotations

from ...shapes.unified import UnifiedRequest
from ..base import Context, ProviderInfo, Transformer, builtin


@builtin
class MaxCompletionTokens(Transformer):
    name = "maxcompletiontokens"

    async def request_in(self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context) -> UnifiedRequest:
        if not request.get("max_tokens"):
            return request
        moved = request.copy()
        moved["max_completion_tokens"] = moved.pop("max_tokens")
        return moved
