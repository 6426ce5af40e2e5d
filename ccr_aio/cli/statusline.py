"""`ccr-aio statusline`: the command behind Claude Code's `statusLine` setting.

Claude Code runs it after each update of the conversation (at most every 300 ms), writes the
session as JSON on stdin (`session_id`, `model`, `workspace`, `cost`, ...) and shows the first
line printed. The line says which model really answered through the router, e.g.

    deepseek,deepseek-chat · think→deepseek-reasoner · 182k in / 9k out · $0.06 · 1.2 s

the model of the default route, the last turn's scenario and model when it was not the
default, the session's tokens and cost, the last turn's latency. It costs one local HTTP call
(GET /api/sessions/<id>) and never fails loudly: a non-zero exit or a traceback would blank the
line, so every problem becomes a short hint and exit 0.

`ccr-aio statusline --install` writes the `statusLine` entry into Claude Code's user settings
(`~/.claude/settings.json`, or `$CLAUDE_CONFIG_DIR/settings.json`), keeping the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit

from ..settings import ConfigError
from . import commands

CALL_TIMEOUT_S = 0.5
PLAIN_SCENARIOS = (None, "default", "model", "explicit")  # the routes a user chose themselves
NOT_RUNNING = "ccr-aio: not running (ccr-aio start --daemon)"


def statusline(args: argparse.Namespace, stdin: IO[str] = sys.stdin, out: IO[str] = sys.stdout) -> int:
    if args.install:
        return install(args, out)
    try:
        line = describe(read_session(stdin), args)
    except ConfigError:
        line = "ccr-aio: the config does not load (see `ccr-aio status`)"
    except Exception as exc:  # noqa: BLE001 - the status line must never break Claude Code's
        line = f"ccr-aio: {type(exc).__name__}"
    print(line, file=out)
    return 0


def read_session(stdin: IO[str]) -> dict[str, Any]:
    try:
        data = json.loads(stdin.read() or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def describe(session: Mapping[str, Any], args: argparse.Namespace) -> str:
    session_id = session.get("session_id")
    if not isinstance(session_id, str) or not session_id:
        return "ccr-aio: no session id from Claude Code"
    settings = commands.load(args)
    url, _ = commands.server_url(settings, args)
    try:
        status, body = local_get(f"{url}/api/sessions/{quote(session_id, safe='')}", settings.apikey)
    except (OSError, ValueError, IndexError):  # nothing listens, or not our server
        return NOT_RUNNING
    if status == 401:
        return "ccr-aio: the server refused the APIKEY of this config"
    if status == 404:
        return "ccr-aio: request records are off (USAGE false)"
    if status != 200 or not isinstance(body, dict):
        return f"ccr-aio: server answered {status}"
    return render(body)


def local_get(url: str, apikey: str | None, timeout: float = CALL_TIMEOUT_S) -> tuple[int, Any]:
    """(status, JSON body) of a GET to our own server. A plain socket, not urllib or
    http.client: importing those costs more than the whole call, and Claude Code runs this
    after every turn. HTTP/1.0, so the answer is never chunked and ends when the socket does."""
    parts = urlsplit(url)
    head = [f"GET {parts.path} HTTP/1.0", f"Host: {parts.netloc}", "Accept: application/json"]
    if apikey:
        head.append(f"x-api-key: {apikey}")
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    header, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])  # ValueError/IndexError: not an HTTP answer
    return status, json.loads(body) if body else None


def render(body: Mapping[str, Any]) -> str:
    """The line for one session's `/api/sessions/<id>` answer."""
    records = [r for r in body.get("requests") or [] if isinstance(r, dict)]
    if not records:
        return "ccr-aio · no requests in this session yet"
    # Claude Code's own side calls (titles, quota checks: the background route) are not turns.
    last = next((r for r in records if r.get("scenario") != "background"), records[0])
    parts = [route_text(last, records)]
    total = body.get("total") or {}
    prompt = sum(int(total.get(k) or 0) for k in ("input_tokens", "cache_read_tokens", "cache_creation_tokens"))
    parts.append(f"{tokens(prompt)} in / {tokens(int(total.get('output_tokens') or 0))} out")
    if total.get("cost_usd") is not None:
        parts.append(dollars(float(total["cost_usd"])))
    parts.append(seconds(float(last.get("duration_ms") or 0)))
    status = int(last.get("status") or 0)
    if status >= 400 and status != 499:
        parts.append(f"⚠ {status}")
    return " · ".join(parts)


def route_text(last: Mapping[str, Any], records: list[dict[str, Any]]) -> str:
    """`provider,model`, plus `scenario→model` when the last turn took another route."""
    pair = _pair(last)
    scenario = last.get("scenario")
    if scenario in PLAIN_SCENARIOS:
        return pair
    default = next((r for r in records if r.get("scenario") == "default" and r.get("provider")), None)
    if default is None:
        return f"{scenario}→{pair}"
    same_provider = default.get("provider") == last.get("provider")
    return f"{_pair(default)} · {scenario}→{last.get('model') if same_provider else pair}"


def _pair(record: Mapping[str, Any]) -> str:
    if not record.get("provider"):
        return f"{record.get('requested_model') or '?'} (not routed)"
    return f"{record['provider']},{record.get('model')}"


def tokens(count: int) -> str:
    if count >= 999_500:
        return f"{count / 1e6:.1f}M"
    if count >= 1000:
        return f"{count / 1000:.0f}k" if count >= 9950 else f"{count / 1000:.1f}k"
    return str(count)


def dollars(value: float) -> str:
    return f"${value:.2f}" if value >= 0.01 or value == 0 else f"${value:.3f}"


def seconds(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"


# ---------------------------------------------------------------- --install


def claude_settings_path(env: Mapping[str, str] = os.environ) -> Path:
    folder = env.get("CLAUDE_CONFIG_DIR") or str(Path.home() / ".claude")
    return Path(folder).expanduser() / "settings.json"


def command_line(args: argparse.Namespace) -> str:
    """How Claude Code should run this command: the installed script when there is one,
    else this interpreter (Claude Code's PATH may not be this shell's)."""
    script = shutil.which("ccr-aio")
    words = [str(Path(script).resolve())] if script else [sys.executable, "-m", "ccr_aio"]
    words.append("statusline")
    if args.config:
        words += ["--config", str(Path(args.config).expanduser().absolute())]
    return shlex.join(words)


def install(args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
    path = claude_settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        print(f"ccr-aio: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        settings = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        print(f"ccr-aio: {path} is not valid JSON ({exc}); fix it first, nothing was changed",
              file=sys.stderr)
        return 1
    if not isinstance(settings, dict):
        print(f"ccr-aio: {path} does not hold a JSON object; nothing was changed", file=sys.stderr)
        return 1
    entry = {"type": "command", "command": command_line(args), "padding": 0}
    previous = settings.get("statusLine")
    settings["statusLine"] = entry
    write_atomically(path, json.dumps(settings, indent=2, ensure_ascii=False) + "\n")
    print(f"Claude Code's status line now runs: {entry['command']}", file=out)
    if previous and previous != entry:
        print(f"  (it replaced: {json.dumps(previous)})", file=out)
    print(f"  in {path}", file=out)
    return 0


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of it; the file keeps its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
