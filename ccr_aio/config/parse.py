"""The one validator: a config tree (after `$VAR` interpolation) -> a typed `Config` and every
problem found, each with its path.

Start-up, `/api/reload`, `POST /api/config`, `ccr-aio model set` and provider building all go
through here, so a config is accepted or refused the same way everywhere. It is a hand-written
walk rather than a validation library because the messages are part of the product (the UI
shows them, tests pin them) and every problem must come out in one answer, in the file's own
spelling of its keys. `null` (or a missing key) means "not set" throughout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .hosts import is_ip, split_authority
from .model import Config, ProviderConfig, RouterConfig
from .parse_fallback import parse_fallback
from .parse_keys import parse_apikey
from .parse_limits import parse_limits
from .parse_plugins import parse_plugins
from .parse_providers import parse_provider, parse_providers
from .parse_router import parse_router
from .parse_scale import parse_redis_url, parse_workers
from .parse_usage import parse_retention, parse_switch
from .problems import At, Findings, Problem, kind

T = TypeVar("T")
PROXY_KEYS = ("PROXY_URL", "HTTPS_PROXY", "https_proxy", "httpsProxy")


@dataclass(frozen=True)
class Parsed(Generic[T]):
    """What a parse found. `value` is None when a problem blocks it; problems that do not
    block (broken plugin entries) come with a value that leaves those entries out."""

    value: T | None
    problems: tuple[Problem, ...] = ()


def parse_config(data: Any) -> Parsed[Config]:
    if not isinstance(data, Mapping):
        return Parsed(None, (Problem("", f"the config must be a JSON object, got {kind(data)}"),))
    found = Findings()
    providers: tuple[ProviderConfig, ...] = ()
    before = len(found.problems)
    for key in ("Providers", "providers"):  # both are checked; `Providers` wins, as in CCR
        if key in data:
            parsed = parse_providers(data[key], key, found)
            providers = parsed if key == "Providers" or "Providers" not in data else providers
    # Names are only checked against a clean Providers list: a provider with a problem is left
    # out of it, and "not in Providers" would then blame the wrong place.
    known = providers if len(found.problems) == before else None
    router = parse_router(data.get("Router"), At.key("Router"), found)
    plugins_key = "Transformers" if "Transformers" in data and "transformers" not in data else "transformers"
    plugins = parse_plugins(data.get(plugins_key), plugins_key, found)
    client_keys = parse_apikey(data.get("APIKEY"), found)
    config = Config(
        port=_port(data.get("PORT"), found),
        host=_text(data, "HOST", found),
        apikey=client_keys[0].key if client_keys else None,
        client_keys=client_keys,
        allowed_hosts=_allowed_hosts(data.get("ALLOWED_HOSTS"), found),
        log=data.get("LOG", True) is not False,
        log_level=_text(data, "LOG_LEVEL", found),
        api_timeout_ms=_timeout(data.get("API_TIMEOUT_MS"), found),
        proxy_url=_proxy(data, found),
        providers=providers,
        router=router,
        plugins=plugins,
        custom_router_path=_text(data, "CUSTOM_ROUTER_PATH", found, " (a file path)"),
        rewrite_system_prompt=_text(data, "REWRITE_SYSTEM_PROMPT", found, " (a file path)"),
        force_image_agent=bool(data.get("forceUseImageAgent")),
        limits=parse_limits(data, found),
        workers=parse_workers(data, found),
        redis_url=parse_redis_url(data, found),
        fallback=parse_fallback(data.get("fallback"), known, found),
        usage=parse_switch(data, "USAGE", True, found),
        usage_retention_days=parse_retention(data, found),
        log_bodies=parse_switch(data, "LOG_BODIES", False, found),
    )
    return Parsed(None if found.blocking else config, tuple(found.problems))


def parse_router_config(value: Any, where: str = "Router") -> Parsed[RouterConfig]:
    """A Router on its own (a project's or a session's file)."""
    found = Findings()
    router = parse_router(value, At.key(where), found)
    return Parsed(None if found.blocking else router, tuple(found.problems))


def parse_provider_config(entry: Any, where: str = "provider") -> Parsed[ProviderConfig]:
    """One provider entry on its own."""
    found = Findings()
    provider = parse_provider(entry, At.key(where), found)
    return Parsed(provider, tuple(found.problems))


def _port(value: Any, found: Findings) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            found.add(At.key("PORT"), f"must be a number, got {value!r}"[:200])
            return None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = value if isinstance(value, int) else -1
    else:
        found.add(At.key("PORT"), f"must be a number, got {kind(value)}")
        return None
    if not 0 < number < 65536:
        found.add(At.key("PORT"), f"must be a port number (1-65535), got {value!r}")
        return None
    return number


def _timeout(value: Any, found: Findings) -> int | None:
    if value is None or value == "" or value == 0:
        return None  # not set: the default applies (CCR's `|| 600000`)
    number: float | None = None
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            pass
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = value
    if number is None:
        found.add(At.key("API_TIMEOUT_MS"), f"must be a number (milliseconds), got {value!r}"[:200])
        return None
    if number < 0:
        found.add(At.key("API_TIMEOUT_MS"), f"must be a positive number (milliseconds), got {value!r}")
        return None
    return int(number)


def _text(data: Mapping[str, Any], key: str, found: Findings, what: str = "") -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        found.add(At.key(key), f"must be a string{what}, got {kind(value)}")
        return None
    return value


def _allowed_hosts(value: Any, found: Findings) -> tuple[str, ...]:
    """`ALLOWED_HOSTS`: names only. A wildcard is refused: it would let any web page reach the
    server through DNS rebinding."""
    if value is None:
        return ()
    at = At.key("ALLOWED_HOSTS")
    if not isinstance(value, list):
        found.add(at, f"must be an array of host names, got {kind(value)}", hint='e.g. ["ccr.example.com"]')
        return ()
    names = []
    for i, entry in enumerate(value):
        parts = split_authority(entry) if isinstance(entry, str) else None
        if parts is None or parts[1] or "*" in entry:
            found.add(at.item(i), f"must be a host name without scheme, port or wildcard, got {entry!r}"[:200],
                      hint="every port is accepted; list each name")
        elif not is_ip(parts[0]):  # an address is always accepted anyway
            names.append(parts[0])
    return tuple(names)


def _proxy(data: Mapping[str, Any], found: Findings) -> str | None:
    """The first proxy setting that has a value, under any of CCR's spellings."""
    for key in PROXY_KEYS:
        if data.get(key):
            return _text(data, key, found, " (a proxy URL)")
    return None
