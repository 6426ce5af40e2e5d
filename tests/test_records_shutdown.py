"""Exactly one record per request also when the client leaves mid-stream and when the server is
stopped with requests in flight. A real server process, real signals, its real usage file."""

from __future__ import annotations

import asyncio
import signal

import aiohttp

from ccr_aio.records import UsageDatabase
from tests.server_process import endless_config, open_stream, server_process  # noqa: F401 - fixture
from tests.test_cli import wait_for

USER = [{"role": "user", "content": "hi"}]


def stored(server) -> list[dict]:
    database = UsageDatabase(server.home / "usage.db", retention_days=None)
    try:
        return database.requests(limit=1000)["requests"]
    finally:
        database.close()


async def test_sigterm_with_requests_in_flight_writes_one_record_each(server_process, aiohttp_server):
    config, endless = await endless_config(aiohttp_server, SHUTDOWN_GRACE_MS=1500)
    server = await server_process(config)
    async with aiohttp.ClientSession() as session:
        streams = [await open_stream(session, server.url) for _ in range(3)]
        waiting = asyncio.ensure_future(session.post(server.url + "/v1/messages", json={
            "model": "x", "max_tokens": 10, "messages": USER}))  # never answered upstream
        left, _ = await open_stream(session, server.url)
        left_id = left.headers["request-id"]
        left.close()  # a client that leaves before the shutdown
        await wait_for(lambda: endless.received == 5, what="every request at the upstream")
        server.proc.send_signal(signal.SIGTERM)
        for response, _ in streams:
            await asyncio.wait_for(response.content.read(), 10)
        plain = await asyncio.wait_for(waiting, 10)
        assert plain.status == 529
        assert await asyncio.wait_for(server.proc.wait(), 10) == 0
        stream_ids = [response.headers["request-id"] for response, _ in streams]
        expected = {**{i: 529 for i in stream_ids}, plain.headers["request-id"]: 529, left_id: 499}
    records = stored(server)
    assert sorted(r["id"] for r in records) == sorted(expected)  # one each, none twice
    assert {r["id"]: r["status"] for r in records} == expected
    cut = next(r for r in records if r["id"] == stream_ids[0])
    assert cut["stream"] and cut["ttfb_ms"] is not None and "shutting down" in cut["error"]
    assert cut["provider"] == "endless" and cut["attempts"] == 1
    logged = server.log_events("request_completed")
    assert sorted(e["request_id"] for e in logged) == sorted(expected)


async def test_a_client_leaving_mid_stream_is_recorded_as_499_by_the_real_server(server_process, aiohttp_server):
    config, endless = await endless_config(aiohttp_server)
    server = await server_process(config)
    async with aiohttp.ClientSession() as session:
        response, _ = await open_stream(session, server.url)
        request_id = response.headers["request-id"]
        response.close()

        async def recorded() -> list[dict]:
            async with session.get(server.url + "/api/requests") as r:
                return (await r.json())["requests"]

        (record,) = await wait_for(recorded, what="the record of the request the client left")
    assert (record["id"], record["status"]) == (request_id, 499)
    assert record["error"].startswith("client_closed")
