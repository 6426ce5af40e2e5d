"""Structured logging: structlog on top of stdlib logging.

Every line is one JSON object with at least:
  `event` (the message), `level` (a lower-case *name* — "debug", "info", "warning", "error",
  "critical" — not pino's numbers), `time` (ISO 8601 UTC), `pid`, `hostname`, `logger`,
  plus whatever is bound with `structlog.contextvars.bind_contextvars` (e.g. `request_id`).

Files (only when `LOG` is not false):
  - server log `<logs_dir>/ccr-YYYYMMDDHHMMSS.log` (local time the file was started): every
    event; a new file each day and at 50 MB; only the newest 3 are kept.
  - app log `<home>/claude-code-router.log`: business events logged via `get_app_logger()`.
Secrets (API keys, Authorization headers, bearer tokens) are masked before any output.
Log files are 0600 and the logs dir 0700, like the config.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import socket
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import structlog
from structlog.typing import EventDict, Processor

from .private_files import open_private, private_dir
from .settings import Settings

MAX_BYTES = 50 * 1024 * 1024
KEEP_FILES = 3
APP_LOGGER = "ccr_aio.app"
_LEVELS = {"fatal": logging.CRITICAL, "warn": logging.WARNING, "trace": logging.DEBUG}
_NAME = re.compile(r"^ccr-(\d{14})\.log$")
_STAMP = "%Y%m%d%H%M%S"
# Key names are matched by suffix after dropping "-"/"_" so "x-api-key" and "access_token"
# match but usage counters such as "max_tokens" do not.
_SECRET_KEYS = ("apikey", "authorization", "password", "secret", "token")
_SECRET_TEXT = re.compile(
    r"(?P<p>\bBearer\s+)[^\s\"',;]+|(?P<s>\bsk-)[A-Za-z0-9_\-]{16,}"
    r"|(?P<q>[?&](?:key|api_?key|token|access_token)=)[^&\s\"']+", re.IGNORECASE)
_MASK = "***"
_PLAIN = (bool, int, float)

_installed: list[tuple[logging.Logger, logging.Handler]] = []
_server_handler: RotatingServerLog | None = None
_known_secrets: tuple[str, ...] = ()


class RotatingServerLog(logging.Handler):
    """Appends lines to `ccr-<start time>.log`, starting a new file per day or at `max_bytes`.

    The stdlib rotating handlers rename the live file to `name.1`; we never rename, so a
    file's name always tells when it was started and readers can tail it safely.
    """

    def __init__(self, directory: Path, *, max_bytes: int = MAX_BYTES, keep: int = KEEP_FILES,
                 clock: Callable[[], datetime] = datetime.now) -> None:
        super().__init__()
        self.directory, self.max_bytes, self.keep, self.clock = directory, max_bytes, keep, clock
        private_dir(directory)
        files = self._files()
        # A restart or config reload continues today's file instead of starting another.
        if files and _stamp(files[-1]).date() == clock().date() \
                and files[-1].stat().st_size < max_bytes:
            self._open(files[-1])
        else:
            self._open(self._new_path())

    def _files(self) -> list[Path]:
        return sorted(p for p in self.directory.iterdir() if _NAME.match(p.name))

    def _new_path(self) -> Path:
        # Names must stay unique and sort by age even with two rotations in one second, so
        # a start not after the newest file's moves to the second after it.
        start = self.clock().replace(microsecond=0)
        files = self._files()
        if files and (newest := _stamp(files[-1])) >= start:
            start = newest + timedelta(seconds=1)
        return self.directory / f"ccr-{start.strftime(_STAMP)}.log"

    def _open(self, path: Path) -> None:
        self.path = path
        self._stream: IO[bytes] = os.fdopen(open_private(path, os.O_WRONLY | os.O_APPEND), "ab")
        self._size = self._stream.tell()
        self._started = _stamp(path).date()
        for old in self._files()[:-self.keep]:
            old.unlink(missing_ok=True)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = (self.format(record) + "\n").encode("utf-8", "replace")
            # `>` not `!=`: a start bumped past midnight must not roll on every line.
            if self._size and (self._size + len(data) > self.max_bytes
                               or self.clock().date() > self._started):
                self._stream.close()
                self._open(self._new_path())
            self._stream.write(data)
            self._stream.flush()
            self._size += len(data)
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # None only before Handler.__init__ ran createLock()
            self._stream.close()
        super().close()


class PrivateFileHandler(logging.FileHandler):
    """The stdlib file handler, creating (or tightening) its file as 0600."""

    def _open(self) -> Any:  # the stdlib's annotation names a concrete wrapper class
        fd = open_private(Path(self.baseFilename), os.O_WRONLY | os.O_APPEND)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def _stamp(path: Path) -> datetime:
    return datetime.strptime(path.name[4:18], _STAMP)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        for secret in _known_secrets:
            if secret in value:
                value = value.replace(secret, _MASK)
        return _SECRET_TEXT.sub(lambda m: (m["p"] or m["s"] or m["q"]) + _MASK, value)
    if value is None or isinstance(value, _PLAIN):  # most values; skips the slow ABC check below
        return value
    if isinstance(value, Mapping):
        return {k: _MASK if _is_secret_key(k) else _redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(v) for v in value]
    return value


def _is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and _is_secret_name(key)


@functools.lru_cache(maxsize=4096)  # the same few key names on every line
def _is_secret_name(key: str) -> bool:
    return key.lower().replace("-", "").replace("_", "").endswith(_SECRET_KEYS)


def redact(_: Any, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secret-named keys (nested too) and secret-looking text."""
    return {k: v if k.startswith("_") else _MASK if _is_secret_key(k) else _redact(v)
            for k, v in event_dict.items()}


