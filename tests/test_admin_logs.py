"""Logs API: listing, reading the tail, clearing, and every way out of the logs dir refused."""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import Any

import pytest
import yarl

from ccr_aio.routes import admin_logs
from tests.admin_helpers import config_path
from tests.conftest import base_config

CLEARED = {"success": True, "message": "Logs cleared successfully"}
# The tests own the logs dir: the server writes no log of its own (LOG false), so the files a
# test puts there are all the API can find.
NO_LOGS = {"LOG": False}


@pytest.fixture
async def logs(make_client, fake, tmp_path: Path) -> tuple[Any, Path]:
    """A client whose logs dir holds two server logs, another .log, a .txt and a symlink out."""
    client = await make_client(base_config(fake, **NO_LOGS))
    home = config_path(client).parent
    folder = home / "logs"
    folder.mkdir(exist_ok=True)  # a server creates it at its first start
    files = {
        folder / "ccr-20261101000000.log": '{"event": "old"}\n',
        folder / "ccr-20261102000000.log": '{"event": "a"}\n\n{"event": "b"}\r\n{"event": "c"}\n',
        folder / "other.log": "x\n",
        folder / "notes.txt": "not a log\n",
        home / "claude-code-router.log": '{"event": "route"}\n',
    }
    for i, (path, text) in enumerate(files.items()):
        path.write_text(text)
        os.utime(path, (1_800_000_000 + i * 100, 1_800_000_000 + i * 100))
    secret = tmp_path / "secret.log"
    secret.write_text("top secret\n")
    (folder / "link.log").symlink_to(secret)
    return client, home


async def test_files_lists_logs_and_app_log_newest_first(logs):
    client, home = logs
    response = await client.get("/api/logs/files")
    items = await response.json()
    assert [i["name"] for i in items] == ["claude-code-router.log", "other.log",
                                         "ccr-20261102000000.log", "ccr-20261101000000.log"]
    first = items[0]
    assert first["path"] == str(home / "claude-code-router.log")
    assert first["size"] == len('{"event": "route"}\n')
    assert first["lastModified"] == "2027-01-15T08:06:40.000Z"


async def test_default_is_the_newest_server_log_as_non_empty_lines(logs):
    client, _ = logs
    response = await client.get("/api/logs")
    assert await response.json() == ['{"event": "a"}', '{"event": "b"}', '{"event": "c"}']


async def test_read_by_name_by_listed_path_and_the_app_log(logs):
    client, home = logs
    assert await (await client.get("/api/logs?file=other.log")).json() == ["x"]
    listed = str(home / "logs" / "ccr-20261101000000.log")
    assert await (await client.get("/api/logs", params={"file": listed})).json() == ['{"event": "old"}']
    app_log = str(home / "claude-code-router.log")
    assert await (await client.get("/api/logs", params={"file": app_log})).json() == ['{"event": "route"}']


async def test_lines_parameter_takes_the_tail(logs):
    client, _ = logs
    response = await client.get("/api/logs?lines=2")
    assert await response.json() == ['{"event": "b"}', '{"event": "c"}']
    for bad in ("0", "-1", "abc", "100001"):
        response = await client.get(f"/api/logs?lines={bad}")
        assert response.status == 400


async def test_delete_truncates(logs):
    client, home = logs
    response = await client.delete("/api/logs?file=other.log")
    assert await response.json() == CLEARED
    assert (home / "logs" / "other.log").read_bytes() == b""
    response = await client.delete("/api/logs")  # the default file
    assert await response.json() == CLEARED
    assert (home / "logs" / "ccr-20261102000000.log").read_bytes() == b""
    assert await (await client.get("/api/logs")).json() == []


TRAVERSALS = [
    ("../config.json", 400),
    ("logs/../../config.json", 400),
    ("..%2Fconfig.json", 400),                      # URL-encoded slash
    ("%2e%2e%2fconfig.json", 400),                  # URL-encoded dots and slash
    ("%2E%2E/%2E%2E/etc/passwd", 400),
    ("/etc/passwd", 403),                           # absolute, elsewhere
    ("link.log", 403),                              # symlink leading out of the dir
    ("notes.txt", 403),                             # in the dir, but not a log
    ("%252e%252e%252fconfig.json", 403),            # double-encoded: an odd name, not a log
    ("%252e%252e%252fx.log", 404),                  # ... or an odd, missing log
    ("missing.log", 404),
]


