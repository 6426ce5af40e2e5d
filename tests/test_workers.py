"""`WORKERS: 2` over real processes: one parent owning the port and the PID file, two workers
sharing images, session usage and key health through the SQLite file in the home dir, a save
in force on both when it answers, /metrics summing every worker, a dead worker replaced,
SIGTERM draining every worker, /api/restart renewing all of them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import stat
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from ccr_aio.cli import daemon
from ccr_aio.records import metrics_files
from tests import scale_helpers as scale
from tests.conftest import base_config, sdk
from tests.fakes.openai_upstream import completion, json_reply
from tests.live_server import routed_by, serving_pids, stopped
from tests.server_process import endless_config, open_stream, server_process  # noqa: F401 - fixture
from tests.test_records_e2e import metric_samples
from tests.test_cli import ccr_home, cli, cli_env, reaper, wait_for, write_config  # noqa: F401 - fixtures
from tests.test_process import free_port
from tests.test_lifecycle import _refused, assert_cut_for_shutdown, read_to_end


def worker_pids(home: Path) -> list[int]:
    info = daemon.read_pid(home)
    return list(info.workers or []) if info is not None else []


async def live_workers(home: Path, count: int = 2, other_than: list[int] | None = None) -> list[int]:
    """The PID file's workers once there are `count` live ones (none of `other_than`)."""
    def ready() -> list[int] | None:
        pids = worker_pids(home)
        fresh = len(pids) == count and not set(pids) & set(other_than or [])
        return pids if fresh and all(daemon.is_alive(p) for p in pids) else None
    found: list[int] = await wait_for(ready, what=f"{count} live workers")
    return found


async def test_state_left_by_workers_is_seen_by_their_replacements(server_process, fake):
    server = await server_process(scale.config(fake, WORKERS=2))
    first = await live_workers(server.home)
    assert daemon.read_pid(server.home).pid == server.proc.pid not in first
    status = await cli(cli_env(server.home.parent), "status", "--config", str(server.home / "config.json"))
    assert status.code == 0 and f"PID:     {server.proc.pid}" in status.out
    assert f"Workers: 2 (PIDs {first[0]}, {first[1]})" in status.out
    await scale.store_image(server.url, fake)
    await scale.record_long_turn(server.url, fake, "s-long")
    await scale.rate_limit_one_key(server.url, fake)
    cooling = await scale.cooling_keys(server.url)
    assert len(cooling) == 1
    # Whichever worker served those dies, and so does the other: their replacements start with
    # empty memory, so what they know can only come from the shared state.
    for pid in first:
        os.kill(pid, signal.SIGKILL)
    second = await live_workers(server.home, other_than=first)
    assert len(server.log_events("worker_died")) == 2 and server.proc.returncode is None
    await scale.analyze_stored_image(server.url, fake)
    assert await scale.routed_after_long_turn(server.url, fake, "s-long") == "long-m"
    assert await scale.routed_after_long_turn(server.url, fake, "s-other") == "main-m"
    assert await scale.cooling_keys(server.url) == cooling
    assert (server.home / "state.sqlite").exists() and set(worker_pids(server.home)) == set(second)


async def test_requests_spread_over_both_workers(server_process, fake):
    server = await server_process(scale.config(fake, WORKERS=2))
    pids = await live_workers(server.home)

    async def served_by() -> set[int]:
        return {e["pid"] for e in server.log_events("route")}

    async def one_more() -> bool:  # a new connection each time: the kernel picks the worker
        await scale.routed_after_long_turn(server.url, fake, f"s-{time.monotonic_ns()}")
        return await served_by() == set(pids)

    await wait_for(one_more, timeout=60, what="requests served by both workers")


async def test_the_workers_share_the_tokenizer_their_parent_loaded(server_process, fake):
    """Loaded once before the fork: each worker counts tokens with the parent's copy (pages
    shared) instead of loading ~23 MB of its own on its first count."""
    server = await server_process(scale.config(fake, WORKERS=2))
    first, second = await live_workers(server.home)
    for serving, idle in ((first, second), (second, first)):
        async with stopped(idle):  # a 25k-token request: below the threshold, but counted
            assert await scale.routed_after_long_turn(server.url, fake, f"s-{serving}") == "main-m"
    counted = {e["pid"]: e["tokens"] for e in server.log_events("route")}
    assert counted.keys() == {first, second} and min(counted.values()) > 20_000
    assert [e["pid"] for e in server.log_events("tokenizer_loaded")] == [server.proc.pid]


ANSWERED = {"provider": "fake", "model": "main-m", "scenario": "default", "status": "200"}


