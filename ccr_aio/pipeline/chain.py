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
from typing import Any

from ..providers import Provider
from ..transformers.base import Context, Transformer, UpstreamOptions
from ..transformers.shared.cache_control import strip_cache_control
from ..transformers.shared.effort import capped_effort, effort_of
from .chunk_shape import check_answer, checked_chunks


@dataclass
class Prepared:
    body: dict[str, Any]
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
    endpoint: Transformer, provider: Provider, model: str, body: dict[str, Any], ctx: Context
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
            request, extra = result
            options.merge(extra)
        else:
            request = result
    chain = (*provider.chain, *provider.model_chain(model))
    if "reasoning" in request and not any(t.handles_reasoning for t in chain):
        request = plain_reasoning(request, known.reasoning is True)
    if not any(t.keeps_cache_control for t in chain):
        request = strip_cache_control(request)  # OpenAI-format providers reject or ignore it
    return Prepared(request, options)


def plain_reasoning(request: dict[str, Any], reasons: bool) -> dict[str, Any]:
    """No transformer in the chain knows the unified `reasoning`: an OpenAI-format provider gets
    OpenAI's `reasoning_effort` (low/medium/high) when the model is known to reason, else
    nothing (strict servers reject unknown fields, and non-reasoning models the knob)."""
    reasoning = request["reasoning"]
    request = {key: value for key, value in request.items() if key != "reasoning"}
    enabled = isinstance(reasoning, dict) and reasoning.get("enabled") is not False
    effort = capped_effort(effort_of(reasoning))
    if reasons and enabled and effort and "reasoning_effort" not in request:
        request["reasoning_effort"] = effort
    return request


def unified_stream(
    provider: Provider, model: str, chunks: AsyncIterator[dict], ctx: Context
) -> AsyncIterator[dict]:
    """Provider chunks → unified chunks (provider chain reversed, then model chain)."""
    chunks = checked_chunks(chunks, f"{provider.name},{model}")
    for transformer in _response_hooks(provider, model, "stream_out"):
        chunks = transformer.stream_out(chunks, ctx)
    return chunks


def unified_json(provider: Provider, model: str, body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    check_answer(body, f"{provider.name},{model}")
    for transformer in _response_hooks(provider, model, "json_out"):
        body = transformer.json_out(body, ctx)
    return body
