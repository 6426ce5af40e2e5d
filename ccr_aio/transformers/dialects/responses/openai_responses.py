"""`openai-responses`: a provider whose upstream speaks the OpenAI Responses API
(`POST …/v1/responses`, typically gpt-5 / codex models), with [FIX]es.

The conversions live in `request.py`, `stream.py` and
`response.py` beside it; this class only wires them to the chain's hooks.

Options: `parallel_tool_calls` (default false, as the reference sends): tool calls stream
with their own indices, so allowing parallel calls is safe when the model handles them well.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ....shapes.unified import ProviderBody, ProviderChunk, UnifiedChunk, UnifiedCompletion, UnifiedRequest
from ...base import Context, ProviderInfo, Transformer, builtin
from .request import unified_to_responses
from .response import responses_to_unified
from .stream import responses_to_unified_stream


@builtin
class OpenAIResponses(Transformer):
    name = "openai-responses"
    handles_reasoning = True

    async def request_in(self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context) -> ProviderBody:
        return unified_to_responses(request, provider.name, bool(self.options.get("parallel_tool_calls")))

    def stream_out(self, chunks: AsyncIterator[ProviderChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
        return responses_to_unified_stream(chunks, ctx)

    def json_out(self, body: ProviderBody, ctx: Context) -> UnifiedCompletion:
        return responses_to_unified(body, ctx)
