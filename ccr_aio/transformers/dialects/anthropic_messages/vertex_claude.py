"""`vertex-claude`: Anthropic models on Vertex AI ([FIX]).

The upstream speaks Anthropic Messages (`rawPredict` / `streamRawPredict`), so the unified request
is converted back to a full Anthropic body (`request.py`) and the Anthropic answer
to unified chunks (`response.py`). Options as for `vertex-gemini` (`project`,
`location` defaulting to us-east5, `credentials`, `api_version`), plus `max_tokens`: a cap for
models whose output limit is below what the client asks for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ....google_auth import GoogleAuth, vertex_location, vertex_project, vertex_url
from ....shapes.unified import ProviderBody, ProviderChunk, UnifiedChunk, UnifiedCompletion, UnifiedRequest
from ...base import Context, ProviderInfo, Transformer, UpstreamOptions, builtin
from .request import unified_to_anthropic
from .response import (
    anthropic_json_to_unified,
    anthropic_stream_to_unified,
)


@builtin
class VertexClaude(Transformer):
    name = "vertex-claude"
    handles_reasoning = True
    keeps_cache_control = True  # Anthropic models honour it

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.google_auth = GoogleAuth(self.options)

    async def request_in(
        self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context
    ) -> tuple[ProviderBody, UpstreamOptions]:
        model = request.get("model") or ctx.model
        project = await vertex_project(self.google_auth, self.options)
        url = vertex_url(
            provider.api_base_url,
            project=project,
            location=vertex_location(self.options, "us-east5"),
            publisher="anthropic",
            model=model,
            action="streamRawPredict" if request.get("stream") is True else "rawPredict",
            version=str(self.options.get("api_version") or "v1"),
        )
        token = await self.google_auth.token()
        headers = {"Authorization": f"Bearer {token}", "x-goog-api-key": None}
        body = unified_to_anthropic(request, self.options.get("max_tokens"))
        return body, UpstreamOptions(url=url, headers=headers)

    def stream_out(self, chunks: AsyncIterator[ProviderChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
        return anthropic_stream_to_unified(chunks, ctx)

    def json_out(self, body: ProviderBody, ctx: Context) -> UnifiedCompletion:
        return anthropic_json_to_unified(body, ctx)
