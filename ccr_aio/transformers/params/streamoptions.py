"""`streamoptions`: ask OpenAI-compatible upstreams for usage in streams. Without
`stream_options.include_usage` OpenAI streams carry no token counts."""

from __future__ import annotations

from ...shapes.unified import UnifiedRequest
from ..base import Context, ProviderInfo, Transformer, builtin


@builtin
class StreamOptions(Transformer):
    name = "streamoptions"

    async def request_in(self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context) -> UnifiedRequest:
        if request.get("stream") is not True:
            return request
        return {**request, "stream_options": {"include_usage": True}}
