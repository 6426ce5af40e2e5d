"""Run a provider's transformer chain around one upstream call.

Request: endpoint `request_out` → provider chain `request_in` → model chain `request_in`.
Response: provider chain reversed → model chain reversed (CCR's order) → endpoint `*_in`.
A provider whose chains name only the endpoint transformer is a passthrough ("bypass"):
the client body goes upstream untouched and the answer comes back byte for byte. The unified
`reasoning` only reaches a provider through a transformer that handles it (`handles_reasoning`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

from ..providers import Provider
from ..shapes.anthropic import AnthropicRequest
from ..shapes.unified import ProviderBody, ProviderChunk, UnifiedChunk, UnifiedCompletion, UnifiedRequest
from ..transformers.base import Context, Transformer, UpstreamOptions
from ..transformers.shared.cache_control import strip_cache_control
from ..transformers.shared.effort import capped_effort, effort_of
from ..transformers.shared.tool_signatures import strip_signatures
from .chunk_shape import check_answer


@dataclass
class Prepared:
    body: ProviderBody  # as it goes upstream: the provider's format, or the client's (bypass)
    options: UpstreamOptions = field(default_factory=UpstreamOptions)
    bypass: bool = False


def is_bypass(endpoint: Transformer, provider: Provider, model: str) -> bool:
    name = endpoint.name.lower()
    chain = provider.chain
    model_chain = provider.model_chain(model)
    if len(chain) != 1 or chain[0].name.lower() != name:
        return False
    return not model_chain or (len(model_chain) == 1 and model_chain[0].name.lower() == name)


def _request_hooks(provider: Provider, model: str) -> list[Transformer]:
    hooks = [t for t in provider.chain if t.overrides("request_in")]
    return hooks + [t for t in provider.model_chain(model) if t.overrides("request_in")]


def _response_hooks(provider: Provider, model: str, hook: str) -> list[Transformer]:
    hooks = [t for t in reversed(provider.chain) if t.overrides(hook)]
    return hooks + [t for t in reversed(provider.model_chain(model)) if t.overrides(hook)]


async def prepare_request(
    endpoint: Transformer, provider: Provider, model: str, body: AnthropicRequest, ctx: Context
) -> Prepared:
    if is_bypass(endpoint, provider, model):
        passthrough = provider.chain[0].passthrough(body, ctx)
        passthrough["model"] = model
        return Prepared(passthrough, UpstreamOptions(), bypass=True)
    request = endpoint.request_out(body, ctx)
    request["model"] = model
    known = provider.capabilities(model)
    if known.reasoning is False:  # the config (or the table) says this model does not reason
        request.pop("reasoning", None)
    options = UpstreamOptions()
    for transformer in _request_hooks(provider, model):
        result = await transformer.request_in(request, provider, ctx)
        if isinstance(result, tuple):
            result, extra = result
            options.merge(extra)
        # After a dialect the body is in the provider's format; the hooks after it get it as
        # it is, as in Claude Code Router (for an OpenAI-format provider it is still unified).
        request = cast(UnifiedRequest, result)
    transformers = (*provider.chain, *provider.model_chain(model))
    if "reasoning" in request and not any(t.handles_reasoning for t in transformers):
        request = plain_reasoning(request, known.reasoning is True)
    if not any(t.keeps_cache_control for t in transformers):
        request = strip_cache_control(request)  # OpenAI-format providers reject or ignore it
    if not any(t.reads_tool_signatures for t in transformers):
        request = strip_signatures(request)  # only Gemini reads them; strict providers reject them
    return Prepared(request, options)


def plain_reasoning(request: UnifiedRequest, reasons: bool) -> UnifiedRequest:
    """No transformer in the chain knows the unified `reasoning`: an OpenAI-format provider gets
    OpenAI's `reasoning_effort` (low/medium/high) when the model is known to reason, else
    nothing (strict servers reject unknown fields, and non-reasoning models the knob)."""
    reasoning = request.get("reasoning")
    body: dict[str, Any] = {key: value for key, value in request.items() if key != "reasoning"}
    enabled = isinstance(reasoning, dict) and reasoning.get("enabled") is not False
    effort = capped_effort(effort_of(reasoning))
    if reasons and enabled and effort and "reasoning_effort" not in body:
        body["reasoning_effort"] = effort  # OpenAI's field, not part of the unified shape
    return cast(UnifiedRequest, body)


def unified_stream(
    provider: Provider, model: str, chunks: AsyncIterator[ProviderChunk], ctx: Context
) -> AsyncIterator[UnifiedChunk]:
    """Provider chunks → unified chunks (provider chain reversed, then model chain).

    An OpenAI-format provider's chunks are unified already; a dialect that reads another
    format takes `ProviderChunk`s. `chunks` come checked (`chunk_shape.chunk_check`, run as
    they are parsed): only shapes no hook could read (a string `delta`...) are refused there;
    every hook reads the rest defensively."""
    unified = cast(AsyncIterator[UnifiedChunk], chunks)
    for transformer in _response_hooks(provider, model, "stream_out"):
        unified = transformer.stream_out(unified, ctx)
    return unified


def unified_json(provider: Provider, model: str, body: ProviderBody, ctx: Context) -> UnifiedCompletion:
    """Provider JSON → a unified answer, as `unified_stream` does for chunks."""
    check_answer(body, f"{provider.name},{model}")
    unified = cast(UnifiedCompletion, body)
    for transformer in _response_hooks(provider, model, "json_out"):
        unified = transformer.json_out(unified, ctx)
    return unified
