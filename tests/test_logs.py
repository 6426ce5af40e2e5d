from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from ccr_aio.logs import (
    RotatingServerLog,
    close_logging,
    current_server_log,
    get_app_logger,
    setup_logging,
)
from ccr_aio.settings import Settings, build_settings

REQUIRED = {"level", "time", "pid", "hostname", "event"}


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    level = root.level
    yield
    close_logging()
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    root.setLevel(level)


def make_settings(tmp_path: Path, **raw: Any) -> Settings:
    return build_settings({"Providers": [], **raw}, tmp_path / "config.json", env={})


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def server_files(settings: Settings) -> list[Path]:
    return sorted(settings.logs_dir.glob("ccr-*.log"))


def test_json_lines_carry_required_keys(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    setup_logging(settings, console=False)
    structlog.contextvars.bind_contextvars(request_id="req-1")
    structlog.get_logger("ccr_aio.test").info("hello", n=1)
    logging.getLogger("aiohttp.access").warning("GET / %s", 200)  # stdlib loggers too

    path = current_server_log()
    assert path is not None and path.parent == settings.logs_dir
    assert re.fullmatch(r"ccr-\d{14}\.log", path.name)
    hello, access = lines(path)
    for entry in (hello, access):
        assert REQUIRED <= entry.keys()
        assert entry["pid"] == os.getpid() and entry["request_id"] == "req-1"
        assert datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).utcoffset() == timedelta(0)
    assert (hello["event"], hello["level"], hello["n"]) == ("hello", "info", 1)
    assert (access["event"], access["level"]) == ("GET / 200", "warning")