@pytest.mark.parametrize("name, status", TRAVERSALS)
async def test_paths_outside_are_refused(logs, name, status):
    client, home = logs
    for method in ("GET", "DELETE"):
        url = client.make_url("/api/logs").with_query(None)
        raw = yarl.URL(f"{url}?file={name}", encoded=True)
        response = await client.session.request(method, raw)
        body = await response.json()
        assert response.status == status, (method, name, body)
        assert body["type"] == "error"
    assert (home / "config.json").stat().st_size > 0
    assert (home.parent / "secret.log").read_text() == "top secret\n"


async def test_absolute_paths_to_the_config_and_sibling_dirs_are_refused(logs, tmp_path):
    client, home = logs
    evil = home / "logs-evil"
    evil.mkdir()
    (evil / "x.log").write_text("no\n")
    for target in (home / "config.json", evil / "x.log", home / "logs"):
        response = await client.get("/api/logs", params={"file": str(target)})
        assert response.status in (400, 403), target
        response = await client.delete("/api/logs", params={"file": str(target)})
        assert response.status in (400, 403), target
    assert (evil / "x.log").read_text() == "no\n"


async def test_symlink_to_the_app_log_resolves_to_an_allowed_file(logs):
    client, home = logs
    (home / "logs" / "app.log").symlink_to(home / "claude-code-router.log")
    response = await client.get("/api/logs?file=app.log")
    assert await response.json() == ['{"event": "route"}']


async def test_no_log_files_yet(make_client, fake):
    client = await make_client(base_config(fake, **NO_LOGS))
    assert await (await client.get("/api/logs/files")).json() == []
    assert await (await client.get("/api/logs")).json() == []


# ---------------------------------------------------------------- tail reading


def test_tail_edge_cases(tmp_path: Path):
    path = tmp_path / "t.log"
    path.write_bytes(b"one\n\n\ntwo\r\nthree")  # blank lines, CRLF, no final newline
    assert admin_logs.tail_lines(path, 10) == ["one", "two", "three"]
    assert admin_logs.tail_lines(path, 2) == ["two", "three"]
    path.write_bytes(b"")
    assert admin_logs.tail_lines(path, 5) == []
    long_line = b"L" * 200_000  # longer than one read block
    path.write_bytes(b"first\n" + long_line + b"\nlast\n")
    assert admin_logs.tail_lines(path, 2) == [long_line.decode(), "last"]
    assert admin_logs.tail_lines(path, 3) == ["first", long_line.decode(), "last"]
    path.write_bytes(b"a\n" + b"\n" * 300_000 + b"b\n")  # empty lines across many blocks
    assert admin_logs.tail_lines(path, 2) == ["a", "b"]
    path.write_bytes("é\n".encode() + b"\xff\xfe\n")
    assert admin_logs.tail_lines(path, 5) == ["é", "\ufffd\ufffd"]


def test_tail_of_a_large_file_reads_only_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "big.log"
    line = b'{"level": "info", "event": "request", "padding": "' + b"x" * 400 + b'"}\n'
    with open(path, "wb") as fh:
        for i in range(60_000):  # ~27 MB
            fh.write(line.replace(b"request", b"req%06d" % i))
    read_bytes = [0]
    real_open = builtins.open

    class Counting:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def seek(self, *args):
            return self.fh.seek(*args)

        def tell(self):
            return self.fh.tell()

        def read(self, size=-1):
            data = self.fh.read(size)
            read_bytes[0] += len(data)
            return data

    monkeypatch.setattr(admin_logs, "open", lambda *a, **k: Counting(real_open(*a, **k)), raising=False)
    lines = admin_logs.tail_lines(path, 100)
    assert len(lines) == 100
    assert '"req059999"' in lines[-1] and '"req059900"' in lines[0]
    assert read_bytes[0] < 200_000  # a few blocks of a 27 MB file
