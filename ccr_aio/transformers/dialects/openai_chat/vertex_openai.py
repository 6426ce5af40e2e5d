"""`vertex-openai`: Vertex AI's OpenAI-compatible chat endpoint.

The unified request already is OpenAI chat, so only the auth changes: a service-account OAuth
token as the Bearer. Options are required: `client_email` + `private_key` (`\\n` escapes allowed),
or `credentials` (a key file path). The provider's `api_base_url` is the full endpoint, e.g.
`https://<loc>-aiplatform.googleapis.com/v1/projects/<p>/locations/<loc>/endpoints/openapi/chat/completions`.
"""

from __future__ import annotations

from typing import Any

from ....google_auth import GoogleAuth
from ....shapes.unified import ProviderBody, UnifiedRequest
from ...base import Context, ProviderInfo, Transformer, UpstreamOptions, builtin


@builtin
class VertexOpenAI(Transformer):
    name = "vertex-openai"

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        # Missing credentials are a config error at start-up, not a failure on the first request.
        self.google_auth = GoogleAuth.require_inline(self.options, self.name)

    async def request_in(
        self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context
    ) -> tuple[ProviderBody, UpstreamOptions]:
        token = await self.google_auth.token()
        return request, UpstreamOptions(headers={"Authorization": f"Bearer {token}"})
