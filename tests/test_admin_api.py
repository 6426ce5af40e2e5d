"""Management API through HTTP: /api/config (save, backups, reload), /api/transformers,
/api/reload, /api/restart (in-process: reload only), and authentication of /api/*."""

from __future__ import annotations

import asyncio
import errno
import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ccr_aio import config_store
from ccr_aio.routes.admin import ADMIN
from ccr_aio.state import STATE
from tests.admin_helpers import config_path
from tests.conftest import base_config, provider_config, sdk
from tests.live_server import on_another_worker
from tests.fakes.openai_upstream import _encode, text_chunks
from tests.stream_grammar import check_stream, parse_sse_bytes

USER = [{"role": "user", "content": "hi"}]
SAVED = {"success": True, "message": "Config saved successfully"}


async def ask(client: Any) -> None:
    await sdk(client).messages.create(model="claude-sonnet-4", max_tokens=10, messages=USER)


@pytest.mark.in_process  # reads the provider key the app resolved
async def test_get_config_is_the_file_as_stored(make_client, fake):
    config = base_config(fake, APIKEY_HINT="$NOT_SET", Custom={"kept": [1, 2]})
    config["Providers"][0]["api_key"] = "$FAKE_KEY"
    client = await make_client(config, env={"FAKE_KEY": "sk-real-secret"})
    assert client.app[STATE].current.providers["fake"].api_key == "sk-real-secret"
    response = await client.get("/api/config")
    assert response.status == 200
    assert await response.json() == config  # $VARs stay references, unknown keys are there
    config_path(client).write_text('{\n  // edited by hand\n  Router: {default: "fake,fake-model",},\n}')
    assert await (await client.get("/api/config")).json() == {"Router": {"default": "fake,fake-model"}}
    config_path(client).write_text("{ broken")
    response = await client.get("/api/config")
    assert response.status == 500
    assert "does not parse" in (await response.json())["error"]["message"]


async def test_post_config_saves_backs_up_and_reloads(make_client, fake):
    client = await make_client(base_config(fake))
    path = config_path(client)
    old_text = path.read_text()
    new = base_config(fake, StatusLine={"enabled": True}, Router={"default": "fake,other-model"})
    new["Providers"][0]["api_key"] = "$FAKE_KEY"
    response = await client.post("/api/config", json=new)
    body = await response.json()
    assert response.status == 200 and {k: body[k] for k in SAVED} == SAVED
    assert json.loads(path.read_text()) == new  # as sent: $FAKE_KEY and StatusLine kept
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    (backup,) = config_store.backups(path)
    assert backup.read_text() == old_text
    async with on_another_worker(client, after="config_saved"):
        await ask(client)  # the next request uses the new Router.default, on any worker
    assert fake.requests[-1].body["model"] == "Other-Model"
    assert fake.requests[-1].headers["Authorization"] == "Bearer $FAKE_KEY"  # unset var stays text


async def test_backups_keep_newest_three_through_the_api(make_client, fake):
    client = await make_client(base_config(fake))
    for i in range(5):
        response = await client.post("/api/config", json=base_config(fake, Marker=i))
        assert response.status == 200
    kept = config_store.backups(config_path(client))
    assert [json.loads(p.read_text())["Marker"] for p in kept] == [1, 2, 3]


@pytest.mark.parametrize("body, expected", [
    ({"Providers": {"name": "x"}}, "Providers must be an array"),
    ({"Providers": [{"name": "x", "models": ["m"]}]}, "Providers[0] (x).api_base_url is required"),
    ({"Router": {"default": 5}}, "Router.default must be a string"),
    ({"transformers": [{"options": {}}]}, "transformers[0].path is required"),
])
async def test_bad_shapes_are_400_and_nothing_is_written(make_client, fake, body, expected):
    client = await make_client(base_config(fake))
    before = config_path(client).read_text()
    response = await client.post("/api/config", json=body)
    error = await response.json()
    assert response.status == 400
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert expected in error["error"]["message"]
    assert config_path(client).read_text() == before
    assert config_store.backups(config_path(client)) == []


