"""`vertex-gemini`: Gemini models on Vertex AI, the `gemini` mapping with
Vertex URLs and OAuth.

Options (all optional): `project`, `location` (default `GOOGLE_CLOUD_LOCATION` or us-central1),
`credentials` (key file path), `api_version` (default v1), `parametersJsonSchema`,
`max_output_tokens` (see `gemini`). The provider's
`api_base_url` is the host (e.g. `https://us-central1-aiplatform.googleapis.com`); see `vertex_url`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ....google_auth import GoogleAuth, vertex_location, vertex_project, vertex_url
from ....shapes.unified import ProviderBody, ProviderChunk, UnifiedChunk, UnifiedCompletion, UnifiedRequest
from ...base import Context, ProviderInfo, Transformer, UpstreamOptions, builtin
from .request import build_request
from .response import gemini_json_to_unified, gemini_stream_to_unified


@builtin
class VertexGemini(Transformer):
    name = "vertex-gemini"
    handles_reasoning = True
    reads_tool_signatures = True

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.google_auth = GoogleAuth(self.options)  # token cache shared by this chain entry's requests

    async def request_in(
        self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context
    ) -> tuple[ProviderBody, UpstreamOptions]:
        model = request.get("model") or ctx.model
        project = await vertex_project(self.google_auth, self.options)
        stream = request.get("stream") is True
        url = vertex_url(
            provider.api_base_url,
            project=project,
            location=vertex_location(self.options, "us-central1"),
            publisher="google",
            model=model,
            action="streamGenerateContent?alt=sse" if stream else "generateContent",
            version=str(self.options.get("api_version") or "v1"),
        )
        # functionCall ids are optional and older Vertex v1 schemas reject them: calls and
        # responses pair up by order and name instead.
        body = build_request(
            request,
            model,
            include_ids=False,
            json_schema=bool(self.options.get("parametersJsonSchema")),
            max_output_tokens=self.options.get("max_output_tokens"),
        )
        token = await self.google_auth.token()
        return body, UpstreamOptions(url=url, headers={"Authorization": f"Bearer {token}", "x-goog-api-key": None})

    def stream_out(self, chunks: AsyncIterator[ProviderChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
        return gemini_stream_to_unified(chunks, ctx)

    def json_out(self, body: ProviderBody, ctx: Context) -> UnifiedCompletion:
        return gemini_json_to_unified(body, ctx)
