"""For the preset CLI tests: a stand-in `claude` and a terminal to answer prompts on."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Records what it was given, then sends the prompt to ANTHROPIC_BASE_URL the way Claude Code
# does (Bearer ANTHROPIC_AUTH_TOKEN), prints the answer and exits 3.
STAND_IN = '''#!{python}
import json, os, stat, sys, urllib.request
args = sys.argv[1:]
path = args[args.index("--settings") + 1] if "--settings" in args else None
record = {{"argv": args, "settings_path": path,
          "env": {{k: os.environ.get(k) for k in ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY",
                                                 "ANTHROPIC_MODEL", "NO_PROXY", "API_TIMEOUT_MS")}}}}
if path:
    record["settings"] = json.load(open(path))
    record["settings_mode"] = stat.S_IMODE(os.stat(path).st_mode)
    record["settings_dir_mode"] = stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)
prompt = args[args.index("-p") + 1] if "-p" in args else "hi"
body = json.dumps({{"model": "m", "max_tokens": 16, "messages": [{{"role": "user", "content": prompt}}]}}).encode()
request = urllib.request.Request(os.environ["ANTHROPIC_BASE_URL"] + "/v1/messages", data=body, headers={{
    "Authorization": "Bearer " + os.environ["ANTHROPIC_AUTH_TOKEN"], "Content-Type": "application/json",
    "anthropic-version": "2023-06-01"}})
opener = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))
with opener.open(request, timeout=10) as response:
    record["answer"] = json.load(response)["content"][0]["text"]
json.dump(record, open(os.environ["CLAUDE_RECORD"], "w"))
print(record["answer"])
sys.exit(3)
'''


def install_stand_in(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "claude"
    script.write_text(STAND_IN.format(python=sys.executable))
    script.chmod(0o755)
    return script


def on_terminal(args: list[str], env: dict[str, str], answers: list[tuple[str, str]],
                timeout: float = 30.0) -> tuple[int, str]:
    """Run `python -m ccr_aio args` on a pseudo-terminal; each time the output since the last
    answer shows the next expected text, type its answer. Returns (exit code, all output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "ccr_aio", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    pending = list(answers)
    answered_at = 0
    try:
        while True:
            if pending and pending[0][0].encode() in output[answered_at:]:
                os.write(master, pending.pop(0)[1].encode() + b"\n")
                answered_at = len(output)
                continue
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; waiting for {pending[:1]}; output so far:\n{output.decode()}")
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    break
                output += chunk
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not pending, f"never asked {pending}; output:\n{output.decode()}"
    return code, output.decode(errors="replace")


def read_record(path: Path) -> dict:
    return json.loads(path.read_text())