async def test_all_problems_listed_in_one_answer(make_client, fake):
    client = await make_client(base_config(fake))
    response = await client.post("/api/config", json={"Providers": [{}], "Router": [], "transformers": 1})
    message = (await response.json())["error"]["message"]
    assert message.startswith("Invalid config, nothing saved: ")
    assert all(part in message for part in ("Providers[0].name", "Providers[0].api_base_url", "Router must", "transformers must"))


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"text"'])
async def test_non_object_body_is_400(make_client, fake, raw):
    client = await make_client(base_config(fake))
    response = await client.post("/api/config", data=raw, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert (await response.json())["error"]["type"] == "invalid_request_error"


async def test_config_that_does_not_build_is_refused_and_old_one_keeps_running(make_client, fake):
    client = await make_client(base_config(fake))
    before = config_path(client).read_text()
    broken = base_config(fake, Router={"default": "fake,other-model"})
    broken["Providers"][0]["transformer"] = {"use": ["no-such-transformer"]}
    response = await client.post("/api/config", json=broken)
    message = (await response.json())["error"]["message"]
    assert response.status == 400
    assert "Config not saved" in message and "no-such-transformer" in message and "keeps running" in message
    assert config_path(client).read_text() == before
    await ask(client)
    assert fake.requests[-1].body["model"] == "fake-model"


@pytest.mark.parametrize("code, reason", [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system")])
@pytest.mark.in_process  # makes the app's file writes fail
async def test_write_failure_is_500_with_reason_and_old_file_intact(make_client, fake, monkeypatch, code, reason):
    client = await make_client(base_config(fake))
    before = config_path(client).read_text()

    def fail(src, dst):
        raise OSError(code, reason)

    monkeypatch.setattr(config_store.os, "replace", fail)
    response = await client.post("/api/config", json=base_config(fake, Router={"default": "fake,other-model"}))
    error = await response.json()
    assert response.status == 500 and error["error"]["type"] == "api_error"
    assert reason in error["error"]["message"] and "unchanged" in error["error"]["message"]
    assert config_path(client).read_text() == before
    assert not [p for p in config_path(client).parent.iterdir() if p.name.endswith(".tmp")]
    await ask(client)  # still the old snapshot
    assert fake.requests[-1].body["model"] == "fake-model"


async def test_unwritable_config_dir_is_500(make_client, fake, tmp_path):
    """Root ignores chmod, so make the directory vanish under a file of the same name."""
    client = await make_client(base_config(fake))
    folder = config_path(client).parent
    shutil.rmtree(folder)
    folder.write_text("a file where the config dir was")
    response = await client.post("/api/config", json=base_config(fake))
    assert response.status == 500
    assert "Not a directory" in (await response.json())["error"]["message"]


@pytest.mark.in_process  # counts the app's concurrent writes
async def test_concurrent_posts_never_interleave(make_client, fake, monkeypatch):
    client = await make_client(base_config(fake))
    active, peak = [0], [0]
    guard = threading.Lock()
    real_save = config_store.save

    def slow_save(path, config):
        with guard:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.01)  # widen the window an unlocked version would interleave in
            return real_save(path, config)
        finally:
            with guard:
                active[0] -= 1

    monkeypatch.setattr(config_store, "save", slow_save)
    bodies = [base_config(fake, Marker=i, Router={"default": "fake,other-model" if i % 2 else "fake,fake-model"})
              for i in range(10)]
    responses = await asyncio.gather(*(client.post("/api/config", json=b) for b in bodies))
    assert [r.status for r in responses] == [200] * 10
    assert peak[0] == 1
    on_disk = json.loads(config_path(client).read_text())
    assert on_disk in bodies
    assert client.app[STATE].current.settings.raw == on_disk  # the running snapshot is the last file
    assert len(config_store.backups(config_path(client))) == 3


def gated_upstream(gate: asyncio.Event) -> web.Application:
    """A provider that sends the start of a stream, then waits for `gate` before finishing."""
    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunks = text_chunks(["before", " after"])
        for item in chunks[:2]:
            await response.write(_encode(item))
        await gate.wait()
        for item in chunks[2:]:
            await response.write(_encode(item))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    return app


async def read_until(response: Any, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        piece = await asyncio.wait_for(response.content.readany(), 10)
        assert piece, "stream ended early"
        data += piece
    return data


async def test_in_flight_stream_finishes_on_the_config_it_started_with(make_client, fake, aiohttp_server):
    gate = asyncio.Event()
    gated = await aiohttp_server(gated_upstream(gate), host="127.0.0.1")
    old = {"Providers": [{"name": "slow", "api_base_url": str(gated.make_url("/v1/chat/completions")),
                          "models": ["m"]}], "Router": {"default": "slow,m"}}
    client = await make_client(old)
    stream = await client.post("/v1/messages", json={"model": "x", "max_tokens": 10, "stream": True, "messages": USER})
    first = await read_until(stream, b"before")
    # New config: the provider the stream uses is gone.
    response = await client.post("/api/config", json=base_config(fake))
    assert response.status == 200
    gate.set()
    events = parse_sse_bytes(first + await asyncio.wait_for(stream.read(), 10))
    check_stream(events)
    assert events[-1]["type"] == "message_stop"
    await ask(client)  # new requests use the new config
    assert fake.requests[-1].body["model"] == "fake-model"


async def test_transformers_lists_names_and_endpoint(client):
    response = await client.get("/api/transformers")
    items = (await response.json())["transformers"]
    by_name = {item["name"]: item["endpoint"] for item in items}
    assert by_name["Anthropic"] == "/v1/messages"
    assert by_name["OpenAI"] is None
    assert all(set(item) == {"name", "endpoint", "description"} for item in items)
    assert all(item["description"] for item in items)  # every built-in says what it does


async def test_reload_applies_a_file_changed_on_disk(make_client, fake):
    client = await make_client(base_config(fake))
    config_path(client).write_text(json.dumps(base_config(fake, Router={"default": "fake,other-model"})))
    response = await client.post("/api/reload")
    assert (await response.json())["success"] is True
    await ask(client)
    assert fake.requests[-1].body["model"] == "Other-Model"
    config_path(client).write_text('{"Providers": [{"name": "x"}]}')  # no api_base_url
    response = await client.post("/api/reload")
    assert response.status == 400
    assert "keeps running" in (await response.json())["error"]["message"]
    await ask(client)
    assert fake.requests[-1].body["model"] == "Other-Model"


@pytest.mark.in_process  # replaces the app's restart hook
async def test_restart_applies_saved_config_and_calls_the_hook_after_answering(make_client, fake):
    client = await make_client(base_config(fake))
    calls: list[float] = []
    client.app[ADMIN].restart = lambda: calls.append(time.monotonic())
    config_path(client).write_text(json.dumps(base_config(fake, Router={"default": "fake,other-model"})))
    response = await client.post("/api/restart")
    assert await response.json() == {"success": True, "message": "Service restart initiated"}
    await ask(client)
    assert fake.requests[-1].body["model"] == "Other-Model"
    assert len(calls) == 1


@pytest.mark.in_process  # replaces the app's restart hook
async def test_restart_refuses_a_config_that_cannot_start(make_client, fake):
    client = await make_client(base_config(fake))
    calls: list[int] = []
    client.app[ADMIN].restart = lambda: calls.append(1)
    config_path(client).write_text('{"PORT": "not a number"}')
    response = await client.post("/api/restart")
    assert response.status == 400
    assert "Not restarting" in (await response.json())["error"]["message"]
    assert calls == []


@pytest.mark.in_process  # a server process takes its port from --port, which a save cannot change
async def test_changes_a_reload_cannot_apply_are_reported(make_client, fake):
    client = await make_client(base_config(fake))
    response = await client.post("/api/config", json=base_config(fake, PORT=4999, LOG_LEVEL="debug"))
    warnings = (await response.json())["warnings"]
    assert any("PORT" in w and "LOG_LEVEL" in w and "restart" in w for w in warnings)
    response = await client.post("/api/config", json=base_config(fake, Router={"default": "gone,model"}))
    assert "Router.default 'gone,model' is not a configured provider,model" in (await response.json())["warnings"]


ADMIN_CALLS = [("GET", "/api/config"), ("POST", "/api/config"), ("GET", "/api/transformers"),
               ("GET", "/api/logs/files"), ("GET", "/api/logs"), ("DELETE", "/api/logs"),
               ("POST", "/api/reload"), ("POST", "/api/restart")]


async def test_api_needs_the_key_when_apikey_is_set(make_client, fake):
    client = await make_client(base_config(fake, APIKEY="admin-secret"))
    for method, path in ADMIN_CALLS:
        response = await client.request(method, path, json=base_config(fake, APIKEY="admin-secret"))
        assert response.status == 401, (method, path)
        assert (await response.json())["error"] == {"type": "authentication_error", "message": "APIKEY is missing"}
        response = await client.request(method, path, headers={"x-api-key": "wrong"})
        assert (await response.json())["error"]["message"] == "Invalid API key"
    for headers in ({"x-api-key": "admin-secret"}, {"Authorization": "Bearer admin-secret"}):
        response = await client.get("/api/config", headers=headers)
        assert response.status == 200
    response = await client.post("/api/config", json=base_config(fake, APIKEY="admin-secret"),
                                 headers={"x-api-key": "admin-secret"})
    assert await response.json() == {**SAVED, "warnings": []}
    assert (await client.get("/health")).status == 200


async def test_new_apikey_applies_on_the_next_request(make_client, fake):
    client = await make_client(base_config(fake))
    response = await client.post("/api/config", json=base_config(fake, APIKEY="fresh-key"))
    assert response.status == 200
    assert (await client.get("/api/config")).status == 401
    assert (await client.get("/api/config", headers={"x-api-key": "fresh-key"})).status == 200


async def test_browser_origin_check_covers_api(make_client, fake):
    client = await make_client({"Providers": [provider_config(fake)], "Router": {}})
    response = await client.post("/api/config", json={}, headers={"Origin": "http://evil.example"})
    assert response.status == 403
