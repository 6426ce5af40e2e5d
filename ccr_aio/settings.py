"""The loader: the JSON5 config file -> an immutable `Settings`.

Reading the file, `$VAR`/`${VAR}` interpolation, the env/CLI overrides and the binding rules
live here; what the keys mean and what is valid is the config model (`ccr_aio.config`).
A request holds one `Settings` (inside its snapshot) from start to end; a reload builds a new
one and swaps a reference. `raw` is the file as stored (so `$VARS` stay references and unknown
keys survive when it is written back); `config` is the typed, interpolated model.
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

from .config import ClientKey, Config, ConfigError, ConfigInvalid, Problem, parse_config

__all__ = [
    "DEFAULT_CONFIG", "ConfigError", "ConfigInvalid", "FromEnv", "Settings", "as_written", "build_settings",
    "default_config_path", "interpolate", "load_settings", "parse_config_text",
]

DEFAULT_PORT = 3456
DEFAULT_TIMEOUT_MS = 600_000
DEFAULT_CONFIG: dict[str, Any] = {"PORT": DEFAULT_PORT, "Providers": [], "Router": {}}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def default_home() -> Path:
    return Path.home() / ".claude-code-router"


def default_config_path(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("CCR_CONFIG") or default_home() / "config.json").expanduser()


class FromEnv(str):
    """A string that `$VAR` interpolation changed. It is the value in every use but one: its
    `repr` is the text as written in the file, so a message that quotes it (`{value!r}`, as
    every validation message does) never shows what came from the environment."""

    written: str

    def __new__(cls, value: str, written: str | None = None) -> FromEnv:
        made = super().__new__(cls, value)
        made.written = value if written is None else written
        return made

    def __repr__(self) -> str:
        return repr(self.written)


def as_written(value: Any) -> Any:
    """`value` as the file has it: a `$VAR` string goes back to its reference."""
    return value.written if isinstance(value, FromEnv) else value


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Replace `$VAR` and `${VAR}` in every string of the tree; unset variables stay as text.
    A string that changed is a `FromEnv`, which quotes itself as written."""
    if isinstance(value, str):
        if "$" not in value:
            return value
        replaced = _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), value)
        return value if replaced == value else FromEnv(replaced, as_written(value))
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


_JSON5_WORDS = {"JSON5Value": "a value", "object": "object", "array": "array",
                "string": "string", "IdentifierName": "a key name"}


def _readable_json5_message(message: str) -> str:
    """pyjson5 names what it expected as Python bytes (`Expected b'JSON5Value'`) and characters
    as code points (`U+007d`): say both as a person would read them."""

    def word(match: re.Match[str]) -> str:
        return _JSON5_WORDS.get(match.group(1), match.group(1))

    def char(match: re.Match[str]) -> str:
        code = int(match.group(1), 16)
        return repr(chr(code)) if 0x20 <= code < 0x7F else f"U+{code:04X}"

    message = re.sub(r"b'([^']*)'", word, message)
    return re.sub(r"U\+([0-9a-fA-F]{4,6})", char, message)


def _describe_json5_error(text: str, exc: Exception) -> str:
    message = _readable_json5_message(str(exc.args[0]) if exc.args else str(exc))
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
    """One config version: the typed `config`, and the values the process runs with after the
    environment and command-line overrides and the binding rules."""

    config_path: Path
    raw: dict[str, Any]  # the file as stored: written back as is, `$VARS` and unknown keys kept
    config: Config
    # The stored tree with `$VARS` replaced: handed to user code (a custom router) as CCR does.
    # ccr-aio itself reads `config`.
    interpolated: dict[str, Any] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    apikey: str | None = None  # the first client key: what the CLI sends to its own server
    client_keys: tuple[ClientKey, ...] = ()  # every key a client may send (named or not)
    log_enabled: bool = True
    log_level: str = "info"
    api_timeout_ms: int = DEFAULT_TIMEOUT_MS
    proxy_url: str | None = None
    workers: int = 1  # --workers, else WORKERS
    warnings: tuple[str, ...] = ()
    # Problems that did not stop the load (broken plugin entries, skipped); a save refuses them.
    problems: tuple[Problem, ...] = ()

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
    """Interpolate `$VARS`, parse (ConfigInvalid lists every problem), then apply the env and
    CLI overrides and the binding rules."""
    interpolated = interpolate(raw, env)
    parsed = parse_config(interpolated)
    if parsed.value is None:
        raise ConfigInvalid(str(config_path), parsed.problems)
    return bind(parsed.value, config_path, raw, interpolated, env, overrides, parsed.problems)


def bind(
    config: Config,
    config_path: Path,
    raw: dict[str, Any],
    interpolated: dict[str, Any],
    env: Mapping[str, str],
    overrides: Mapping[str, Any] | None,
    problems: tuple[Problem, ...] = (),
) -> Settings:
    """The values the process runs with: CLI flag, else environment, else the file, else the
    default; then who may connect decides where to listen."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}

    def pick(key: str, *env_keys: str) -> Any:
        if key in overrides:
            return overrides[key]
        return next((env[name] for name in env_keys if env.get(name)), None)

    port = pick("PORT", "SERVICE_PORT", "PORT") or config.port or DEFAULT_PORT
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise ConfigError(f"{config_path}: PORT must be a number, got {port!r}") from None
    apikey = pick("APIKEY", "APIKEY")  # from the environment or a flag: the one key
    client_keys = (ClientKey(str(apikey)),) if apikey else config.client_keys
    apikey = apikey or config.apikey
    host = pick("HOST", "HOST") or config.host or "127.0.0.1"
    warnings: list[str] = []
    if not config.providers:
        host = "0.0.0.0"
        warnings.append(
            "no providers configured: listening on 0.0.0.0 so the UI can be used for set-up"
            + ("" if apikey else " — with NO authentication; set APIKEY or add providers")
        )
    elif not apikey and host not in ("127.0.0.1", "localhost"):
        warnings.append(f"HOST {host} ignored: without APIKEY the server only binds 127.0.0.1")
        host = "127.0.0.1"
    log_level = str(pick("LOG_LEVEL", "LOG_LEVEL") or config.log_level or "info").lower()
    return Settings(
        config_path=config_path,
        raw=raw,
        config=config,
        interpolated=interpolated,
        host=str(host),
        port=port,
        apikey=str(apikey) if apikey else None,
        client_keys=client_keys,
        log_enabled=config.log,
        log_level=log_level,
        api_timeout_ms=config.api_timeout_ms or DEFAULT_TIMEOUT_MS,
        proxy_url=config.proxy_url,
        workers=max(1, int(pick("WORKERS") or config.workers)),
        warnings=tuple(warnings),
        problems=problems,
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
