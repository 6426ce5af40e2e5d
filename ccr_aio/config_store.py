"""Read and write the config file safely: shape checks, timestamped backups, atomic replace.

A save never leaves a half-written config behind: the new text goes to a temp file in the same
directory, is fsynced, and is renamed over the old file (rename is atomic on POSIX); the
directory is fsynced so the rename survives a power cut. Before that the current file is copied
to `<name>.<timestamp>.bak` (CCR's naming, so CCR's and our backups rotate together) and only
the newest `BACKUPS_KEPT` backups are kept. An advisory `flock` on `.<name>.lock` keeps two
processes (the server and `ccr-aio model set`) from writing at the same time; inside one
server an asyncio.Lock does the same for concurrent requests (routes/admin.py).

All functions here block; the server calls them through `asyncio.to_thread`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .settings import parse_config_text

try:  # POSIX only; without it, writes are still atomic, just not serialised across processes
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

BACKUPS_KEPT = 3
ROUTER_SCENARIOS = ("default", "background", "think", "longContext", "webSearch", "image")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")


class StoreError(Exception):
    """The file could not be written; the message says why. The old file is unchanged."""


# ---------------------------------------------------------------- validation


def validate(config: Any) -> list[str]:
    """Everything wrong with the shape of a config, as readable messages (empty = fine)."""
    if not isinstance(config, dict):
        return [f"the config must be a JSON object, got {_kind(config)}"]
    errors: list[str] = []
    for key in ("Providers", "providers"):
        if key in config:
            _check_providers(config[key], key, errors)
    if "Router" in config:
        _check_router(config["Router"], errors)
    if "transformers" in config:
        _check_plugins(config["transformers"], errors)
    port = config.get("PORT")
    if port is not None and not isinstance(port, str) and not (
            isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536):
        errors.append(f"PORT must be a port number (1-65535), got {port!r}")
    if config.get("APIKEY") is not None and not isinstance(config["APIKEY"], str):
        errors.append("APIKEY must be a string")
    return errors


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _check_providers(providers: Any, key: str, errors: list[str]) -> None:
    if not isinstance(providers, list):
        errors.append(f"{key} must be an array, got {_kind(providers)}")
        return
    seen: set[str] = set()
    for i, entry in enumerate(providers):
        where = f"{key}[{i}]"
        if not isinstance(entry, dict):
            errors.append(f"{where} must be an object, got {_kind(entry)}")
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.append(f"{where}.name is required (a non-empty string)")
        else:
            where = f"{key}[{i}] ({name})"
            if name.lower() in seen:
                errors.append(f"{where}: duplicate provider name")
            seen.add(name.lower())
        url = entry.get("api_base_url") or entry.get("baseUrl") or entry.get("baseurl")
        if not isinstance(url, str) or not url.strip():
            errors.append(f"{where}.api_base_url is required (the full endpoint URL)")
        if entry.get("api_key") is not None and not isinstance(entry["api_key"], str):
            errors.append(f"{where}.api_key must be a string")
        models = entry.get("models", [])
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            errors.append(f"{where}.models must be an array of strings")
        _check_transformer_spec(entry.get("transformer"), f"{where}.transformer", errors)


def _check_transformer_spec(spec: Any, where: str, errors: list[str]) -> None:
    if spec is None:
        return
    if not isinstance(spec, dict):
        errors.append(f"{where} must be an object like {{\"use\": [...]}}, got {_kind(spec)}")
        return
    for key, value in spec.items():
        if key == "use":
            _check_use(value, f"{where}.use", errors)
        elif not isinstance(value, dict):
            errors.append(f"{where}.{key} must be an object like {{\"use\": [...]}}")
        else:
            _check_use(value.get("use"), f"{where}.{key}.use", errors)


def _check_use(use: Any, where: str, errors: list[str]) -> None:
    if use is None:
        return
    if not isinstance(use, list):
        errors.append(f"{where} must be an array of transformer names or [name, options]")
        return
    for j, item in enumerate(use):
        ok = isinstance(item, str) and item or (
            isinstance(item, list) and 1 <= len(item) <= 2 and isinstance(item[0], str)
            and (len(item) == 1 or isinstance(item[1], dict)))
        if not ok:
            errors.append(f"{where}[{j}] must be a name or [name, {{options}}], got {item!r}"[:300])


def _check_router(router: Any, errors: list[str]) -> None:
    if not isinstance(router, dict):
        errors.append(f"Router must be an object, got {_kind(router)}")
        return
    for key in ROUTER_SCENARIOS:
        value = router.get(key)
        if value is not None and not isinstance(value, str):
            errors.append(f"Router.{key} must be a string \"provider,model\", got {_kind(value)}")
        elif value and "," not in value:
            errors.append(f"Router.{key} must be \"provider,model\", got {value!r}")
    threshold = router.get("longContextThreshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        errors.append("Router.longContextThreshold must be a number")


def _check_plugins(plugins: Any, errors: list[str]) -> None:
    if not isinstance(plugins, list):
        errors.append(f"transformers must be an array of {{\"path\": ..., \"options\": {{...}}}}, got {_kind(plugins)}")
        return
    for i, item in enumerate(plugins):
        if not isinstance(item, dict):
            errors.append(f"transformers[{i}] must be an object, got {_kind(item)}")
            continue
        if not isinstance(item.get("path"), str) or not item["path"].strip():
            errors.append(f"transformers[{i}].path is required (a file path)")
        if item.get("options") is not None and not isinstance(item["options"], dict):
            errors.append(f"transformers[{i}].options must be an object")


def router_warnings(config: dict[str, Any], providers: list[Any]) -> list[str]:
    """Router entries naming a provider/model that `providers` (interpolated) does not have."""
    known = {(str(p.get("name", "")).lower(), str(m).lower()) for p in providers if isinstance(p, dict)
             for m in (p.get("models") or []) if isinstance(p.get("models"), list)}
    router = config.get("Router") if isinstance(config.get("Router"), dict) else {}
    warnings = []
    for key in ROUTER_SCENARIOS:
        value = router.get(key)
        if isinstance(value, str) and value:
            provider, _, model = value.partition(",")
            if (provider.strip().lower(), model.strip().lower()) not in known:
                warnings.append(f"Router.{key} '{value}' is not a configured provider,model")
    return warnings


# ---------------------------------------------------------------- reading


def read_raw(path: Path) -> dict[str, Any]:
    """The file as stored (no `$VAR` interpolation); ConfigError if it does not parse."""
    return parse_config_text(Path(path).read_text(encoding="utf-8"), str(path))


def dumps(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- writing


def save(path: Path, config: dict[str, Any]) -> Path | None:
    """Back up the current file and atomically replace it with `config`; returns the backup."""
    target = _real(path)
    data = dumps(config).encode("utf-8")
    with _locked(target):
        return _backup_and_write(target, data)


def update(path: Path, change: Callable[[dict[str, Any]], None]) -> Path | None:
    """Read-modify-write under the cross-process lock: `change` edits the raw dict in place
    (raising ValueError to refuse); the result must pass `validate`."""
    target = _real(path)
    with _locked(target):
        raw = read_raw(target)
        change(raw)
        errors = validate(raw)
        if errors:
            raise ValueError("; ".join(errors))
        return _backup_and_write(target, dumps(raw).encode("utf-8"))


def backups(path: Path) -> list[Path]:
    """Backups of `path`, oldest first."""
    target = _real(path)
    prefix = target.name + "."
    found = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(target.parent):
            name = entry.name
            if name.startswith(prefix) and name.endswith(".bak") and _STAMP.match(name[len(prefix):-4]):
                found.append(target.parent / name)
    return sorted(found)


def _real(path: Path) -> Path:
    # A symlinked config (dotfiles repo) is written through, not replaced by a plain file.
    return Path(os.path.realpath(Path(path).expanduser()))


def _backup_and_write(target: Path, data: bytes) -> Path | None:
    _remove_stale_temps(target)
    backup = _backup(target)
    try:
        _write_atomic(target, data)
    except OSError as exc:
        raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from None
    for old in backups(target)[:-BACKUPS_KEPT]:
        with contextlib.suppress(OSError):
            old.unlink()
    return backup


def _write_atomic(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)  # mkstemp already uses 0600; say it anyway: the file holds keys
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def _backup(target: Path) -> Path | None:
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {target} to back it up: {exc.strerror or exc}") from None
    when = datetime.now(timezone.utc)
    for _ in range(1000):
        # CCR's format: ISO time with ':' and '.' replaced, sortable by name.
        stamp = when.strftime("%Y-%m-%dT%H-%M-%S-") + f"{when.microsecond // 1000:03d}Z"
        backup = target.parent / f"{target.name}.{stamp}.bak"
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            when += timedelta(milliseconds=1)  # two saves in one millisecond
            continue
        except OSError as exc:
            raise StoreError(f"cannot back up {target}: {exc.strerror or exc}") from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            with contextlib.suppress(OSError):
                backup.unlink()
            raise StoreError(f"cannot back up {target}: {exc.strerror or exc}") from None
        return backup
    raise StoreError(f"cannot back up {target}: no free backup name")


def _remove_stale_temps(target: Path) -> None:
    # Called under the lock, so any temp file left is from a writer that crashed mid-save.
    prefix = f".{target.name}."
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            if entry.name.startswith(prefix) and entry.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform/filesystem allows it
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        yield
        return
    lock_path = target.parent / f".{target.name}.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot write in {target.parent}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
