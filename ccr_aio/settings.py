"""Load the JSON5 config file into an immutable `Settings` snapshot.

A request holds one snapshot from start to end; a reload builds a new one and swaps a
reference. `raw` is the file as stored (so `$VARS` stay references when written back);
`config` is the same tree with `$VAR`/`${VAR}` replaced from the environment.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyjson5

DEFAULT_PORT = 3456
DEFAULT_TIMEOUT_MS = 600_000
DEFAULT_CONFIG: dict[str, Any] = {"PORT": DEFAULT_PORT, "Providers": [], "Router": {}}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


class ConfigError(Exception):
    """The config file cannot be used; the message names the file and the problem."""


def default_home() -> Path:
    return Path.home() / ".claude-code-router"


def default_config_path(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("CCR_CONFIG") or default_home() / "config.json").expanduser()


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Replace `$VAR` and `${VAR}` in every string of the tree; unset variables stay as text."""
    if isinstance(value, str):
        if "$" not in value:
            return value
        return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), value)
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    return value


def parse_config_text(text: str, source: str) -> dict[str, Any]:
    try:
        data = pyjson5.decode(text) if text.strip() else {}
    except pyjson5.Json5Exception as exc:
        raise ConfigError(f"{source}: invalid JSON5: {_describe_json5_error(text, exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be an object, got {type(data).__name__}")
    return data


def _describe_json5_error(text: str, exc: Exception) -> str:
    message = str(exc.args[0]) if exc.args else str(exc)
    match = re.search(r"near (\d+)", message)
    if match:
        pos = min(int(match.group(1)), len(text))
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        return f"{message} (line {line}, column {col})"
    return message


def ensure_config_file(path: Path) -> None:
    """First run: create the home dir with logs/ and plugins/, and a minimal config."""
    home = path.parent
    for folder in (home, home / "logs", home / "plugins"):
        folder.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(DEFAULT_CONFIG, fh, indent=2)


@dataclass(frozen=True)
class Settings:
    config_path: Path
    raw: dict[str, Any]
    config: dict[str, Any]
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    apikey: str | None = None
    log_enabled: bool = True
    log_level: str = "info"
    api_timeout_ms: int = DEFAULT_TIMEOUT_MS
    proxy_url: str | None = None
    router: dict[str, Any] = field(default_factory=dict)
    providers: list[dict[str, Any]] = field(default_factory=list)
    warnings: tuple[str, ...] = ()

    @property
    def home(self) -> Path:
        return self.config_path.parent

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def app_log_path(self) -> Path:
        return self.home / "claude-code-router.log"


def build_settings(
    raw: dict[str, Any],
    config_path: Path,
    env: Mapping[str, str] = os.environ,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Apply interpolation, env and CLI overrides, and the binding rules (README, "Binding and auth")."""
    config = interpolate(raw, env)
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    source = str(config_path)

    providers = config.get("Providers", config.get("providers"))
    providers = [] if providers is None else providers
    if not isinstance(providers, list):
        raise ConfigError(f"{source}: Providers must be a list")
    router = config.get("Router")
    router = {} if router is None else router
    if not isinstance(router, dict):
        raise ConfigError(f"{source}: Router must be an object")

    def pick(key: str, *env_keys: str) -> Any:
        if key in overrides:
            return overrides[key]
        for name in env_keys:
            if env.get(name):
                return env[name]
        return config.get(key)

    port = pick("PORT", "SERVICE_PORT", "PORT") or DEFAULT_PORT
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: PORT must be a number, got {port!r}") from None
    apikey = pick("APIKEY", "APIKEY") or None
    host = pick("HOST", "HOST") or "127.0.0.1"
    warnings: list[str] = []
    if not providers:
        host = "0.0.0.0"
        warnings.append(
            "no providers configured: listening on 0.0.0.0 so the UI can be used for set-up"
            + ("" if apikey else " — with NO authentication; set APIKEY or add providers")
        )
    elif not apikey and host not in ("127.0.0.1", "localhost"):
        warnings.append(f"HOST {host} ignored: without APIKEY the server only binds 127.0.0.1")
        host = "127.0.0.1"

    timeout = config.get("API_TIMEOUT_MS") or DEFAULT_TIMEOUT_MS
    try:
        timeout = int(timeout)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: API_TIMEOUT_MS must be a number") from None
    proxy = next(
        (config[k] for k in ("PROXY_URL", "HTTPS_PROXY", "https_proxy", "httpsProxy") if config.get(k)),
        None,
    )
    log_level = str(pick("LOG_LEVEL", "LOG_LEVEL") or "info").lower()
    return Settings(
        config_path=config_path,
        raw=raw,
        config=config,
        host=str(host),
        port=port,
        apikey=str(apikey) if apikey else None,
        log_enabled=config.get("LOG", True) is not False,
        log_level=log_level,
        api_timeout_ms=timeout,
        proxy_url=proxy,
        router=router,
        providers=providers,
        warnings=tuple(warnings),
    )


def load_settings(
    config_path: Path | None = None,
    env: Mapping[str, str] = os.environ,
    overrides: Mapping[str, Any] | None = None,
    create: bool = True,
) -> Settings:
    path = Path(config_path or default_config_path(env)).expanduser()
    if create:
        ensure_config_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    return build_settings(parse_config_text(text, str(path)), path, env, overrides)
