"""Read and write the config file safely: checks (by the config model), timestamped backups,
atomic replace.

A save never leaves a half-written config behind: the new text goes to a temp file in the same
directory, is fsynced, and is renamed over the old file (rename is atomic on POSIX); the
directory is fsynced so the rename survives a power cut. Before that the current file is copied
to `<name>.<timestamp>.bak` (CCR's naming, so CCR's and our backups rotate together) the same
way, through a fsynced temp file, so a backup is whole or absent even if the process is killed
mid-copy; only the newest `BACKUPS_KEPT` backups are kept. The text written must read back
as the same config (`encode`): a save never writes a file the next start could not load. An advisory `flock` on `.<name>.lock` keeps two
processes (the server and `ccr-aio model set`) from writing at the same time; inside one
server an asyncio.Lock does the same for concurrent requests (routes/admin.py).

All functions here block; the server calls them through `asyncio.to_thread`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .config import ROUTER_SCENARIOS, Config, ConfigError, Problem, describe, parse_config
from .private_files import write_temp
from .settings import interpolate, parse_config_text

try:  # POSIX only; without it, writes are still atomic, just not serialised across processes
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]  # the module is absent there; callers test for None

BACKUPS_KEPT = 3
MAX_DEPTH = 32  # nesting the JSON5 reader (pyjson5) takes; a deeper file would stop the next start
_NO_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK)
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")


class StoreError(Exception):
    """The file could not be written; the message says why. The old file is unchanged."""


class Unreadable(ValueError):
    """The config would be written in a form the next start could not read; nothing is written."""


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
                warnings.append(f"Router.{key} {value!r} is not a configured provider,model")
    return warnings


# ---------------------------------------------------------------- reading


def read_raw(path: Path) -> dict[str, Any]:
    """The file as stored (no `$VAR` interpolation); ConfigError if it does not parse."""
    return parse_config_text(Path(path).read_text(encoding="utf-8"), str(path))


def dumps(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def encode(config: dict[str, Any]) -> bytes:
    """The file's bytes for `config`, after proving that start-up reads them back as the same
    config: whatever a save accepts, the next start must be able to load. Unreadable if not."""
    deepest = _too_deep(config)
    if deepest is not None:
        raise Unreadable(f"it nests deeper than {MAX_DEPTH} levels (at {deepest}); the config file "
                         f"reader allows {MAX_DEPTH}")
    text = dumps(config)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Unreadable(f"a string holds {exc.object[exc.start:exc.end]!r}, a lone surrogate that "
                         "UTF-8 cannot store") from None
    try:
        same = dumps(parse_config_text(text, "the saved text")) == text
    except ConfigError as exc:
        raise Unreadable(f"the config file reader would refuse it: {exc}") from None
    if not same:
        raise Unreadable("the config file reader would read it back differently")
    return data


def _too_deep(config: Any) -> str | None:
    """The path of the first array or object nested deeper than MAX_DEPTH, else None; a walk
    with its own stack, so no depth can overflow Python's."""
    stack: list[tuple[Any, str, int]] = [(config, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            return path or "the top"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            where = f"{path}[{key}]" if isinstance(value, list) else f"{path}.{key}" if path else str(key)
            stack.append((child, where, depth + 1))
    return None


# ---------------------------------------------------------------- writing


def save(path: Path, config: dict[str, Any]) -> Path | None:
    """Back up the current file and atomically replace it with `config`; returns the backup."""
    target = _real(path)
    data = encode(config)
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
        return _backup_and_write(target, encode(raw))


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
    tmp = write_temp(target, data)
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def _backup(target: Path) -> Path | None:
    """Copy the current file to `<name>.<time>.bak`, whole or not at all: through a fsynced
    temp file that is then linked under the backup name (a link, unlike a rename, never
    replaces a backup that already has that name)."""
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {target} to back it up: {exc.strerror or exc}") from None
    try:
        tmp = write_temp(target, data)
    except OSError as exc:
        raise StoreError(f"cannot back up {target}: {exc.strerror or exc}") from None
    try:
        when = datetime.now(timezone.utc)
        for _ in range(1000):
            # CCR's format: ISO time with ':' and '.' replaced, sortable by name.
            stamp = when.strftime("%Y-%m-%dT%H-%M-%S-") + f"{when.microsecond // 1000:03d}Z"
            backup = target.parent / f"{target.name}.{stamp}.bak"
            try:
                placed = _place(tmp, backup)
            except OSError as exc:
                raise StoreError(f"cannot back up {target}: {exc.strerror or exc}") from None
            if not placed:
                when += timedelta(milliseconds=1)  # two saves in one millisecond
                continue
            _fsync_dir(target.parent)
            return backup
        raise StoreError(f"cannot back up {target}: no free backup name")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _place(tmp: str, backup: Path) -> bool:
    """Give the whole temp file the backup's name; False when that name is taken."""
    try:
        os.link(tmp, backup)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
    if backup.exists():  # a filesystem without hard links: rename, which we hold the lock for
        return False
    os.rename(tmp, backup)
    return True


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
