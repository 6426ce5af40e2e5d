"""config_store: shape validation, backups (newest 3), atomic replace, crash and disk-full safety."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ccr_aio import config_store
from ccr_aio.config import parse_config
from ccr_aio.config_store import StoreError, backups, read_raw, save, update, validate

ROOT = Path(__file__).resolve().parents[1]
GOOD = {
    "PORT": 3456,
    "APIKEY": "$CCR_KEY",
    "Providers": [{"name": "p", "api_base_url": "http://127.0.0.1:1/v1/chat/completions",
                   "api_key": "$P_KEY", "models": ["m"],
                   "transformer": {"use": ["openai", ["anthropic", {"x": 1}]], "m": {"use": ["openai"]}}}],
    "Router": {"default": "p,m", "longContextThreshold": 60000, "custom": {"anything": 1}},
    "transformers": [{"path": "/x/plugin.py", "options": {}}],
    "StatusLine": {"enabled": True},
}


def write(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data))


def test_good_config_has_no_errors():
    assert validate(GOOD) == []
    assert validate({}) == []


def test_every_shape_problem_is_listed():
    bad = {
        "PORT": 70000,
        "Providers": [
            {"api_base_url": "http://x", "models": ["m"]},
            {"name": "q", "models": "m", "transformer": {"use": "openai", "m": ["x"]}},
            {"name": "Q", "api_base_url": "http://y", "models": [1], "transformer": {"use": [["x", "notdict"], 3]}},
            "not an object",
        ],
        "Router": {"default": ["p", "m"], "think": "no-comma", "longContextThreshold": "big"},
        "transformers": [{"options": []}, 5],
    }
    errors = validate(bad)
    text = "\n".join(errors)
    for expected in (
        "PORT must be a port number",
        "Providers[0].name is required",
        "Providers[1] (q).api_base_url is required",
        "Providers[1] (q).models must be an array of strings",
        "Providers[1] (q).transformer.use must be an array",
        "Providers[1] (q).transformer.m must be an object",
        "Providers[2] (Q): duplicate provider name",
        "Providers[2] (Q).models must be an array of strings",
        "Providers[2] (Q).transformer.use[0] must be a name or [name, {options}]",
        "Providers[2] (Q).transformer.use[1]",
        "Providers[3] must be an object",
        "Router.default must be a string",
        "Router.think must be \"provider,model\"",
        "Router.longContextThreshold must be a number",
        "transformers[0].path is required",
        "transformers[0].options must be an object",
        "transformers[1] must be an object",
    ):
        assert expected in text, f"missing: {expected}\n{text}"
    assert validate([1, 2]) == ["the config must be a JSON object, got an array"]
    assert validate({"Providers": {}, "Router": [], "transformers": {}}) == [
        "Providers must be an array, got an object", "Router must be an object, got an array",
        'transformers must be an array of {"path": ..., "options": {...}}, got an object']


def test_router_warnings_name_unknown_pairs():
    providers = [{"name": "P", "api_base_url": "http://x", "models": ["M"]}]

    def warnings(router: dict) -> list[str]:
        return config_store.router_warnings(parse_config({"Router": router, "Providers": providers}).value)

    assert warnings({"default": "p,m"}) == []
    assert warnings({"think": "p,x"}) == ["Router.think 'p,x' is not a configured provider,model"]


def test_save_keeps_unknown_keys_var_references_and_mode(tmp_path: Path):
    path = tmp_path / "config.json"
    assert save(path, GOOD) is None  # no old file, nothing to back up
    assert json.loads(path.read_text()) == GOOD
    assert read_raw(path)["APIKEY"] == "$CCR_KEY"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_backups_rotate_keeping_newest_three(tmp_path: Path):
    path = tmp_path / "config.json"
    write(path, {"version": 0})
    made = [save(path, {"version": i}) for i in range(1, 7)]
    kept = backups(path)
    assert len(kept) == 3
    assert kept == made[-3:]  # the newest three, oldest first
    assert [json.loads(p.read_text())["version"] for p in kept] == [3, 4, 5]
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in kept)
    assert json.loads(path.read_text()) == {"version": 6}
    # CCR's naming: config.json.<ISO time with - for : and .>.bak, sortable by name
    assert kept[0].name.startswith("config.json.20") and kept[0].name.endswith("Z.bak")


def test_symlinked_config_is_written_through(tmp_path: Path):
    real = tmp_path / "dotfiles" / "ccr.json"
    real.parent.mkdir()
    write(real, {"v": 1})
    link = tmp_path / "config.json"
    link.symlink_to(real)
    save(link, {"v": 2})
    assert link.is_symlink() and json.loads(real.read_text()) == {"v": 2}


def test_failed_rename_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "config.json"
    write(path, {"old": True})

    def disk_full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(config_store.os, "replace", disk_full)
    with pytest.raises(StoreError, match="No space left on device"):
        save(path, {"new": True})
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_unwritable_directory_is_a_store_error(tmp_path: Path):
    # Works as root too: a parent that is a file cannot hold a temp file.
    blocker = tmp_path / "notadir"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="Not a directory"):
        save(blocker / "config.json", {"a": 1})


def test_crash_between_write_and_rename_leaves_old_file_valid(tmp_path: Path):
    """A real process killed (SIGKILL) after the temp file is written but before the rename."""
    path = tmp_path / "config.json"
    write(path, {"old": True, "Providers": []})
    script = (
        "import os, signal, sys\n"
        "from ccr_aio import config_store\n"
        "def die(src, dst):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "config_store.os.replace = die\n"
        f"config_store.save({str(path)!r}, {{'new': True, 'pad': 'x' * 100000}})\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=60)
    assert result.returncode == -9
    assert json.loads(path.read_text()) == {"old": True, "Providers": []}
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1  # the crashed writer's temp file ...
    save(path, {"after": True})  # ... is swept by the next save (it holds the lock)
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert json.loads(path.read_text()) == {"after": True}


def test_concurrent_saves_from_threads_never_interleave(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "config.json"
    write(path, {"n": -1})
    active, overlaps = [0], []
    guard = threading.Lock()
    real_write = config_store._write_atomic

    def watched(target, data):
        with guard:
            active[0] += 1
            overlaps.append(active[0])
        try:
            real_write(target, data)
        finally:
            with guard:
                active[0] -= 1

    monkeypatch.setattr(config_store, "_write_atomic", watched)
    bodies = [{"n": i, "pad": "y" * 50000} for i in range(12)]
    threads = [threading.Thread(target=save, args=(path, b)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert max(overlaps) == 1  # the flock serialised every write
    assert json.loads(path.read_text()) in bodies
    assert all(json.loads(p.read_text())["n"] >= -1 for p in backups(path))


def test_update_reads_modifies_validates(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text('{\n // JSON5 comment\n Router: {default: "p,m",}, Providers: [],\n}')

    def change(raw):
        raw["Router"]["think"] = "p,m2"

    update(path, change)
    assert read_raw(path)["Router"] == {"default": "p,m", "think": "p,m2"}
    assert len(backups(path)) == 1 and "JSON5 comment" in backups(path)[0].read_text()

    def breaks(raw):
        raw["Router"] = "nope"

    with pytest.raises(ValueError, match="Router must be an object"):
        update(path, breaks)
    assert read_raw(path)["Router"]["think"] == "p,m2"
