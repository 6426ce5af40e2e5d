"""`ccr-aio statusline`: the line Claude Code shows, from the JSON it writes on stdin (recorded
from a real Claude Code run in tests/data/statusline_stdin.json) and one call to the server."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ccr_aio.cli import statusline
from tests.conftest import FIXTURES, provider_config
from tests.fakes.openai_upstream import chunk, stream_reply, usage_chunk
from tests.server_process import server_process  # noqa: F401 - fixture
from tests.test_cli import ROOT, cli_env

RECORDED = (FIXTURES / "statusline_stdin.json").read_text()
SESSION = json.loads(RECORDED)["session_id"]
PRICE = {"input": 0.27, "output": 1.10}


def record(**fields: Any) -> dict[str, Any]:
    return {"provider": "deepseek", "model": "deepseek-chat", "scenario": "default", "status": 200,
            "duration_ms": 1234.0, "requested_model": "claude-sonnet-4", **fields}


def totals(**fields: Any) -> dict[str, Any]:
    return {"input_tokens": 2000, "cache_read_tokens": 180_000, "cache_creation_tokens": 0,
            "output_tokens": 9000, "cost_usd": 0.0612, **fields}


@pytest.mark.parametrize("requests, total, line", [
    ([record()], totals(), "deepseek,deepseek-chat · 182k in / 9.0k out · $0.06 · 1.2 s"),
    ([record(scenario="think", model="deepseek-reasoner"), record()], totals(),
     "deepseek,deepseek-chat · think→deepseek-reasoner · 182k in / 9.0k out · $0.06 · 1.2 s"),
    ([record(scenario="background", provider="ollama", model="qwen"), record(duration_ms=850)],
     totals(cost_usd=None), "deepseek,deepseek-chat · 182k in / 9.0k out · 850 ms"),  # no price: no $
    ([record(scenario="longContext", provider="gemini", model="gemini-2.5-pro"), record()], totals(),
     "deepseek,deepseek-chat · longContext→gemini,gemini-2.5-pro · 182k in / 9.0k out · $0.06 · 1.2 s"),
    ([record(scenario="think", model="deepseek-reasoner")], totals(cost_usd=0.004),
     "think→deepseek,deepseek-reasoner · 182k in / 9.0k out · $0.004 · 1.2 s"),
    ([record(status=429)], totals(input_tokens=1_500_000, cache_read_tokens=0, output_tokens=512),
     "deepseek,deepseek-chat · 1.5M in / 512 out · $0.06 · 1.2 s · ⚠ 429"),
    ([record(provider=None, model=None, requested_model="nowhere,x", status=400)], totals(),
     "nowhere,x (not routed) · 182k in / 9.0k out · $0.06 · 1.2 s · ⚠ 400"),
    ([], totals(), "ccr-aio · no requests in this session yet"),
])
def test_the_line(requests, total, line):
    assert statusline.render({"requests": requests, "total": total}) == line


def run(home: Path, *args: str, stdin: str = RECORDED) -> tuple[int, str, str, float]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ccr_aio", "statusline", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, env=cli_env(home), timeout=30)
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started


async def test_the_command_against_a_real_server(server_process, fake, isolated_home):
    provider = provider_config(fake, name="deepseek", models=["deepseek-chat", "deepseek-reasoner"],
                               pricing={"deepseek-chat": PRICE})
    server = await server_process({"Providers": [provider], "APIKEY": [{"name": "me", "key": "k-1234567"}],
                                   "Router": {"default": "deepseek,deepseek-chat",
                                              "think": "deepseek,deepseek-reasoner"}})
    metadata = {"user_id": json.dumps({"device_id": "d", "account_uuid": "", "session_id": SESSION})}
    async with aiohttp.ClientSession(headers={"x-api-key": "k-1234567"}) as session:
        for prompt, thinking in ((120_000, None), (62_000, {"type": "enabled", "budget_tokens": 2000})):
            fake.queue(stream_reply([chunk({"role": "assistant", "content": ""}), chunk({"content": "x"}),
                                     chunk({}, "stop"), usage_chunk(prompt, 4500)]))
            body = {"model": "claude-sonnet-4", "max_tokens": 10, "stream": True, "metadata": metadata,
                    "messages": [{"role": "user", "content": "hi"}]}
            if thinking:
                body["thinking"] = thinking
            async with session.post(server.url + "/v1/messages", json=body) as response:
                assert response.status == 200
                await response.read()
    code, out, err, took = await asyncio.to_thread(run, isolated_home)
    assert (code, err) == (0, "")
    first, *rest = out.splitlines()
    assert rest == []
    cost = 120_000 * 0.27 / 1e6 + 4500 * 1.10 / 1e6  # the reasoner has no price
    assert first.startswith(f"deepseek,deepseek-chat · think→deepseek-reasoner · 182k in / 9.0k out · ${cost:.2f} · ")
    assert took < 5  # a hang would show; the real budget (< 100 ms) is measured in the README


async def test_it_never_fails_loudly(server_process, isolated_home, tmp_path):
    code, out, err, _ = await asyncio.to_thread(run, isolated_home)  # no server
    assert (code, out.strip(), err) == (0, statusline.NOT_RUNNING, "")
    code, out, err, _ = await asyncio.to_thread(run, isolated_home, stdin="not json")
    assert (code, out.strip(), err) == (0, "ccr-aio: no session id from Claude Code", "")
    bad = tmp_path / "bad.json"
    bad.write_text("{PORT: ")
    code, out, err, _ = await asyncio.to_thread(run, isolated_home, "--config", str(bad))
    assert (code, err) == (0, "") and "config does not load" in out
    server = await server_process({"Providers": [], "USAGE": False})
    code, out, err, _ = await asyncio.to_thread(run, isolated_home)
    assert (code, out.strip()) == (0, "ccr-aio: request records are off (USAGE false)")
    assert server.proc.returncode is None


def install(home: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ccr_aio", "statusline", "--install"], capture_output=True,
                          text=True, cwd=ROOT, env=cli_env(home, **env), timeout=30)


def test_install_keeps_the_rest_of_claude_codes_settings(isolated_home):
    path = isolated_home / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"model": "sonnet", "statusLine": {"type": "command", "command": "old"},
                                "permissions": {"allow": ["Bash(ls)"]}}))
    os.chmod(path, 0o640)
    result = install(isolated_home)
    assert result.returncode == 0, result.stderr
    settings = json.loads(path.read_text())
    assert settings["model"] == "sonnet" and settings["permissions"] == {"allow": ["Bash(ls)"]}
    entry = settings["statusLine"]
    assert entry["type"] == "command" and entry["padding"] == 0
    assert entry["command"].endswith("statusline") and ("ccr-aio" in entry["command"] or "-m ccr_aio" in entry["command"])
    assert "replaced" in result.stdout and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temp file left


def test_install_creates_the_file_and_refuses_to_touch_a_broken_one(isolated_home, tmp_path):
    folder = tmp_path / "claude-dir"
    result = install(isolated_home, CLAUDE_CONFIG_DIR=str(folder))
    assert result.returncode == 0, result.stderr
    assert set(json.loads((folder / "settings.json").read_text())) == {"statusLine"}
    broken = isolated_home / ".claude" / "settings.json"
    broken.parent.mkdir()
    broken.write_text('{"model": "sonnet",')
    result = install(isolated_home)
    assert result.returncode == 1 and "not valid JSON" in result.stderr
    assert broken.read_text() == '{"model": "sonnet",'


def test_the_parser_knows_the_command():
    from ccr_aio.cli import build_parser

    args = build_parser("statusline").parse_args(["--install"])
    assert isinstance(args, argparse.Namespace) and args.install
