"""Whatever `POST /api/config` accepts, the next start reads; a backup is whole or absent
even when the writer dies mid-copy (a real process, killed by the kernel)."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ccr_aio import config_store
from ccr_aio.settings import load_settings
from tests.admin_helpers import config_path, refused
from tests.conftest import base_config

ROOT = Path(__file__).resolve().parents[1]


def nested(depth: int) -> Any:
    """`depth` levels of objects and arrays, the outermost one counted."""
    value: Any = "bottom"
    for level in range(depth):
        value = {"a": value} if level % 2 else [value]
    return value


async def test_a_config_nested_too_deep_for_the_reader_is_refused_at_post(make_client, fake):
    client = await make_client(base_config(fake))
    message = await refused(client, base_config(fake, Deep=nested(39)))  # 40 with the top object
    assert "the next start could not read it" in message and "deeper than 32 levels" in message
    assert "(at Deep[0].a[0]" in message


async def test_the_deepest_config_a_save_takes_is_one_start_up_reads(make_client, fake):
    client = await make_client(base_config(fake))
    config = base_config(fake, Deep=nested(31))  # 32 with the top object: the reader's limit
    response = await client.post("/api/config", json=config)
    assert response.status == 200, await response.text()
    assert load_settings(config_path(client), env={}, create=False).raw == config  # the next start
    assert (await client.get("/api/config")).status == 200


@pytest.mark.parametrize("raw, content_type", [
    (b"[" * 1000 + b"]" * 1000, "application/json"),
    (b'{"a":' * 5000 + b"1" + b"}" * 5000, "application/json"),
    (b"[" * 1000 + b"]" * 1000, "application/json5"),
])
async def test_a_body_nested_thousands_deep_is_a_400_not_a_500(make_client, fake, raw, content_type):
    client = await make_client(base_config(fake))
    message = await refused(client, raw, headers={"Content-Type": content_type})
    assert "deep" in message.lower() or "nesting" in message.lower()


async def test_a_lone_surrogate_cannot_be_stored_as_utf8_so_it_is_a_400(make_client, fake):
    client = await make_client(base_config(fake))
    body = json.dumps(base_config(fake, Note="\ud800")).encode()  # json.dumps escapes it as \\ud800
    message = await refused(client, body, headers={"Content-Type": "application/json"})
    assert "lone surrogate" in message


def test_a_backup_is_whole_or_absent_when_the_writer_dies_mid_copy(tmp_path: Path):
    """A real process dies while copying the backup: RLIMIT_FSIZE makes the kernel kill it
    (SIGXFSZ) once the copy reaches 64 KiB, as abruptly as a kill -9 at that moment."""
    path = tmp_path / "config.json"
    old = {"Providers": [], "Router": {}, "pad": "o" * 200_000}
    path.write_text(json.dumps(old))
    script = (
        "import resource, signal\n"
        "from ccr_aio import config_store\n"  # imported (and any bytecode written) before the limit
        "signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n"  # Python ignores it; the kernel's default kills
        f"resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, {resource.RLIM_INFINITY}))\n"
        f"config_store.save({str(path)!r}, {{'new': True}})\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=60)
    assert result.returncode == -signal.SIGXFSZ  # it really died mid-write
    assert json.loads(path.read_text()) == old
    assert config_store.backups(path) == []  # a cut copy is not counted as a backup
    config_store.save(path, {"next": 1})  # the next save sweeps the cut temp file away...
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    (backup,) = config_store.backups(path)  # ... and its backup is whole
    assert json.loads(backup.read_text()) == old
