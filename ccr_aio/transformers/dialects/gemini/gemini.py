"""`gemini`: Google AI Studio (Generative Language API) as a provider.

Options: `{"parametersJsonSchema": true}` sends tool schemas verbatim instead of converting them
to Gemini's Schema subset (only models/endpoints that accept `parametersJsonSchema`);
`{"max_output_tokens": N}` changes the cap on `maxOutputTokens` (default 65536).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote, urlsplit

from ....shapes.unified import ProviderBody, ProviderChunk, UnifiedChunk, UnifiedCompletion, UnifiedRequest
from ...base import Context, ProviderInfo, Transformer, UpstreamOptions, builtin
from .request import build_request
from .response import gemini_json_to_unified, gemini_stream_to_unified


def gemini_url(base: str, model: str, stream: bool) -> str:
    """`<base>/<model>:action` for a base ending in `/models`, `<base>/models/<model>:action` for
    a versioned base, and the v1beta path for a bare host. The reference silently replaced the
    last path segment of a base without a trailing slash [FIX]."""
    base = base.rstrip("/") + "/"
    path = urlsplit(base).path
    if path == "/":
        base += "v1beta/models/"
    elif not path.endswith("/models/"):
        base += "models/"
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"{base}{quote(model, safe='-._~')}:{action}"


@builtin
class Gemini(Transformer):
    name = "gemini"
    handles_reasoning = True
    reads_tool_signatures = True

    async def request_in(
        self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context
    ) -> tuple[ProviderBody, UpstreamOptions]:
        model = request.get("model") or ctx.model
        body = build_request(
            request,
            model,
            json_schema=bool(self.options.get("parametersJsonSchema")),
            max_output_tokens=self.options.get("max_output_tokens"),
        )
        url = gemini_url(provider.api_base_url, model, request.get("stream") is True)
        return body, UpstreamOptions(url=url, headers={"x-goog-api-key": provider.api_key, "Authorization": None})

    def stream_out(self, chunks: AsyncIterator[ProviderChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
        return gemini_stream_to_unified(chunks, ctx)

    def json_out(self, body: ProviderBody, ctx: Context) -> UnifiedCompletion:
        return gemini_json_to_unified(body, ctx)
