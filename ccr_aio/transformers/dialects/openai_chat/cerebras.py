"""`cerebras`: Cerebras inference.

Request only: the unified `reasoning` extension is removed (when absent, `disable_reasoning:
false` is sent, as the reference does), the assistant `thinking` extension is dropped, and the
upstream call carries Bearer auth explicitly. Responses pass through.
"""

from __future__ import annotations

from typing import Any

from ...base import Context, ProviderInfo, Transformer, UpstreamOptions, builtin
from ...reasoning.thinking import replay_reasoning


@builtin
class Cerebras(Transformer):
    name = "cerebras"
    handles_reasoning = True

    async def request_in(
        self, request: dict[str, Any], provider: ProviderInfo, ctx: Context
    ) -> tuple[dict[str, Any], UpstreamOptions]:
        had_reasoning = "reasoning" in request
        request = {key: value for key, value in request.items() if key != "reasoning"}
        if not had_reasoning:
            request["disable_reasoning"] = False
        if isinstance(request.get("messages"), list):
            request["messages"] = replay_reasoning(request["messages"], None)
        headers: dict[str, str | None] = {"Content-Type": "application/json"}
        if provider.api_key:
            headers["Authorization"] = f"Bearer {provider.api_key}"
        return request, UpstreamOptions(headers=headers)