async def answer_one(url: str, fake: Any) -> None:
    fake.queue(json_reply(completion("ok")))
    await scale.client(url).messages.create(model="claude-x", max_tokens=5,
                                            messages=[{"role": "user", "content": "hi"}])


async def scrape(url: str) -> dict[str, list[Any]]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/metrics") as response:
            assert response.status == 200
            return metric_samples(await response.text())


def answered(samples: dict[str, list[Any]]) -> float:
    return sum(s.value for s in samples["ccr_requests_total"] if s.labels == ANSWERED)


def in_flight(samples: dict[str, list[Any]]) -> float:
    return sum(s.value for s in samples["ccr_requests_in_flight"])


async def scrape_each(url: str, pids: list[int]) -> list[dict[str, list[Any]]]:
    """One scrape answered by each worker (the others stopped meanwhile), then a few by whichever."""
    scrapes = []
    for answering in pids:
        async with contextlib.AsyncExitStack() as others:
            for pid in pids:
                if pid != answering:
                    await others.enter_async_context(stopped(pid))
            scrapes.append(await scrape(url))
    return scrapes + [await scrape(url) for _ in range(3)]


async def test_metrics_sum_every_worker_and_keep_a_dead_ones_counters(server_process, fake, aiohttp_server):
    config = scale.config(fake, WORKERS=2)
    extra, _ = await endless_config(aiohttp_server)
    config["Providers"] += extra["Providers"]  # "endless,m": a stream that stays in flight
    server = await server_process(config)
    first, second = await live_workers(server.home)
    assert stat.S_IMODE((server.home / metrics_files.DIRECTORY).stat().st_mode) == 0o700
    async with stopped(first):
        for _ in range(3):
            await answer_one(server.url, fake)
    async with stopped(second):
        for _ in range(2):
            await answer_one(server.url, fake)
    assert Counter(e["pid"] for e in server.log_events("route")) == {second: 3, first: 2}
    assert [answered(s) for s in await scrape_each(server.url, [first, second])] == [5] * 5
    async with aiohttp.ClientSession() as session:
        async with stopped(second):
            stream, _ = await open_stream(session, server.url, model="endless,m")  # on `first`
        assert in_flight(await scrape(server.url)) == 1
        os.kill(first, signal.SIGKILL)
        replaced = await live_workers(server.home, other_than=[first])
        stream.close()
    # The parent reaped `first` before it forked the replacement: its stream no longer counts.
    for found in await scrape_each(server.url, replaced):
        assert (answered(found), in_flight(found)) == (5, 0)


def queued_connections(port: int) -> int:
    """Connections waiting in the accept queue of the listening socket on 127.0.0.1:`port`."""
    local = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[3] == "0A":  # LISTEN: rx_queue is the accept queue
            return int(fields[4].split(":")[1], 16)
    return 0