def _add_process(_: Any, __: str, event_dict: EventDict) -> EventDict:
    event_dict["pid"] = os.getpid()  # not cached: stays right after a fork
    event_dict["hostname"] = _HOSTNAME
    return event_dict


_HOSTNAME = socket.gethostname()
_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
    _add_process,
    structlog.processors.format_exc_info,
    redact,
]


def _install(logger: logging.Logger, handler: logging.Handler, renderer: Processor) -> None:
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,  # aiohttp and other stdlib loggers get the same keys
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]))
    logger.addHandler(handler)
    _installed.append((logger, handler))


def close_logging() -> None:
    """Remove and close every handler `setup_logging` installed (shutdown, reload, tests)."""
    global _server_handler
    while _installed:
        logger, handler = _installed.pop()
        logger.removeHandler(handler)
        handler.close()
    _server_handler = None


def setup_logging(settings: Settings, *, console: bool = True, max_bytes: int = MAX_BYTES) -> None:
    """(Re)configure logging from `settings`; safe to call again on config reload."""
    global _server_handler, _known_secrets
    close_logging()
    name = settings.log_level.lower()
    level = _LEVELS.get(name) or logging.getLevelNamesMapping().get(name.upper(), logging.INFO)
    secrets = [settings.apikey, *(k.key for k in settings.client_keys)] + [
        key for p in settings.config.providers for key in p.api_keys]
    # Exact configured keys are masked too, whatever they look like; short values would
    # mask ordinary words.
    _known_secrets = tuple(s for s in secrets if isinstance(s, str) and len(s) >= 8)
    root = logging.getLogger()
    root.setLevel(level)
    if console:
        _install(root, logging.StreamHandler(sys.stderr),
                 structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), timestamp_key="time"))
    if settings.log_enabled:
        json_renderer = structlog.processors.JSONRenderer()
        _server_handler = RotatingServerLog(settings.logs_dir, max_bytes=max_bytes)
        _install(root, _server_handler, json_renderer)
        private_dir(settings.app_log_path.parent, tighten=False)
        _install(logging.getLogger(APP_LOGGER),
                 PrivateFileHandler(settings.app_log_path, encoding="utf-8"), json_renderer)
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        # Below-level calls are a bare `return None`; no event dict is built.
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # A named factory skips structlog's per-call frame inspection for the logger name.
        logger_factory=lambda *args: logging.getLogger(args[0] if args else "ccr_aio"),
        # Not cached: module-level loggers must pick up a new level after a reload.
        cache_logger_on_first_use=False,
    )


def get_app_logger() -> Any:
    """Logger for business events (routing decisions…): app log and server log."""
    return structlog.get_logger(APP_LOGGER)


def current_server_log() -> Path | None:
    """The server log file being written now, or None when file logging is off."""
    return _server_handler.path if _server_handler is not None else None
