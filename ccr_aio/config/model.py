"""The config as typed, frozen objects: what every part of ccr-aio reads instead of raw dicts.

`parse.py` builds these from the JSON tree (after `$VAR` interpolation) and is the only code
that knows the file's key names and spellings (`Providers`/`providers`, `api_key`/`apiKey`...).
Unknown keys are not modelled: they live on in the stored dict (`Settings.raw`), which is what
gets written back.

Later features add fields here (a `fallback` section, per-provider `pricing`, per-model
capabilities, several keys per provider) and their checks in `parse*.py`; nothing else
validates the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal, get_args

# The Router keys that name a `provider,model` (CCR's scenarios), in the file's spelling.
RouterScenario = Literal["default", "background", "think", "longContext", "webSearch", "image"]
ROUTER_SCENARIOS: tuple[RouterScenario, ...] = get_args(RouterScenario)
RouterKey = Literal[RouterScenario, "longContextThreshold"]
ROUTER_KEYS: tuple[RouterKey, ...] = (*ROUTER_SCENARIOS, "longContextThreshold")
DEFAULT_LONG_CONTEXT_THRESHOLD = 60_000
EMPTY: Mapping[str, Any] = MappingProxyType({})

# Router file key -> RouterConfig field.
_ROUTER_FIELDS: dict[str, str] = {
    "default": "default", "background": "background", "think": "think",
    "longContext": "long_context", "webSearch": "web_search", "image": "image",
    "longContextThreshold": "long_context_threshold",
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
class ProviderConfig:
    name: str
    api_base_url: str  # the full endpoint URL
    api_keys: tuple[str, ...] = ()  # one today (`api_key`); a key pool later adds entries
    models: tuple[str, ...] = ()
    transformer: TransformerSpec = TransformerSpec()
    # model -> its price (records.pricing.Price), USD per million tokens; checked at load
    pricing: Mapping[str, Any] = field(default_factory=lambda: EMPTY)

    @property
    def api_key(self) -> str:
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
    long_context_threshold: float | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: EMPTY)  # keys ccr-aio does not use
    # File keys the source had; a project Router replaces only those.
    given: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def threshold(self) -> int:
        return int(self.long_context_threshold or DEFAULT_LONG_CONTEXT_THRESHOLD)

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


@dataclass(frozen=True)
class ServerLimits:
    """How long the server waits for clients and for itself, and how many connections it
    holds (`*_MS` keys in milliseconds, like `API_TIMEOUT_MS`). Read once at start."""

    header_timeout: float = 10.0  # from accept (or a request's first byte) to its last header
    body_timeout: float = 60.0  # from the last header to the last byte of the body
    keepalive_timeout: float = 75.0  # an idle kept-alive connection is closed after this
    shutdown_grace: float = 30.0  # SIGTERM/SIGINT: in-flight requests get this long
    restart_grace: float = 10.0  # POST /api/restart: the same, shorter
    max_connections: int | None = None  # None: as many as the descriptor limit allows


@dataclass(frozen=True)
class ClientKey:
    """A key clients may send (`APIKEY`). `name` is None for the plain-string form; a named
    key's name goes into the request records, so one server shows usage per person."""

    key: str
    name: str | None = None


@dataclass(frozen=True)
class Config:
    """The whole config file, typed. Values are as written (after `$VAR` interpolation);
    environment and command-line overrides are applied later (`settings.py`)."""

    port: int | None = None
    host: str | None = None
    apikey: str | None = None  # the first of `client_keys`: what the CLI sends to its own server
    client_keys: tuple[ClientKey, ...] = ()
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
    usage: bool = True  # USAGE: false keeps no request records on disk (metrics still count)
    usage_retention_days: float = 90.0  # USAGE_RETENTION_DAYS; 0 keeps every record
    log_bodies: bool = False  # LOG_BODIES: log request and answer bodies (debugging only)

    def provider(self, name: str) -> ProviderConfig | None:
        """The provider called `name` (case-insensitive)."""
        lowered = name.lower()
        return next((p for p in self.providers if p.name.lower() == lowered), None)
