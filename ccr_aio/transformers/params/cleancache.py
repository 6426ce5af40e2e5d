"""`cleancache`: strip Anthropic `cache_control` markers for providers that reject them.

Removed from every content part, from messages (the reference keeps a message-level marker
when the content is an array; nothing upstream wants it either way) and from tools. Since
OpenAI-format providers get them stripped anyway (pipeline/chain.py), this matters only in
chains that would otherwise keep them (e.g. with `openrouter` for a Claude model).
"""

from __future__ import annotations

from ...shapes.unified import UnifiedRequest
from ..base import Context, ProviderInfo, Transformer, builtin
from ..shared.cache_control import strip_cache_control


@builtin
class CleanCache(Transformer):
    name = "cleancache"

    async def request_in(self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context) -> UnifiedRequest:
        return strip_cache_control(request)
