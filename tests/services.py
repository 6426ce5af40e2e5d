"""Real redis-server, nginx and ccr-aio instances for the multi-instance test, each on a free
127.0.0.1 port with its files in the test's tmp dir (no system service is touched)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.test_cli import ROOT, cli_env, healthy, stop_pid, wait_for
from tests.test_process import free_port

DEPLOY_NGINX = ROOT / "deploy" / "nginx.conf"
UPSTREAM_HEADER = "X-Upstream"


def program(name: str) -> str:
    """A program from PATH, or from /usr/sbin (where Debian puts nginx, outside a user's PATH)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    assert found, f"{name} is missing: `make test` installs it (apt-get install redis-server nginx)"
    return found


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Redis:
    directory: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [program("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await wait_for(lambda: _answers_ping(self.port), what="redis-server")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Instance:
    home: Path  # HOME; the config dir is home/.claude-code-router
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for path in sorted((self.home / ".claude-code-router" / "logs").glob("ccr-*.log")):
            found += [entry for line in path.read_text().splitlines() if (entry := json.loads(line))["event"] == name]
        return found


async def start_instance(home: Path, config: dict[str, Any]) -> Instance:
    folder = home / ".claude-code-router"
    folder.mkdir(parents=True)
    port = free_port()
    (folder / "config.json").write_text(json.dumps({"PORT": port, **config}))
    with open(home / "server.err", "ab") as err:
        proc = subprocess.Popen([sys.executable, "-m", "ccr_aio", "--config", str(folder / "config.json")],
                                cwd=ROOT, env=cli_env(home), stdout=subprocess.DEVNULL, stderr=err)
    instance = Instance(home, port, proc)
    await wait_for(lambda: healthy(instance.url), what=f"{instance.url}/health")
    return instance


def stop_instance(instance: Instance) -> None:
    stop_pid(instance.proc.pid)
    instance.proc.wait()


def nginx_config(directory: Path, listen: int, upstreams: list[int]) -> Path:
    """The deploy config with these instances and port; it also names the instance that
    answered in a response header, so the test knows where a session went."""
    site = DEPLOY_NGINX.read_text()
    servers = "".join(f"    server 127.0.0.1:{port} max_fails=2 fail_timeout=5s;\n" for port in upstreams)
    site, count = re.subn(r"(    server 127\.0\.0\.1:\d+[^\n]*\n)+", servers, site)
    assert count == 1, "deploy/nginx.conf: the upstream's server lines moved"
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    site = site.replace("proxy_pass http://ccr_aio;",
                        f"proxy_pass http://ccr_aio;\n        add_header {UPSTREAM_HEADER} $upstream_addr always;")
    temp = "".join(f"    {kind}_temp_path {directory / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = (("user root;\n" if os.geteuid() == 0 else "")
            + f"worker_processes 1;\npid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'};\n"
            + "daemon off;\nevents { worker_connections 256; }\n"
            + f"http {{\n    access_log off;\n{temp}{site}\n}}\n")
    path = directory / "nginx.conf"
    path.write_text(main)
    return path


async def start_nginx(directory: Path, upstreams: list[int]) -> tuple[subprocess.Popen[bytes], str]:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = nginx_config(directory, port, upstreams)
    proc = subprocess.Popen([program("nginx"), "-p", str(directory), "-e", str(directory / "error.log"), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    await wait_for(lambda: proc.poll() is not None or healthy(url), what="nginx")
    assert proc.poll() is None, (directory / "error.log").read_text()
    return proc, url


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
