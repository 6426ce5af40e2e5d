"""Read and write the config file safely: checks (by the config model), timestamped backups,
atomic replace.

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
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .config import ROUTER_SCENARIOS, Config, Problem, describe, parse_config
from .settings import interpolate, parse_config_text

try:  # POSIX only; without it, writes are still atomic, just not serialised across processes
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]  # the module is absent there; callers test for None

BACKUPS_KEPT = 3
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")


class StoreError(Exception):
    """The file could not be written; the message says why. The old file is unchanged."""


# ---------------------------------------------------------------- validation


def problems(config: Any, env: Mapping[str, str] = os.environ) -> tuple[Problem, ...]:
    """Everything wrong with a config as stored (`$VARS` are resolved from `env` first), by
    the config model's one validator."""
    return parse_config(interpolate(config, env)).problems


def validate(config: Any, env: Mapping[str, str] = os.environ) -> list[str]:
    """The messages of `problems` (empty = fine)."""
    return [p.message for p in problems(config, env)]


def router_warnings(config: Config) -> list[str]:
    """Router entries naming a provider/model that the config's Providers do not have."""
    known = {(p.name.lower(), m.lower()) for p in config.providers for m in p.models}
    warnings = []
    for key in ROUTER_SCENARIOS:
        value = config.router.pair(key)
        if value:
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
    (raising ValueError to refuse); the result must have no problems."""
    target = _real(path)
    with _locked(target):
        raw = read_raw(target)
        change(raw)
        found = problems(raw)
        if found:
            raise ValueError(describe(found))
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
