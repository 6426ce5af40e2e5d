"""The real process: `python -m ccr_aio` answers /health quickly and refuses broken configs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "HOST", "APIKEY", "CCR_CONFIG")}
    return {**env, "HOME": str(home)}


def test_health_answers_within_two_seconds_of_start(isolated_home: Path):
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "ccr_aio", "--port", str(port)], cwd=ROOT,
                            env=run_env(isolated_home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        body = None
        while time.monotonic() - started < 2.0 and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=0.5) as response:
                    body = json.loads(response.read())
            except OSError:
                time.sleep(0.02)
        assert body is not None and body["status"] == "ok", "no /health answer within 2 s"
        config = isolated_home / ".claude-code-router" / "config.json"
        assert json.loads(config.read_text())["Providers"] == []  # first run wrote the default file
    finally:
        proc.terminate()
        assert proc.wait(10) == 0  # SIGTERM is a clean stop
        proc.stderr.close()


def test_broken_config_stops_startup_with_message(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text('{"PORT": 3456,\n "Router": {,}}')
    result = subprocess.run([sys.executable, "-m", "ccr_aio", "--config", str(path)], cwd=ROOT,
                            env=run_env(tmp_path), capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert str(path) in result.stderr and "line 2" in result.stderr
