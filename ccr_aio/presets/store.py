"""Where presets live, what one may be called, and reading and writing their manifests.

One rule for every name, whatever it comes from (URL parameter, form field, manifest, file
name, command line): a preset name is a plain file name that cannot be `..`, cannot hold a
separator and cannot shadow a route or a command. Every path is then checked to be a direct
child of the presets root, so no name reaches outside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyjson5

from ..errors import ApiError
from ..private_files import DIR_MODE, FILE_MODE, private_dir, write_temp

try:  # POSIX; without it installs are still atomic, just not serialised across processes
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

MANIFEST = "manifest.json"
TRUST_FILE = ".trust.json"  # written by ccr-aio only; an archive may not ship it
ARCHIVE_SUFFIX = ".ccrsets"
MAX_MANIFEST_BYTES = 1024 * 1024
NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# The HTTP routes beside /api/presets/{name}, and the commands `ccr-aio <name>` must not hide
# (CCR's and ours).
RESERVED = frozenset({
    "market", "install", "upload", "export",
    "start", "stop", "restart", "status", "statusline", "code", "model", "preset", "presets",
    "activate", "env", "ui", "version", "help",
})


class PresetError(ApiError):
    """A preset operation refused or failed; `status` is what the API answers."""


def name_problem(name: Any) -> str | None:
    """Why `name` cannot name a preset, or None when it can."""
    if not isinstance(name, str) or not _NAME.match(name):
        return f"use {NAME_RULE}"
    if name.lower().endswith(ARCHIVE_SUFFIX):
        return f"a name does not end in {ARCHIVE_SUFFIX}"
    if name.lower() in RESERVED:
        return f"'{name}' is reserved for a command or a route"
    return None


def check_name(name: Any, origin: str = "") -> str:
    """`name` if it may name a preset; else a 400 "Invalid preset name"."""
    problem = name_problem(name)
    if problem is not None or not isinstance(name, str):
        shown = json.dumps(name)[:80] if isinstance(name, str) else type(name).__name__
        raise PresetError(400, f"Invalid preset name {shown}{origin}: {problem}")
    return name


def presets_root(home: Path) -> Path:
    return Path(home) / "presets"


def preset_dir(root: Path, name: Any) -> Path:
    """The directory of preset `name`, checked to sit directly in `root` (not resolved: a
    symlink there is the entry itself, never what it points to)."""
    path = Path(root) / check_name(name)
    if os.path.dirname(os.path.abspath(path)) != os.path.abspath(root):
        raise PresetError(400, "Invalid preset name")
    return path


def is_installed(root: Path, name: str) -> bool:
    return name_problem(name) is None and (Path(root) / name).is_dir()


def installed_names(root: Path) -> list[str]:
    """Directory names under the root that could be presets, sorted."""
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return []
    return sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir())


def parse_manifest(data: bytes, source: str = MANIFEST) -> dict[str, Any]:
    """A manifest's bytes as a dict (JSON5: comments and trailing commas allowed)."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise PresetError(400, f"Invalid preset file: {source} is over {MAX_MANIFEST_BYTES // 1024} KB")
    try:
        value = pyjson5.decode(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, pyjson5.Json5Exception) as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        raise PresetError(400, f"Invalid preset file: {source} is not valid JSON5: {message[:200]}") from None
    if not isinstance(value, dict):
        raise PresetError(400, f"Invalid preset file: {source} must hold a JSON object")
    return value


def read_manifest(directory: Path) -> dict[str, Any]:
    """The installed preset's manifest; 404 when the preset is not there, 500 when its
    manifest is missing or does not parse."""
    if not directory.is_dir():
        raise PresetError(404, "Preset not found")
    path = directory / MANIFEST
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise PresetError(500, f"Cannot read {MANIFEST} of preset '{directory.name}': {exc.strerror or exc}") from None
    try:
        return parse_manifest(data)
    except PresetError as exc:
        raise PresetError(500, exc.message) from None


def dumps(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_private(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`, mode 0600: a temp file beside it, renamed."""
    tmp = write_temp(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    write_private(directory / MANIFEST, dumps(manifest))


def ensure_root(root: Path) -> None:
    private_dir(root.parent, tighten=False)
    root.mkdir(mode=DIR_MODE, exist_ok=True)


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Serialise changes under the presets root (installs, applies, deletes), across processes."""
    ensure_root(root)
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
