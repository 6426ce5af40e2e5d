"""`ccr-aio model list` and `ccr-aio model set <scenario> <provider,model>`.

`set` validates the pair against Providers, writes the file through config_store (backup +
atomic replace, under the same lock the server uses), then asks the running server to reload
(POST /api/reload): the next request uses the new route, streams in flight are not touched.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from .. import config_store
from ..config import ROUTER_KEYS, THINK_WHEN, ProviderConfig, RouterKey, describe, parse_config
from ..settings import ConfigError, interpolate
from . import daemon
from .commands import load, server_url

SCENARIOS = ROUTER_KEYS
_CLEAR = ("none", "-", "")


def pairs(providers: Sequence[ProviderConfig]) -> list[str]:
    return [f"{p.name},{m}" for p in providers for m in p.models]


def model_list(args: argparse.Namespace) -> int:
    settings = load(args)
    router = settings.config.router
    print(f"Router ({settings.config_path}):")
    for key in SCENARIOS:
        value = router.setting(key)
        print(f"  {key:<21} {value if value not in (None, '') else '-'}")
    for name, value in router.extra.items():
        print(f"  {name:<21} {value}")
    available = pairs(settings.config.providers)
    print("Models:" if available else "Models: none configured (add Providers first)")
    for pair in available:
        print(f"  {pair}")
    return 0


def _scenario(name: str) -> RouterKey:
    for key in SCENARIOS:
        if key.lower() == name.lower():
            return key
    raise ValueError(f"unknown scenario '{name}'; one of: {', '.join(SCENARIOS)}")


def _value(scenario: RouterKey, value: str, providers: Sequence[ProviderConfig]) -> Any:
    if value.strip().lower() in _CLEAR:
        return None
    if scenario == "longContextThreshold":
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"longContextThreshold must be a whole number, got '{value}'") from None
        if number <= 0:
            raise ValueError("longContextThreshold must be positive")
        return number
    if scenario == "thinkWhen":
        if value.strip().lower() not in THINK_WHEN:
            raise ValueError(f"thinkWhen must be one of: {', '.join(THINK_WHEN)}")
        return value.strip().lower()
    provider, _, model = value.partition(",")
    for entry in providers:
        if entry.name.lower() == provider.strip().lower():
            for known in entry.models:
                if known.lower() == model.strip().lower():
                    return f"{entry.name},{known}"  # the configured spelling
            raise ValueError(f"provider '{entry.name}' has no model '{model.strip()}'; it has: "
                             + (", ".join(entry.models) or "none"))
    known = ", ".join(pairs(providers)) or "none configured"
    raise ValueError(f"'{value}' is not a configured provider,model (available: {known})")


def model_set(args: argparse.Namespace) -> int:
    settings = load(args)
    if not settings.config_path.exists():
        print(f"ccr-aio: {settings.config_path} does not exist; add Providers first", file=sys.stderr)
        return 2
    chosen: dict[str, Any] = {}

    def change(raw: dict[str, Any]) -> None:
        scenario = _scenario(args.scenario)
        parsed = parse_config(interpolate(raw, os.environ))
        if parsed.value is None:
            raise ValueError(f"{settings.config_path}: {describe(parsed.problems)}")
        value = _value(scenario, args.value, parsed.value.providers)
        router = raw.get("Router")
        if not isinstance(router, dict):
            router = raw["Router"] = {}
        if value is None:
            router.pop(scenario, None)
        else:
            router[scenario] = value
        chosen.update(scenario=scenario, value=value)

    try:
        backup = config_store.update(settings.config_path, change)
    except ValueError as exc:
        print(f"ccr-aio: {exc}", file=sys.stderr)
        return 2
    except (ConfigError, config_store.StoreError) as exc:
        print(f"ccr-aio: {exc}", file=sys.stderr)
        return 1
    shown = "-" if chosen["value"] is None else chosen["value"]
    print(f"Router.{chosen['scenario']} = {shown}  (saved to {settings.config_path}"
          + (f"; backup {backup.name})" if backup else ")"))
    return notify_server(settings, args)


def notify_server(settings: Any, args: argparse.Namespace) -> int:
    url, info = server_url(settings, args)
    if info is None and not daemon.healthy(url):
        print("The server is not running; the change applies when it starts.")
        return 0
    if info is not None and info.config and info.config != str(settings.config_path):
        print(f"ccr-aio: the running server uses {info.config}, not this file; not reloaded",
              file=sys.stderr)
        return 1
    try:
        status, body = daemon.call(url + "/api/reload", method="POST", body={}, apikey=settings.apikey)
    except OSError as exc:
        print(f"ccr-aio: saved, but the server did not answer ({exc}); run `ccr-aio restart`",
              file=sys.stderr)
        return 1
    if status != 200:
        message = (body or {}).get("error", {}).get("message") if isinstance(body, dict) else None
        print(f"ccr-aio: saved, but the server did not reload: {message or status}", file=sys.stderr)
        return 1
    print("The running server reloaded the config; the next request uses it.")
    return 0
