"""The config as typed, frozen objects: what every part of ccr-aio reads instead of raw dicts.

`parse.py` builds these from the JSON tree (after `$VAR` interpolation) and is the only code
that knows the file's key names and spellings (`Providers`/`providers`, `api_key`/`apiKey`...).
Unknown keys are not modelled: they live on in the stored dict (`Settings.raw`), which is what
gets written back.

Features add fields here (like the `fallback` section and key pools) and their checks in
`parse*.py`; nothing else validates the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal, get_args

# The Router keys that name a `provider,model` (CCR's scenarios, and `subagent`), in the file's spelling.
RouterScenario = Literal["default", "background", "think", "longContext", "webSearch", "image", "subagent"]
ROUTER_SCENARIOS: tuple[RouterScenario, ...] = get_args(RouterScenario)
RouterKey = Literal[RouterScenario, "longContextThreshold", "thinkWhen"]
# What `fallback` may be keyed by, besides "provider,model": the Router's scenarios and the
# rules that need no Router entry (a client-named `provider,model`, a bare model name, a custom
# router's choice); `subagent` is both a Router key and the subagent-tag rule. Spelled out to keep
# the order users read in problems. The resilience package keeps the same list.
FallbackScenario = Literal[RouterScenario, "model", "explicit", "custom"]
FALLBACK_SCENARIOS: tuple[FallbackScenario, ...] = (
    "default", "background", "think", "longContext", "webSearch", "image",
    "model", "explicit", "subagent", "custom",
)
ROUTER_KEYS: tuple[RouterKey, ...] = (*ROUTER_SCENARIOS, "longContextThreshold", "thinkWhen")
DEFAULT_LONG_CONTEXT_THRESHOLD = 60_000
# When `Router.think` applies: "asked" (the user asked for deeper thinking: the `ultrathink`
# keyword or a raised effort) or "thinking" (Claude Code Router's rule: any request with thinking on).
ThinkWhen = Literal["asked", "thinking"]
THINK_WHEN: tuple[ThinkWhen, ...] = get_args(ThinkWhen)
EMPTY: Mapping[str, Any] = MappingProxyType({})

# Router file key -> RouterConfig field.
_ROUTER_FIELDS: dict[str, str] = {
    "default": "default", "background": "background", "think": "think",
    "longContext": "long_context", "webSearch": "web_search", "image": "image", "subagent": "subagent",
    "longContextThreshold": "long_context_threshold", "thinkWhen": "think_when",
}


@dataclass(frozen=True)
class TransformerUse:
    """One entry of a `use` list: `"name"` or `["name", {options}]`."""

    name: str
    options: Mapping[str, Any] | None = None

    def fresh_options(self) -> dict[str, Any] | None:
        """A copy for one transformer instance: instances never share (or change) the config."""
        return None if self.options is None else dict(self.options)


@dataclass(frozen=True)
class TransformerSpec:
    """A provider's `transformer`: the provider-wide chain and extra chains per model."""

    use: tuple[TransformerUse, ...] = ()
    models: Mapping[str, tuple[TransformerUse, ...]] = field(default_factory=lambda: EMPTY)  # per model


@dataclass(frozen=True)
class ModelCapabilities:
    """What is known about one model (`capabilities` in a provider entry, else the built-in
    table in `capabilities.py`). None = not known."""

    context_window: int | None = None  # input + output tokens the model accepts
    max_output_tokens: int | None = None  # the most it writes in one answer
    reasoning: bool | None = None  # whether it reasons (OpenAI-format `reasoning_effort`)

    def over(self, base: ModelCapabilities) -> ModelCapabilities:
        """These values, with `base` filling what is not set."""
        return ModelCapabilities(
            context_window=self.context_window if self.context_window is not None else base.context_window,
            max_output_tokens=self.max_output_tokens if self.max_output_tokens is not None else base.max_output_tokens,
            reasoning=self.reasoning if self.reasoning is not None else base.reasoning,
        )


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    api_base_url: str  # the full endpoint URL
    api_keys: tuple[str, ...] = ()  # `api_key`: one key, or a pool of several (a list)
    models: tuple[str, ...] = ()
    transformer: TransformerSpec = TransformerSpec()
    # per model, keyed by the model's lower-cased name
    capabilities: Mapping[str, ModelCapabilities] = field(default_factory=lambda: EMPTY)

    @property
    def api_key(self) -> str:
        """The first key (the only one unless the provider has a pool)."""
        return self.api_keys[0] if self.api_keys else ""


