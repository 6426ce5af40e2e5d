"""An example ccr-aio transformer plugin: tags every upstream request with a header and caps
`max_tokens`, both taken from options.

    // ~/.claude-code-router/config.json
    "transformers": [
      {"path": "/path/to/examples/my_transformer.py",
       "options": {"header": "X-Team", "value": "research", "max_tokens": 8192}}
    ],
    "Providers": [
      {"name": "deepseek", ..., "transformer": {"use": ["my-transformer"]}},
      {"name": "other", ..., "transformer": {"use": [["my-transformer", {"max_tokens": 4096}]]}}
    ]

The `options` of the `transformers` entry are defaults; a chain entry's options override them
key by key. See "Transformers and plugins" in the README for every hook.
"""

from __future__ import annotations

from typing import Any

from ccr_aio.shapes.unified import UnifiedRequest
from ccr_aio.transformers.base import Context, ProviderInfo, Transformer, UpstreamOptions


class MyTransformer(Transformer):
    name = "my-transformer"  # what provider chains write in `use`

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)  # keeps them as self.options
        self.header = str(self.options.get("header", "X-CCR-Plugin"))
        self.value = str(self.options.get("value", "my-transformer"))
        self.max_tokens = int(self.options.get("max_tokens") or 0)

    async def request_in(
        self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context
    ) -> tuple[UnifiedRequest, UpstreamOptions]:
        """Unified (OpenAI chat) request -> what the provider receives. Return a new dict rather
        than editing `request`: parts of it are shared with the client's body."""
        asked = request.get("max_tokens")
        if self.max_tokens and isinstance(asked, int) and asked > self.max_tokens:
            request = {**request, "max_tokens": self.max_tokens}
        # Headers merge key by key with the provider's own; a value of None removes a header.
        return request, UpstreamOptions(headers={self.header: self.value})
