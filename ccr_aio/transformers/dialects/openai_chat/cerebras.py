"""`cerebras`: Cerebras inference.

Request only: the unified `reasoning` extension is removed (when absent, `disable_reasoning:
false` is sent, as the reference does), the assistant `thinking` extension is dropped, and the
upstream call carries Bearer auth explicitly. Responses pass through.
"""

from __future__ import annotations

from typing import Any

from ....shapes.unified import ProviderBody, UnifiedRequest
from ...base import Context, ProviderInfo, Transformer, UpstreamOptions, builtin
from ...reasoning.thinking import replay_reasoning


@builtin
class Cerebras(Transformer):
    name = "cerebras"
    handles_reasoning = True

    async def request_in(
        self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context
    ) -> tuple[ProviderBody, UpstreamOptions]:
        had_reasoning = "reasoning" in request
        body: dict[str, Any] = {key: value for key, value in request.items() if key != "reasoning"}
        if not had_reasoning:
            body["disable_reasoning"] = False
        if isinstance(body.get("messages"), list):
            body["messages"] = replay_reasoning(body["messages"], None)
        headers: dict[str, str | None] = {"Content-Type": "application/json"}
        if provider.api_key:
            headers["Authorization"] = f"Bearer {provider.api_key}"
        return body, UpstreamOptions(headers=headers)
