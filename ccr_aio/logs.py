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

Our own events (structlog) are rendered once, as one JSON line, and that line is written to
every file it belongs in; only a console that someone reads gets a second, human-readable
rendering. Lines are written unbuffered, one write each, so `tail -f` and the UI see them at
once. Other libraries' stdlib records (aiohttp, asyncio) go through the same processors by way
of `logging` handlers.
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

from .jsonutil import dumps_log_line
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
_app_handler: LineFile | None = None
_console: ConsoleLog | None = None
_known_secrets: tuple[str, ...] = ()


class LineFile(logging.Handler):
    """An append-only log file (0600) taking whole lines: `write_line` for our rendered events,
    `emit` for stdlib records (rendered by the formatter set on the handler)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._open(path)

    def _open(self, path: Path) -> None:
        self.path = path
        # Unbuffered: every line is one write(2), so readers never see half of one.
        self._stream: IO[bytes] = os.fdopen(open_private(path, os.O_WRONLY | os.O_APPEND), "ab", buffering=0)

    def write_line(self, data: bytes) -> None:
        with self.lock:  # type: ignore[union-attr]  # set by Handler.__init__
            self._write(data)

    def _write(self, data: bytes) -> None:
        try:
            self._stream.write(data)
        except (OSError, ValueError):  # a full disk loses the line, never the request logging it
            pass

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line((self.format(record) + "\n").encode("utf-8", "replace"))
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._stream.close()
        super().close()


class RotatingServerLog(LineFile):
    """Appends lines to `ccr-<start time>.log`, starting a new file per day or at `max_bytes`.

    The stdlib rotating handlers rename the live file to `name.1`; we never rename, so a
    file's name always tells when it was started and readers can tail it safely.

    The workers of `--workers N` append to the same file, each with its own handler: the size
    that decides is the file's (not what this process wrote), and a process that finds the next
    file already started by another joins it, so N workers still make one file at a time.
    """

    def __init__(self, directory: Path, *, max_bytes: int = MAX_BYTES, keep: int = KEEP_FILES,
                 clock: Callable[[], datetime] = datetime.now) -> None:
        self.directory, self.max_bytes, self.keep, self.clock = directory, max_bytes, keep, clock
        private_dir(directory)
        files = self._files()
        # A restart or config reload continues today's file instead of starting another.
        if files and _stamp(files[-1]).date() == clock().date() \
                and files[-1].stat().st_size < max_bytes:
            super().__init__(files[-1])
        else:
            super().__init__(self._new_path())

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

    def _next_path(self) -> Path:
        files = self._files()
        if files and files[-1] != self.path:  # another process rotated first
            newest = files[-1]
            if _stamp(newest).date() == self.clock().date() and newest.stat().st_size < self.max_bytes:
                return newest
        return self._new_path()

    def _file_size(self) -> int:
        try:
            return os.fstat(self._stream.fileno()).st_size
        except (OSError, ValueError):
            return self._size

    def _open(self, path: Path) -> None:
        super()._open(path)
        self._size = 0  # what `_file_size` falls back to when the new file cannot be read
        self._size = self._file_size()
        self._started = _stamp(path).date()
        self._day_ends = datetime.combine(self._started + timedelta(days=1), datetime.min.time())
        for old in self._files()[:-self.keep]:
            old.unlink(missing_ok=True)

    def write_line(self, data: bytes) -> None:
        with self.lock:  # type: ignore[union-attr]
            # `>=` the next midnight, not `!=` the day: a start bumped past midnight must not
            # roll on every line.
            if self._size and (self._size + len(data) > self.max_bytes or self.clock() >= self._day_ends):
                self._stream.close()
                self._open(self._next_path())
            self._write(data)
            self._size = self._file_size()  # other workers' lines count too


class ConsoleLog(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr: colourful columns on a terminal, key=value lines otherwise (a service's journal)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        tty = sys.stderr.isatty()
        self.render: Processor = (
            structlog.dev.ConsoleRenderer(colors=True, timestamp_key="time") if tty
            else structlog.processors.KeyValueRenderer(key_order=["time", "level", "event"], drop_missing=True))

    def write_event(self, method: str, event_dict: EventDict) -> None:
        line = self.render(None, method, dict(event_dict))  # renderers may pop keys: a copy
        text = line if isinstance(line, str) else str(line)
        with self.lock:  # type: ignore[union-attr]
            try:
                self.stream.write(text + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # a closed or broken stderr must not break a request
                pass


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
    event_dict["pid"] = _process[0]
    event_dict["hostname"] = _HOSTNAME
    return event_dict


_HOSTNAME = socket.gethostname()
_process = [os.getpid()]  # getpid(2) is a system call per line; a forked worker gets its own
os.register_at_fork(after_in_child=lambda: _process.__setitem__(0, os.getpid()))
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


def _write(_: Any, method: str, event_dict: EventDict) -> EventDict:
    """structlog's last processor: render the event once and write it wherever it belongs."""
    line = dumps_log_line(event_dict)
    if _server_handler is not None:
        _server_handler.write_line(line)
    if _app_handler is not None and event_dict.get("logger") == APP_LOGGER:
        _app_handler.write_line(line)
    if _console is not None:
        _console.write_event(method, event_dict)
    raise structlog.DropEvent  # written: the logger itself has nothing left to do


def _stderr_is_discarded() -> bool:
    """stderr is /dev/null (a daemon, a benchmark): nobody would read a console rendering."""
    try:
        err, null = os.fstat(sys.stderr.fileno()), os.stat(os.devnull)
    except (OSError, ValueError, AttributeError):  # no real file behind sys.stderr (tests)
        return False
    return (err.st_dev, err.st_ino) == (null.st_dev, null.st_ino)


def close_logging() -> None:
    """Remove and close every handler `setup_logging` installed (shutdown, reload, tests)."""
    global _server_handler, _app_handler, _console
    _server_handler = _app_handler = _console = None
    while _installed:
        logger, handler = _installed.pop()
        logger.removeHandler(handler)
        handler.close()


def setup_logging(settings: Settings, *, console: bool = True, max_bytes: int = MAX_BYTES) -> None:
    """(Re)configure logging from `settings`; safe to call again on config reload."""
    global _server_handler, _app_handler, _console, _known_secrets
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
    if console and not _stderr_is_discarded():
        _console = ConsoleLog()
        _install(root, _console, _console.render)
    if settings.log_enabled:
        json_renderer = structlog.processors.JSONRenderer()
        _server_handler = RotatingServerLog(settings.logs_dir, max_bytes=max_bytes)
        _install(root, _server_handler, json_renderer)
        private_dir(settings.app_log_path.parent, tighten=False)
        _app_handler = LineFile(settings.app_log_path)
        _install(logging.getLogger(APP_LOGGER), _app_handler, json_renderer)
    structlog.configure(
        processors=[*_SHARED, _write],
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