@dataclass(frozen=True)
class RouterConfig:
    """`Router` (global, or from a project/session file). None = not set; "" = set but empty."""

    default: str | None = None
    background: str | None = None
    think: str | None = None
    long_context: str | None = None
    web_search: str | None = None
    image: str | None = None
    subagent: str | None = None  # subagent requests without a <CCR-SUBAGENT-MODEL> tag
    long_context_threshold: float | None = None
    think_when: ThinkWhen | None = None  # None: "asked"
    extra: Mapping[str, Any] = field(default_factory=lambda: EMPTY)  # keys ccr-aio does not use
    # File keys the source had; a project Router replaces only those.
    given: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def threshold(self) -> int:
        return int(self.long_context_threshold or DEFAULT_LONG_CONTEXT_THRESHOLD)

    @property
    def think_rule(self) -> ThinkWhen:
        return self.think_when or "asked"

    def pair(self, scenario: RouterScenario) -> str | None:
        value = getattr(self, _ROUTER_FIELDS[scenario])
        return value if isinstance(value, str) else None

    def setting(self, key: RouterKey) -> str | float | None:
        value: str | float | None = getattr(self, _ROUTER_FIELDS[key])
        return value

    def overlay(self, top: RouterConfig) -> RouterConfig:
        """This Router with the keys `top` sets replaced (a project or session Router)."""
        changes = {_ROUTER_FIELDS[key]: getattr(top, _ROUTER_FIELDS[key]) for key in top.given}
        extra = {**self.extra, **top.extra}
        return replace(self, **changes, extra=MappingProxyType(extra), given=self.given | top.given)


@dataclass(frozen=True)
class PluginSpec:
    """One entry of `transformers` (a custom transformer). An entry that cannot be used keeps
    its `problem`: a load skips it and reports why, a save refuses the config."""

    path: str  # a .py file, `file.py:Class`, or `module:Class`; "" when missing
    options: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    problem: str | None = None


MIB = 1024 * 1024


@dataclass(frozen=True)
class ServerLimits:
    """How long the server waits for clients and for itself, how many connections it holds,
    and how much one client or provider may make it hold (`parse_limits.py` reads them all:
    `*_MS` keys in milliseconds like `API_TIMEOUT_MS`, sizes in MB or KB). Durations here are
    in seconds, sizes in bytes.

    The timeouts, grace periods and connection cap are read once at start (they shape the
    listening socket); the sizes are read per request, so a config save applies them at once.
    `body_budget` is process-wide: the memory all request bodies being handled at once may take
    (a body counts several times its size, see routes/body_budget.py); a body that does not
    fit waits up to `body_wait`, then gets 529. `upstream_line` bounds an unfinished SSE line
    or event (and a whole JSON answer) from a provider, `upstream_error` how much of a
    provider's error answer is read."""

    header_timeout: float = 10.0  # from accept (or a request's first byte) to its last header
    body_timeout: float = 60.0  # from the last header to the last byte of the body
    keepalive_timeout: float = 75.0  # an idle kept-alive connection is closed after this
    shutdown_grace: float = 30.0  # SIGTERM/SIGINT: in-flight requests get this long
    restart_grace: float = 10.0  # POST /api/restart: the same, shorter
    max_connections: int | None = None  # None: as many as the descriptor limit allows
    body_budget: int = 256 * MIB
    body_wait: float = 5.0  # 0: a body that does not fit at once gets 529 at once
    upstream_line: int = 16 * MIB
    upstream_error: int = 64 * 1024


@dataclass(frozen=True)
class Config:
    """The whole config file, typed. Values are as written (after `$VAR` interpolation);
    environment and command-line overrides are applied later (`settings.py`)."""

    port: int | None = None
    host: str | None = None
    apikey: str | None = None
    # Host names (lower case) that also name this server, e.g. behind a reverse proxy; loopback
    # names, IP addresses and HOST are always accepted (see browser_guard.py).
    allowed_hosts: tuple[str, ...] = ()
    log: bool = True  # LOG: only `false` turns the log files off
    log_level: str | None = None
    api_timeout_ms: int | None = None
    proxy_url: str | None = None
    providers: tuple[ProviderConfig, ...] = ()
    router: RouterConfig = RouterConfig()
    plugins: tuple[PluginSpec, ...] = ()
    custom_router_path: str | None = None
    rewrite_system_prompt: str | None = None
    force_image_agent: bool = False
    limits: ServerLimits = ServerLimits()
    # `fallback`: what to try next, by scenario or by "provider,model" (keys as written), each
    # a list of "provider,model" in the configured spelling.
    fallback: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: EMPTY)

    def provider(self, name: str) -> ProviderConfig | None:
        """The provider called `name` (case-insensitive)."""
        lowered = name.lower()
        return next((p for p in self.providers if p.name.lower() == lowered), None)
