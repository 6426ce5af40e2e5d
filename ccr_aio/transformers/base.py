"""The transformer interface, the per-request context, and the name registry.

A transformer is a small class with optional hooks. Endpoint transformers (only `anthropic`
today) convert the client's format to the unified OpenAI-chat shape and back; provider and
model transformers adapt the unified shape to one provider's dialect. Stream hooks are async
generators over already-parsed chunk dicts, so every transformer can be tested with a list.

Hooks a subclass may override (the defaults are identities and are skipped by the chain):

- ``request_out(body, ctx) -> UnifiedRequest``                endpoint: client -> unified
- ``request_in(request, provider, ctx) -> body | (body, UpstreamOptions)``   unified -> provider
- ``stream_out(chunks, ctx) -> AsyncIterator[UnifiedChunk]``  provider chunks -> unified chunks
- ``json_out(body, ctx) -> UnifiedCompletion``                provider JSON -> unified JSON
- ``stream_in(chunks, ctx) -> AsyncIterator[AnthropicEvent]`` endpoint: unified chunks -> client events
- ``json_in(body, ctx) -> AnthropicMessage``                  endpoint: unified JSON -> client JSON
- ``auth(headers, provider, ctx) -> dict``                    endpoint, passthrough mode only
- ``passthrough(body, ctx) -> body``                          endpoint, passthrough mode only

The shapes are in `ccr_aio/shapes/`. A hook receives what the hook before it produced: the
unified shape for an OpenAI-format provider, the provider's own format once a dialect has
converted it. So the request and response hooks are typed for the unified shape, and a dialect
that reads a provider's own answer widens its input to `ProviderChunk` / `ProviderBody`.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, cast

from ..shapes.anthropic import AnthropicEvent, AnthropicMessage, AnthropicRequest
from ..shapes.unified import ProviderBody, UnifiedChunk, UnifiedCompletion, UnifiedRequest


class ProviderInfo(Protocol):
    """What a hook may read of the provider it runs for. The provider table (`providers.py`)
    is built from transformers, so they name this shape instead of importing it."""

    @property
    def name(self) -> str: ...

    @property
    def api_base_url(self) -> str: ...

    @property
    def api_key(self) -> str: ...


@dataclass
class UpstreamOptions:
    """What a request hook may change about the upstream call. Headers merge key by key;
    a header set to None is removed."""

    url: str | None = None
    headers: dict[str, str | None] = field(default_factory=dict)
    timeout_ms: int | None = None
    proxy: str | None = None

    def merge(self, other: UpstreamOptions) -> None:
        self.url = other.url or self.url
        self.headers.update(other.headers)
        self.timeout_ms = other.timeout_ms or self.timeout_ms
        self.proxy = other.proxy or self.proxy


_counter = itertools.count()


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Context:
    """Per-request facts a transformer may read. Ids and the clock are injectable for tests."""

    request_id: str = ""
    provider: str = ""
    model: str = ""
    client_model: str | None = None  # reported back to the client as `model`
    stream: bool = False
    input_tokens: int = 0  # estimate for message_start
    session: str | None = None
    now_ms: Callable[[], int] = _now_ms
    new_uuid: Callable[[], str] = lambda: uuid.uuid4().hex
    extra: dict[str, Any] = field(default_factory=dict)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{self.now_ms()}_{next(_counter)}"


class Transformer:
    name: ClassVar[str] = ""
    endpoint: ClassVar[str | None] = None
    # True when this transformer sends Anthropic `cache_control` markers where they are
    # understood (or removes them itself); otherwise the chain strips them for OpenAI wire.
    # Set on the class, or per instance from options (`OpenAI`).
    keeps_cache_control: bool = False
    # True when this transformer reads the Gemini thought signatures that unified tool calls
    # carry in `extra_content` (shared/tool_signatures.py); otherwise the chain strips them.
    reads_tool_signatures: ClassVar[bool] = False
    # True when this transformer turns the unified `reasoning` into the provider's own knob (or
    # removes it). A chain without one sends no `reasoning`: OpenAI's `reasoning_effort` when the
    # model is known to reason, else nothing (see `pipeline/chain.py`).
    handles_reasoning: ClassVar[bool] = False

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options: dict[str, Any] = dict(options or {})

    # The endpoint hooks default to identities, as in Claude Code Router: an endpoint whose
    # clients speak the unified shape converts nothing. The only endpoint served is Anthropic's.
    def request_out(self, body: AnthropicRequest, ctx: Context) -> UnifiedRequest:
        return cast(UnifiedRequest, body)

    async def request_in(
        self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context
    ) -> ProviderBody | tuple[ProviderBody, UpstreamOptions]:
        return request

    def stream_out(self, chunks: AsyncIterator[UnifiedChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
        return chunks

    def json_out(self, body: UnifiedCompletion, ctx: Context) -> UnifiedCompletion:
        return body

    def stream_in(self, chunks: AsyncIterator[UnifiedChunk], ctx: Context) -> AsyncIterator[AnthropicEvent]:
        return cast(AsyncIterator[AnthropicEvent], chunks)

    def json_in(self, body: UnifiedCompletion, ctx: Context) -> AnthropicMessage:
        return cast(AnthropicMessage, body)

    def auth(self, headers: dict[str, str], provider: ProviderInfo, ctx: Context) -> dict[str, str]:
        return headers

    def passthrough(self, body: AnthropicRequest, ctx: Context) -> AnthropicRequest:
        """Passthrough mode: the client body as sent upstream (a copy; `model` is set after)."""
        return body.copy()

    def overrides(self, hook: str) -> bool:
        """True when this transformer changes `hook`; identities are left out of the chain."""
        return getattr(type(self), hook) is not getattr(Transformer, hook)


class Registry:
    """Transformer classes by lower-cased name (CCR spells `Anthropic`; users type both)."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Transformer]] = {}

    def register(self, cls: type[Transformer], name: str | None = None) -> type[Transformer]:
        self._classes[(name or cls.name).lower()] = cls
        return cls

    def get(self, name: str) -> type[Transformer] | None:
        return self._classes.get(name.lower())

    def create(self, name: str, options: dict[str, Any] | None = None) -> Transformer:
        cls = self.get(name)
        if cls is None:
            raise KeyError(name)
        return cls(options)

    def names(self) -> list[tuple[str, type[Transformer]]]:
        return [(cls.name or key, cls) for key, cls in self._classes.items()]

    def copy(self) -> Registry:
        other = Registry()
        other._classes = dict(self._classes)
        return other


BUILTINS = Registry()


def builtin(cls: type[Transformer]) -> type[Transformer]:
    """Class decorator: register a built-in transformer under its `name`."""
    return BUILTINS.register(cls)