async def test_a_reload_reaching_a_worker_still_starting_waits_for_its_loop(tmp_path):
    """The parent forwards a reload's SIGHUP to every worker, a fresh one too: before the
    worker's loop handles SIGHUP, its default action would end the worker."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.slow_start_worker", str(tmp_path),
                                                cwd=Path(__file__).parent.parent)
    try:
        starting = tmp_path / "starting"
        await wait_for(starting.exists, what="the worker forked")
        worker = int(starting.read_text())
        os.kill(worker, signal.SIGHUP)
        (tmp_path / "go").touch()
        reloaded = tmp_path / "reloaded"
        await wait_for(reloaded.exists, what="the worker's loop got the SIGHUP")
        assert int(reloaded.read_text()) == worker
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_save_is_in_force_on_every_worker_when_it_answers(server_process, fake):
    server = await server_process(scale.config(fake, WORKERS=2))
    saver, other = await live_workers(server.home)
    changed = scale.config(fake, WORKERS=2)
    changed["Router"]["default"] = "fake,long-m"
    fake.queue(json_reply(completion("ok")))
    # The save can only reach `saver`; the SIGHUP the parent forwards waits in `other`.
    async with stopped(other):
        async with aiohttp.ClientSession() as session:
            async with session.post(server.url + "/api/config", json=changed) as response:
                assert response.status == 200
        async with stopped(saver):  # the next request waits in the queue until `other` goes on
            asked = asyncio.ensure_future(scale.client(server.url).messages.create(
                model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "hi"}]))
            await wait_for(lambda: queued_connections(server.port), what="the request queued")
            os.kill(other, signal.SIGCONT)  # the request and the SIGHUP arrive together
            await asked
    assert fake.requests[-1].body["model"] == "long-m"
    assert {e["pid"] for e in server.log_events("route")} == {other}


async def test_requests_of_one_client_reach_every_worker(make_client, fake):
    """An end-to-end test (the tests' server from `make_client`): in the run with workers,
    the kernel hands the client's new connections to each of them. In process, the one."""
    client = await make_client(base_config(fake))
    serving = serving_pids(client)
    assert len(serving) == getattr(client.server, "workers", 1)  # as many as the run asked for

    async def every_one_answered() -> bool:
        fake.queue(json_reply(completion("ok")))
        message = await sdk(client).messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
        assert message.content[0].text == "ok"
        return routed_by(client) == serving

    await wait_for(every_one_answered, timeout=60, what="a request answered by every worker")


async def test_sigterm_drains_every_worker_within_the_grace(server_process, aiohttp_server):
    grace = 2.0
    config, endless = await endless_config(aiohttp_server, WORKERS=2, SHUTDOWN_GRACE_MS=grace * 1000)
    server = await server_process(config)
    pids = await live_workers(server.home)
    async with aiohttp.ClientSession() as session:
        streams = [await open_stream(session, server.url) for _ in range(4)]
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        rests = await asyncio.gather(*(read_to_end(stream, grace + 5) for stream, _ in streams))
        code = await asyncio.wait_for(server.proc.wait(), grace + 5)
        took = time.monotonic() - started
    for (_, first), rest in zip(streams, rests):
        assert_cut_for_shutdown(first + rest)
    assert code == 0 and endless.received == 4
    assert took < grace + 1.0, f"SIGTERM took {took:.1f} s with a {grace} s grace"
    assert not daemon.pid_path(server.home).exists() and _refused(server.port)
    assert not (server.home / metrics_files.DIRECTORY).exists()
    assert not any(daemon.is_alive(pid) for pid in pids)
    assert {e["pid"] for e in server.log_events("shutting_down")} == set(pids)


async def test_restart_and_reload_reach_every_worker(server_process, fake):
    server = await server_process(scale.config(fake, WORKERS=2))
    first = await live_workers(server.home)
    await answer_one(server.url, fake)
    assert answered(await scrape(server.url)) == 1
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + "/api/reload") as response:
            assert response.status == 200
        await wait_for(lambda: {e["pid"] for e in server.log_events("config_reloaded")} == set(first),
                       what="every worker reloaded")
        async with session.post(server.url + "/api/restart") as response:
            assert response.status == 200
        second = await live_workers(server.home, other_than=first)
        # The parent re-executed itself in place: same PID, same socket, fresh workers.
        assert daemon.read_pid(server.home).pid == server.proc.pid and server.proc.returncode is None
        async with session.get(server.url + "/health") as response:
            assert response.status == 200
    assert answered(await scrape(server.url)) == 0  # a restart is a restart: counters start over
    async with scale.client(server.url).messages.stream(
            model="claude-x", max_tokens=20, messages=[{"role": "user", "content": "hi"}]) as stream:
        assert await stream.get_final_text() == "Hello from fake"  # the fake's default stream
    assert not any(daemon.is_alive(pid) for pid in first) and len(second) == 2


async def test_workers_end_when_their_parent_is_killed(server_process, fake):
    server = await server_process(scale.config(fake, WORKERS=2))
    pids = await live_workers(server.home)
    server.proc.kill()
    await server.proc.wait()
    await wait_for(lambda: not any(daemon.is_alive(pid) for pid in pids), what="orphaned workers gone")
    assert _refused(server.port)


async def test_a_config_that_cannot_start_ends_the_parent_with_its_error(ccr_home, reaper, fake):
    write_config(ccr_home, fake, free_port(), WORKERS=2)
    config = json.loads((ccr_home / "config.json").read_text())
    config["Providers"][0]["transformer"] = {"use": ["no-such-transformer"]}  # loads, cannot build
    (ccr_home / "config.json").write_text(json.dumps(config))
    started = await cli(cli_env(ccr_home.parent), "start", timeout=30)
    assert started.code == 2 and "unknown transformer 'no-such-transformer'" in started.err
    assert not daemon.pid_path(ccr_home).exists()


async def test_the_workers_flag_overrides_the_config_and_stop_ends_them_all(ccr_home, reaper, fake):
    write_config(ccr_home, fake, free_port(), WORKERS=1)
    env = cli_env(ccr_home.parent)
    started = await cli(env, "start", "--daemon", "--workers", "3")
    assert started.code == 0, started.err
    info = daemon.read_pid(ccr_home)
    reaper(info.pid)
    pids = await live_workers(ccr_home, count=3)
    stopped = await cli(env, "stop")
    assert stopped.code == 0 and f"stopped (PID {info.pid})" in stopped.out
    assert not any(daemon.is_alive(pid) for pid in [info.pid, *pids])
    assert not daemon.pid_path(ccr_home).exists()
