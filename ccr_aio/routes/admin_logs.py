"""Logs API: GET /api/logs/files, GET /api/logs?file=&lines=, DELETE /api/logs?file=.

Only two kinds of file are reachable: a `*.log` file directly inside the logs directory, and
the app log (`<home>/claude-code-router.log`). `file` may be a bare name or the absolute
`path` that /api/logs/files reported. The real path (symlinks resolved) must be one of those,
so `../`, absolute paths elsewhere, URL-encoded traversal (aiohttp decodes the query once, so
it arrives as `../`) and symlinks leading out are refused. (CCR reads and truncates any file
the process can reach.)

The default file is the server log being written now (`logs.current_server_log()`), else the
newest `ccr-*.log`, else the app log. Reading takes the last `lines` non-empty lines by seeking
back from the end, so a 50 MB log costs a few blocks, not 50 MB.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from ..errors import ApiError
from ..logs import current_server_log
from ..settings import Settings
from ..state import STATE

routes = web.RouteTableDef()
DEFAULT_LINES = 1000
MAX_LINES = 100_000
MAX_TAIL_BYTES = 16 * 1024 * 1024  # a file of huge lines must not make us read it all
_BLOCK = 64 * 1024


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _iso(mtime: float) -> str:
    return datetime.fromtimestamp(mtime, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def list_files(settings: Settings) -> list[dict[str, Any]]:
    found: dict[Path, os.stat_result] = {}
    try:
        entries = list(os.scandir(settings.logs_dir))
    except OSError:
        entries = []
    for entry in entries:
        # Symlinks are not listed at all: the real file is either listed itself or off limits.
        if entry.name.endswith(".log") and entry.is_file(follow_symlinks=False):
            found[Path(entry.path)] = entry.stat(follow_symlinks=False)
    app_log = settings.app_log_path
    if app_log.is_file() and not app_log.is_symlink():
        found[app_log] = app_log.stat()
    ordered = sorted(found.items(), key=lambda item: item[1].st_mtime, reverse=True)
    return [{"name": path.name, "path": str(path), "size": st.st_size, "lastModified": _iso(st.st_mtime)}
            for path, st in ordered]


def default_file(settings: Settings) -> Path | None:
    logs_dir = _real(settings.logs_dir)
    current = current_server_log()
    if current is not None and _real(current).parent == logs_dir and current.is_file():
        return _real(current)
    try:
        servers = sorted(p for p in logs_dir.glob("ccr-*.log") if p.is_file() and not p.is_symlink())
    except OSError:
        servers = []
    if servers:
        return servers[-1]
    app_log = settings.app_log_path
    return _real(app_log) if app_log.is_file() else None


def resolve(settings: Settings, name: str | None) -> Path | None:
    """The real path `name` refers to, or ApiError 400/403/404; None = no default file yet."""
    if not name:
        return default_file(settings)
    if "\x00" in name or ".." in Path(name).parts:
        raise ApiError(400, "Invalid log file name: path traversal is not allowed")
    candidate = Path(name) if os.path.isabs(name) else settings.logs_dir / name
    try:
        real = _real(candidate)
        allowed = real == _real(settings.app_log_path) or (
            real.parent == _real(settings.logs_dir) and real.name.endswith(".log"))
        if not allowed:
            raise ApiError(403, "Only *.log files in the logs directory and the app log can be read or cleared")
        if not real.exists():
            raise ApiError(404, f"Log file not found: {Path(name).name[:100]}")
        if not real.is_file():
            raise ApiError(400, f"Not a regular file: {Path(name).name[:100]}")
    except OSError as exc:  # a name too long for the filesystem, a symlink loop...
        raise ApiError(400, f"Invalid log file name: {exc.strerror or exc}") from None
    return real


def tail_lines(path: Path, limit: int) -> list[str]:
    """The last `limit` non-empty lines, reading backwards block by block."""
    blocks: list[bytes] = []  # newest first
    complete = 0  # non-empty lines known to be whole
    head_has_text = False  # the (maybe cut) line before the first newline read so far
    read = 0
    with open(path, "rb") as fh:
        pos = fh.seek(0, os.SEEK_END)
        while pos > 0 and complete < limit and read < MAX_TAIL_BYTES:
            step = min(_BLOCK, pos)
            pos -= step
            fh.seek(pos)
            block = fh.read(step)
            blocks.append(block)
            read += len(block)
            parts = block.split(b"\n")
            if len(parts) > 1:
                # The text after this block's last newline joins the head read before.
                complete += (bool(parts[-1].strip()) or head_has_text) + sum(
                    1 for line in parts[1:-1] if line.strip())
                head_has_text = False
            head_has_text = head_has_text or bool(parts[0].strip())
    data = b"".join(reversed(blocks))
    lines = data.split(b"\n")
    if pos > 0:
        lines = lines[1:]  # started mid-line
    kept = [line.rstrip(b"\r") for line in lines if line.strip()]
    return [line.decode("utf-8", "replace") for line in kept[-limit:]]


def truncate(path: Path) -> None:
    # O_NOFOLLOW: the checked real path must not turn into a symlink in between.
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def _lines_param(request: web.Request) -> int:
    value = request.query.get("lines")
    if value is None or value == "":
        return DEFAULT_LINES
    try:
        lines = int(value)
    except ValueError:
        raise ApiError(400, f"lines must be a whole number, got {value!r}") from None
    if not 1 <= lines <= MAX_LINES:
        raise ApiError(400, f"lines must be between 1 and {MAX_LINES}")
    return lines


@routes.get("/api/logs/files")
async def files(request: web.Request) -> web.Response:
    settings = request.app[STATE].current.settings
    return web.json_response(await asyncio.to_thread(list_files, settings))


@routes.get("/api/logs")
async def read_log(request: web.Request) -> web.Response:
    settings = request.app[STATE].current.settings
    limit = _lines_param(request)
    path = await asyncio.to_thread(resolve, settings, request.query.get("file"))
    if path is None:
        return web.json_response([])
    try:
        lines = await asyncio.to_thread(tail_lines, path, limit)
    except OSError as exc:
        raise ApiError(500, f"Cannot read {path.name}: {exc.strerror or exc}") from None
    return web.json_response(lines)


@routes.delete("/api/logs")
async def clear_log(request: web.Request) -> web.Response:
    settings = request.app[STATE].current.settings
    path = await asyncio.to_thread(resolve, settings, request.query.get("file"))
    if path is not None:
        try:
            await asyncio.to_thread(truncate, path)
        except OSError as exc:
            raise ApiError(500, f"Cannot clear {path.name}: {exc.strerror or exc}") from None
    return web.json_response({"success": True, "message": "Logs cleared successfully"})