def test_app_events_go_to_both_files(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    setup_logging(settings, console=False)
    get_app_logger().info("route decided", model="p,m")
    structlog.get_logger("ccr_aio.http").info("request done")

    assert [e["event"] for e in lines(settings.app_log_path)] == ["route decided"]
    assert [e["event"] for e in lines(current_server_log())] == ["route decided", "request done"]


def test_log_false_writes_no_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings(tmp_path, LOG=False)
    setup_logging(settings)
    get_app_logger().info("route decided")
    structlog.get_logger().warning("still on console")

    assert current_server_log() is None
    assert not settings.logs_dir.exists() and not settings.app_log_path.exists()
    assert "still on console" in capsys.readouterr().err


def test_secrets_are_masked_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    provider = {"name": "p", "api_base_url": "http://127.0.0.1:1/v1", "api_key": "plain-configured-key-42", "models": ["m"]}
    settings = make_settings(tmp_path, Providers=[provider], APIKEY="shared-secret-99")
    setup_logging(settings)
    structlog.get_logger().info(
        "upstream call",
        api_key="k-1",
        headers={"Authorization": "Bearer abc.def", "X-Api-Key": "k-2", "accept": "json"},
        nested={"deeper": [{"password": "hunter2", "access_token": "t-3"}]},
        note="sent Bearer tok-4 and sk-ant-api03-secret5 with plain-configured-key-42",
        url="https://x.test/v1?key=AIzaSecret6&alt=sse",
        client="shared-secret-99",
        max_tokens=512,
        task="task-decomposition-agent-v2",
    )

    text = current_server_log().read_text()
    err = capsys.readouterr().err
    for secret in ("k-1", "abc.def", "k-2", "hunter2", "t-3", "tok-4", "secret5",
                   "plain-configured-key-42", "AIzaSecret6", "shared-secret-99"):
        assert secret not in text and secret not in err
    (entry,) = lines(current_server_log())
    assert entry["api_key"] == "***" and entry["max_tokens"] == 512
    assert entry["task"] == "task-decomposition-agent-v2"  # no false positive on "sk-"
    assert entry["headers"] == {"Authorization": "***", "X-Api-Key": "***", "accept": "json"}
    assert entry["nested"] == {"deeper": [{"password": "***", "access_token": "***"}]}
    assert entry["note"] == "sent Bearer *** and sk-*** with ***"
    assert entry["url"] == "https://x.test/v1?key=***&alt=sse"


def test_console_is_redacted_and_readable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(make_settings(tmp_path, LOG=False))
    structlog.get_logger().info("call", authorization="Bearer s3cr3t-value")
    err = capsys.readouterr().err
    assert "call" in err and "s3cr3t-value" not in err and not err.lstrip().startswith("{")


@pytest.mark.parametrize(
    ("level", "written", "dropped"),
    [("warn", "warning", "info"), ("trace", "debug", None), ("fatal", "critical", "error"),
     ("info", "info", "debug"), ("ERROR", "error", "warning"), ("bogus", "info", "debug")],
)
def test_level_filtering(tmp_path: Path, level: str, written: str, dropped: str | None) -> None:
    setup_logging(make_settings(tmp_path, LOG_LEVEL=level), console=False)
    log = structlog.get_logger()
    getattr(log, written)("kept")
    if dropped:
        getattr(log, dropped)("dropped")
        logging.getLogger("third.party").log(logging.getLevelName(dropped.upper()), "dropped")
    assert [(e["event"], e["level"]) for e in lines(current_server_log())] == [("kept", written)]


def test_size_rotation_keeps_newest_three(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    setup_logging(settings, console=False, max_bytes=400)
    log = structlog.get_logger()
    for i in range(20):
        log.info("line", i=i)

    files = server_files(settings)
    assert len(files) == 3
    assert current_server_log() == files[-1]
    assert lines(files[-1])[-1]["i"] == 19
    kept = [e["i"] for f in files for e in lines(f)]
    assert kept == list(range(kept[0], 20))  # contiguous tail, nothing lost in between
    assert all(f.stat().st_size <= 400 for f in files)


def test_new_file_each_day(tmp_path: Path) -> None:
    now = [datetime(2025, 1, 1, 23, 59, 59)]
    logs_dir = tmp_path / "logs"
    logs_dir.mkdir()
    handler = RotatingServerLog(logs_dir, clock=lambda: now[0])
    handler.setFormatter(logging.Formatter("%(message)s"))
    record = logging.makeLogRecord({"msg": "x"})
    handler.handle(record)
    now[0] += timedelta(seconds=2)
    handler.handle(record)
    handler.close()
    assert [p.name for p in sorted(logs_dir.iterdir())] == [
        "ccr-20250101235959.log", "ccr-20250102000001.log"]


def two_workers(logs_dir: Path, clock: Callable[[], datetime], **limits: int) -> list[RotatingServerLog]:
    """Two processes' handlers on one logs dir, as the workers of `--workers 2` have."""
    return [RotatingServerLog(logs_dir, clock=clock, **limits) for _ in range(2)]


def test_workers_rotate_one_file_at_a_time_by_its_whole_size(tmp_path: Path) -> None:
    logs_dir = tmp_path / "logs"
    now = datetime(2025, 1, 1, 12, 0, 0)
    workers = two_workers(logs_dir, lambda: now, max_bytes=400, keep=100)
    for i in range(40):
        workers[i % 2].write_line(b'{"i": %2d, "padding": "..........."}\n' % i)  # 34 bytes
    files = sorted(logs_dir.iterdir())
    # By what each wrote, each would have let its file grow to twice the limit.
    assert all(f.stat().st_size <= 400 + 34 for f in files), [f.stat().st_size for f in files]
    assert len(files) == 4  # 40 x 34 bytes in files of ~400: not one new file per worker
    assert workers[0].path == workers[1].path == files[-1]
    assert sorted(int(line[6:8]) for f in files for line in f.read_bytes().splitlines()) == list(range(40))
    for worker in workers:
        worker.close()


def test_workers_start_one_new_file_at_midnight(tmp_path: Path) -> None:
    logs_dir = tmp_path / "logs"
    now = [datetime(2025, 1, 1, 23, 59, 59)]
    workers = two_workers(logs_dir, lambda: now[0])
    for worker in workers:
        worker.write_line(b"yesterday\n")
    now[0] += timedelta(seconds=2)
    for worker in workers:
        worker.write_line(b"today\n")
    for worker in workers:
        worker.close()
    assert [(p.name, p.read_bytes()) for p in sorted(logs_dir.iterdir())] == [
        ("ccr-20250101235959.log", b"yesterday\nyesterday\n"),
        ("ccr-20250102000001.log", b"today\ntoday\n")]


def test_setup_again_replaces_handlers(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    setup_logging(settings, console=False)
    first = [h for h in logging.getLogger().handlers if isinstance(h, RotatingServerLog)]
    setup_logging(settings, console=False)
    get_app_logger().info("once")

    assert len(first) == 1 and first[0]._stream.closed  # old file closed
    assert sum(e["event"] == "once" for f in server_files(settings) for e in lines(f)) == 1
    assert [e["event"] for e in lines(settings.app_log_path)] == ["once"]

    setup_logging(make_settings(tmp_path, LOG=False), console=False)
    get_app_logger().info("after LOG false")
    assert current_server_log() is None
    assert "after LOG false" not in settings.app_log_path.read_text()


def test_a_full_disk_loses_the_line_not_the_caller(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    setup_logging(settings, console=False)
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, RotatingServerLog))
    handler._stream.close()
    handler._stream = open("/dev/full", "wb", buffering=0)  # every write: ENOSPC
    structlog.get_logger().info("lost", n=1)  # must not raise into the request that logs it
    get_app_logger().info("also lost")
    logging.getLogger("third.party").warning("stdlib too")
    assert [e["event"] for e in lines(settings.app_log_path)] == ["also lost"]
