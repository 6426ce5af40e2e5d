"""What `ccr-aio <preset> [claude args]` gives Claude Code, as CCR does it:

- the usual client environment (the server's URL and key, NO_PROXY, telemetry off, timeout);
- then, when the preset has a provider (legacy `provider`: that config.json provider by name;
  else its first `Providers` entry), `ANTHROPIC_BASE_URL` = that provider's `api_base_url`
  without a trailing `/v1/messages` (else without one trailing `/`) and `ANTHROPIC_AUTH_TOKEN`
  = its key: Claude Code then talks to that provider directly, not through the router (the
  preset's `Router` and `transformers` are not used at run time);
- settings `{env}` with `claudeCodeSettings` merged over them (its `env` merged one level);
- the server is needed unless `noServer` is true.
[FIX] `$VAR`/`${VAR}` are resolved from the environment, and a provider whose key (or URL) is
empty, a `{{input}}` or an unresolved `${VAR}` stops the run ("not configured") instead of
sending that text as the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..settings import interpolate
from .store import PresetError

_UNRESOLVED = re.compile(r"\{\{\w+\}\}|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Launch:
    env: dict[str, str]  # set on the child, and in the settings file
    settings: dict[str, Any]  # the --settings file
    needs_server: bool
    provider: str | None  # the provider Claude Code talks to directly, if any


def _provider(manifest: Mapping[str, Any], user_providers: Any) -> tuple[dict[str, Any] | None, str]:
    legacy = manifest.get("provider")
    if isinstance(legacy, str) and legacy:
        for p in user_providers if isinstance(user_providers, list) else []:
            if isinstance(p, dict) and str(p.get("name", "")).lower() == legacy.lower():
                return p, f"config.json provider {legacy!r}"
        raise PresetError(400, f"the preset uses the provider {legacy!r}, which config.json does not have")
    providers = manifest.get("Providers")
    if isinstance(providers, list) and providers and isinstance(providers[0], dict):
        return providers[0], "Providers[0]"
    return None, ""


def first_key(provider: Mapping[str, Any]) -> str:
    key = provider.get("api_key") or provider.get("apiKey") or ""
    if isinstance(key, list):  # a key pool: Claude Code gets one key
        key = key[0] if key else ""
    return key if isinstance(key, str) else ""


def base_url(url: str) -> str:
    if url.endswith("/v1/messages"):
        return url[: -len("/v1/messages")]
    return url[:-1] if url.endswith("/") else url


def not_configured(name: str, what: list[str]) -> PresetError:
    return PresetError(400, f'Preset "{name}" is not configured: {"; ".join(what)}. Fill its inputs with '
                            f"`ccr-aio preset install {name}` or set the environment variables named")


def plan(name: str, manifest: Mapping[str, Any], client_env: Mapping[str, str], user_config: Mapping[str, Any],
         environ: Mapping[str, str]) -> Launch:
    resolved = interpolate(dict(manifest), environ)
    provider, where = _provider(resolved, interpolate(user_config.get("Providers"), environ))
    env = dict(client_env)
    if provider is not None:
        url = provider.get("api_base_url") or provider.get("baseUrl") or provider.get("baseurl") or ""
        key = first_key(provider)
        what = []
        for field, value in (("api_key", key), ("api_base_url", url)):
            unresolved = _UNRESOLVED.findall(value) if isinstance(value, str) else []
            if not value or not isinstance(value, str):
                what.append(f"{where}.{field} has no value")
            elif unresolved:  # name the placeholders, never the value: it could be half a key
                what.append(f"{where}.{field} holds {', '.join(unresolved)}")
        if what:
            raise not_configured(name, what)
        env.update(ANTHROPIC_BASE_URL=base_url(url), ANTHROPIC_AUTH_TOKEN=key)
    settings: dict[str, Any] = {"env": env}
    extra = resolved.get("claudeCodeSettings")
    for key, value in (extra.items() if isinstance(extra, dict) else ()):
        if key == "env" and isinstance(value, dict):
            settings["env"] = {**settings["env"], **{str(k): _text(v) for k, v in value.items()}}
        else:
            settings[key] = value
    return Launch(env=dict(settings["env"]), settings=settings, needs_server=resolved.get("noServer") is not True,
                  provider=str(provider.get("name")) if provider else None)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
