"""`maxcompletiontokens`: send `max_tokens` as `max_completion_tokens`, as OpenAI's o-series and
gpt-5 models require."""

from __future__ import annotations

from typing import Any

from ..base import Context, ProviderInfo, Transformer, builtin


@builtin
class MaxCompletionTokens(Transformer):
    name = "maxcompletiontokens"

    async def request_in(self, request: dict[str, Any], provider: ProviderInfo, ctx: Context) -> dict[str, Any]:
        if not request.get("max_tokens"):
            return request
        moved = {key: value for key, value in request.items() if key != "max_tokens"}
        moved["max_completion_tokens"] = request["max_tokens"]
        return moved
