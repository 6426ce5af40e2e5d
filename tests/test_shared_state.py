"""The shared-state backends and what sits on them, without servers: WORKERS and REDIS_URL in
the config, atomic updates through one SQLite file from two connections, caps and TTLs, the
Redis failover's once-only log lines, health records for any provider name, and a turn's usage
shared before its answer ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

from structlog.testing import capture_logs

from ccr_aio.agents.image_cache import ImageCache
from ccr_aio.config import parse_config
from ccr_aio.resilience.cooldown import Failure
from ccr_aio.resilience.targets import KeyRef, Target
from ccr_aio.routing.sessions import Sessions
from ccr_aio.shared import MemoryBackend, SharedHealthStore, open_backend
from ccr_aio.shared.failover import FailoverBackend
from ccr_aio.shared.sqlite_backend import SqliteBackend
from tests.test_cli import wait_for


def test_workers_and_redis_url_are_read_and_bad_values_do_not_block():
    good = parse_config({"WORKERS": 4, "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert good.value is not None and (good.value.workers, good.value.redis_url) == (4, "redis://127.0.0.1:6379/0")
    assert parse_config({}).value.workers == 1  # type: ignore[union-attr]
    bad = parse_config({"WORKERS": 0, "REDIS_URL": "http://cache"})
    assert bad.value is not None and (bad.value.workers, bad.value.redis_url) == (1, None)
    assert {(p.path, p.blocks) for p in bad.problems} >= {("WORKERS", False), ("REDIS_URL", False)}


def test_one_worker_without_redis_keeps_the_in_process_objects(tmp_path: Path):
    assert open_backend(tmp_path, 1, None) is None
    assert isinstance(open_backend(tmp_path, 2, None), SqliteBackend)
    assert isinstance(open_backend(tmp_path, 1, "redis://127.0.0.1:1/0"), FailoverBackend)


async def test_updates_from_two_connections_to_one_file_lose_nothing(tmp_path: Path):
    one, two = SqliteBackend(tmp_path / "state.sqlite"), SqliteBackend(tmp_path / "state.sqlite")

    def add(old: bytes | None) -> bytes:
        return str(int(old or b"0") + 1).encode()

    await asyncio.gather(*(backend.update("count", "n", add, 60) for backend in (one, two) for _ in range(40)))
    assert await one.get_many("count", ["n", "missing"]) == {"n": b"80"}
    await one.put("gone", "x", b"1", -1)  # already past its TTL
    assert await two.get_many("gone", ["x"]) == {}
    await one.close()
    await two.close()


async def test_images_are_capped_per_space(tmp_path: Path):
    for backend in (MemoryBackend(), SqliteBackend(tmp_path / "state.sqlite")):
        for n in range(300):
            await backend.put("images", f"i{n}", b"x", 60)
            await backend.put("usage", f"u{n}", b"1", 60)
        images, usage = await backend.items("images"), await backend.items("usage")
        assert len(images) == 256 and "i299" in images and "i0" not in images
        assert len(usage) == 300
        await backend.close()


class Broken(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.broken = True

    async def get_many(self, space, keys):  # type: ignore[no-untyped-def]
        if self.broken:
            raise ConnectionError("redis is away")
        return await super().get_many(space, keys)

    async def put(self, space, key, value, ttl):  # type: ignore[no-untyped-def]
        if self.broken:
            raise ConnectionError("redis is away")
        await super().put(space, key, value, ttl)


async def test_failover_serves_locally_and_logs_each_change_once():
    now = [0.0]
    primary, local = Broken(), MemoryBackend()
    failover = FailoverBackend(primary, local, clock=lambda: now[0])
    with capture_logs() as logs:
        for n in range(5):
            await failover.put("usage", f"s{n}", b"1", 60)
        assert len(await local.items("usage")) == 5
        primary.broken = False
        await failover.put("usage", "early", b"1", 60)  # within the retry pause: still local
        now[0] = 2.0
        await failover.put("usage", "back", b"1", 60)
        assert await primary.items("usage") == {"back": b"1"}
    events = [e["event"] for e in logs]
    assert events.count("shared_state_unavailable") == 1 and events.count("shared_state_restored") == 1


async def test_health_records_round_trip_for_any_provider_name():
    store = SharedHealthStore(MemoryBackend())
    odd = Target('a|b "c"', "model/with:colons")
    key = KeyRef('a|b "c"', 1)
    health = await store.record_failure(odd, Failure("rate_limited", "http 429", at=100.0, retry_after=30))
    assert health.until == 130.0 and health.consecutive_failures == 1
    await store.record_failure(key, Failure("rate_limited", "http 429", at=100.0))
    assert set(await store.snapshot()) == {odd, key}
    assert (await store.read([odd, Target("x", "y")]))[odd] == health
    await store.record_success([odd])
    assert (await store.read([odd]))[odd].until == 0.0
    await store.clear()
    assert await store.snapshot() == {}


class Counting(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    async def put(self, space, key, value, ttl):  # type: ignore[no-untyped-def]
        self.puts += 1
        await super().put(space, key, value, ttl)


async def test_a_resent_image_is_written_once_and_found_by_another_process():
    shared = Counting()
    now = [0.0]
    writer, reader = ImageCache(clock=lambda: now[0]), ImageCache()
    writer.shared = reader.shared = shared
    source = {"type": "base64", "media_type": "image/png", "data": "AAAA"}
    for _ in range(3):  # Claude Code re-sends it on every turn
        key = writer.put(dict(source))
        await writer.flush()
    assert shared.puts == 1
    now[0] = writer.ttl_s * 0.6  # past half its TTL: refreshed
    writer.put(dict(source))
    await writer.flush()
    assert shared.puts == 2
    assert reader.get(key) is None and await reader.fetch(key) == source and reader.get(key) == source
    assert await reader.fetch("0000000000") is None


class Gated(MemoryBackend):
    """Writes wait until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate, self.waiting = asyncio.Event(), 0

    async def put(self, space, key, value, ttl):  # type: ignore[no-untyped-def]
        self.waiting += 1
        await self.gate.wait()
        await super().put(space, key, value, ttl)


async def test_a_turns_usage_is_shared_before_its_answer_may_end():
    """The answer awaits `settled` before its last bytes: the session's next turn, on another
    worker, must find the usage (the "previous turn was long" rule)."""
    shared = Gated()
    writer, reader = Sessions(), Sessions()
    writer.shared = reader.shared = shared
    writer.record_usage("s1", {"input_tokens": 500, "cache_read_input_tokens": 39_500})
    settling = asyncio.ensure_future(writer.settled("s1"))
    await wait_for(lambda: shared.waiting, what="the write under way")
    assert not settling.done() and await reader.previous_usage("s1") is None
    shared.gate.set()
    await settling
    assert await reader.previous_usage("s1") == 40_000
    await writer.settled("s1")  # written: nothing left to wait for
    await writer.settled(None)  # no session, nothing recorded
