"""Two ccr-aio instances behind nginx (deploy/nginx.conf), sharing state through a real
redis-server: what one instance learned, the other knows; sessions stick to an instance; and
pulling Redis away mid-run loses no request (each instance says so once, and uses Redis again
when it is back). Everything runs on 127.0.0.1 with files in the tmp dir."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests import scale_helpers as scale
from tests.fakes.openai_upstream import completion, json_reply
from tests.services import (
    UPSTREAM_HEADER, Instance, Redis, start_instance, start_nginx, stop_instance, stop_process,
)
from tests.test_cli import wait_for

pytestmark = pytest.mark.services
SESSION_HEADER = "X-Claude-Code-Session-Id"


@pytest.fixture
async def cluster(tmp_path: Path, fake: Any):
    redis = Redis(tmp_path / "redis")
    redis.directory.mkdir()
    await redis.start()
    instances: list[Instance] = []
    nginx = None
    try:
        for name in ("a", "b"):
            instances.append(await start_instance(tmp_path / name, scale.config(fake, REDIS_URL=redis.url)))
        nginx, url = await start_nginx(tmp_path / "nginx", [i.port for i in instances])
        yield redis, instances, url
    finally:
        if nginx is not None:
            stop_process(nginx)
        for instance in instances:
            stop_instance(instance)
        redis.stop()


async def instance_for(url: str, session: str) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/health", headers={SESSION_HEADER: session}) as response:
            assert response.status == 200
            return response.headers[UPSTREAM_HEADER]


async def sessions_on_each_instance(url: str) -> tuple[dict[str, str], dict[str, str]]:
    """Headers of two sessions that nginx sends to different instances."""
    seen: dict[str, str] = {}
    for number in range(64):
        session = f"session-{number}"
        seen.setdefault(await instance_for(url, session), session)
        if len(seen) == 2:
            first, second = seen.values()
            return {SESSION_HEADER: first}, {SESSION_HEADER: second}
    raise AssertionError(f"every session went to {list(seen)}")


async def test_two_instances_behind_nginx_share_state_through_redis(cluster, fake):
    redis, (a, b), url = cluster
    on_a, on_b = await sessions_on_each_instance(url)
    # Affinity: a session keeps its instance.
    for headers in (on_a, on_b):
        assert {await instance_for(url, headers[SESSION_HEADER]) for _ in range(5)} == \
            {await instance_for(url, headers[SESSION_HEADER])}

    await scale.rate_limit_one_key(url, fake, on_a)
    cooling = await scale.cooling_keys(url, on_a)
    assert len(cooling) == 1 and await scale.cooling_keys(url, on_b) == cooling

    await scale.store_image(url, fake, on_a)
    await scale.analyze_stored_image(url, fake, on_b)

    await scale.record_long_turn(url, fake, "shared-long", on_a)
    assert await scale.routed_after_long_turn(url, fake, "shared-long", on_b) == "long-m"
    assert await scale.routed_after_long_turn(url, fake, "never-long", on_b) == "main-m"

    # Redis goes away while requests are in flight: every one still gets its answer.
    fake.default = json_reply(completion("still here"))
    before = len(fake.requests)
    flight = [asyncio.ensure_future(scale.client(url, headers).messages.create(
        model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "hi"}],
        metadata={"user_id": f"user_x_account__session_flight-{n}"}))
        for n in range(24) for headers in (on_a, on_b)]
    await wait_for(lambda: len(fake.requests) >= before + 8, what="requests under way")
    redis.stop()
    answers = await asyncio.gather(*flight)
    assert [m.content[0].text for m in answers] == ["still here"] * len(flight)  # type: ignore[union-attr]
    for _ in range(3):
        for headers in (on_a, on_b):
            await scale.store_image(url, fake, headers)
            assert await scale.routed_after_long_turn(url, fake, "while-down", headers) == "main-m"
            assert await scale.cooling_keys(url, headers) in ([], cooling)
    for instance in (a, b):
        (down,) = instance.log_events("shared_state_unavailable")  # once, not per request
        assert not instance.log_events("shared_state_restored")

    # Redis is back: the instances use it again (and say so once).
    await redis.start()

    async def both_restored() -> bool:
        for headers in (on_a, on_b):
            await scale.store_image(url, fake, headers, data=scale.PNG_OTHER)
        return all(instance.log_events("shared_state_restored") for instance in (a, b))

    await wait_for(both_restored, timeout=30, what="both instances back on Redis")
    await scale.store_image(url, fake, on_a)
    await scale.analyze_stored_image(url, fake, on_b)
    for instance in (a, b):
        assert len(instance.log_events("shared_state_unavailable")) == 1
        assert len(instance.log_events("shared_state_restored")) == 1
