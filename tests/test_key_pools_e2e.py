"""Key pools end to end: a 429 moves to the provider's next key in the same request and cools
the key for its retry-after; sessions stick to a key; a rejected pooled key is taken out until
a reload; the health endpoint shows it all. Fake providers over real HTTP, a clock the test moves."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import sdk
from tests.fakes.openai_upstream import Reply, error_reply, json_reply, completion, stream_reply, text_chunks
from tests.fallback_helpers import KEY_ONE, KEY_TWO, USER, ask, fake_clock, health, route_of, text_of, two_providers
from tests.live_server import on_another_worker


def fails_on(key: str, reply: Reply) -> Any:
    """A `choose` rule: `reply` for every call made with `key`, the default for the others."""
    return lambda recorded: reply if recorded.headers.get("Authorization") == f"Bearer {key}" else None


@pytest.fixture
async def pair(make_fake):
    return await make_fake(), await make_fake()


@pytest.mark.in_process  # puts the app on a clock the test moves
async def test_429_on_key_one_is_answered_by_key_two_and_key_one_rests_for_its_retry_after(make_client, pair):
    primary, backup = pair
    primary.choose = fails_on(KEY_ONE, error_reply(429, "key one: slow down", {"retry-after": "2"}))
    client = await make_client(two_providers(primary, backup))
    clock = fake_clock(client)
    async with sdk(client).messages.stream(model="claude-sonnet-4", max_tokens=50, messages=USER) as stream:
        final = await stream.get_final_message()
    assert final.content[0].text == "Hello from fake"
    assert primary.keys() == [KEY_ONE, KEY_TWO]  # the next key of the same provider, same request
    assert stream.response.headers["x-ccr-route"] == "primary,p-model"
    assert stream.response.headers["x-ccr-attempts"] == "2"
    assert backup.requests == []
    keys = (await health(client))["primary"]["keys"]
    assert [(k["index"], k["state"], k["seconds_left"], k["last_error"]) for k in keys] == [
        (0, "cooling", 2.0, "http 429"), (1, "ok", None, None)]
    for _ in range(4):  # new requests would take turns; key one is resting
        response, _ = await ask(client)
        assert route_of(response) == ("primary,p-model", 1)
    assert primary.keys()[2:] == [KEY_TWO] * 4
    clock.advance(1.9)
    await ask(client)
    assert primary.keys()[-1] == KEY_TWO
    clock.advance(0.2)  # 2.1 s after the 429
    primary.choose = None
    for _ in range(2):
        await ask(client)
    assert KEY_ONE in primary.keys()[-2:]  # back in turn
    assert (await health(client))["primary"]["keys"][0]["state"] == "ok"


@pytest.mark.in_process  # the turn of keys is per process (a session keeps its key within a worker)
async def test_a_session_keeps_its_key_while_another_session_gets_the_other(make_client, pair):
    primary, backup = pair
    client = await make_client(two_providers(primary, backup))
    for session in ("session-a", "session-b", "session-a", "session-a", "session-b", "session-a"):
        response, _ = await ask(client, session=session)
        assert response.status == 200
    assert primary.keys() == [KEY_ONE, KEY_TWO, KEY_ONE, KEY_ONE, KEY_TWO, KEY_ONE]
    # Claude Code's own session id (metadata.user_id) counts the same.
    user_id = '{"device_id":"d","account_uuid":"","session_id":"session-b"}'
    await sdk(client).messages.create(model="claude-sonnet-4", max_tokens=5, messages=USER,
                                      metadata={"user_id": user_id})
    assert primary.keys()[-1] == KEY_TWO


async def test_a_key_that_got_a_429_rests_on_every_worker(make_client, pair):
    """The 429 and its retry-after are in the shared health: the next requests skip key one,
    whichever worker serves them (with its own turn of keys, which would start at key one)."""
    primary, backup = pair
    primary.queue(error_reply(429, "key one: slow down", {"retry-after": "60"}))
    client = await make_client(two_providers(primary, backup))
    response, _ = await ask(client)
    assert route_of(response) == ("primary,p-model", 2) and primary.keys() == [KEY_ONE, KEY_TWO]
    async with on_another_worker(client, after="route"):
        for _ in range(2):
            response, _ = await ask(client)
            assert route_of(response) == ("primary,p-model", 1)
    assert primary.keys()[2:] == [KEY_TWO, KEY_TWO]
    assert [k["state"] for k in (await health(client))["primary"]["keys"]] == ["cooling", "ok"]


@pytest.mark.in_process  # puts the app on a clock the test moves
async def test_a_session_moved_off_a_rate_limited_key_stays_on_the_key_that_answered(make_client, pair):
    primary, backup = pair
    client = await make_client(two_providers(primary, backup))
    clock = fake_clock(client)
    primary.queue(error_reply(429, "slow down", {"retry-after-ms": "500"}))
    response, _ = await ask(client, session="s1")
    assert route_of(response) == ("primary,p-model", 2)
    clock.advance(1)  # key one is usable again, but the session's cache is on key two now
    for _ in range(2):
        await ask(client, session="s1")
    assert primary.keys() == [KEY_ONE, KEY_TWO, KEY_TWO, KEY_TWO]


@pytest.mark.in_process  # puts the app on a clock the test moves
async def test_a_pool_that_is_all_rate_limited_moves_to_the_fallback_model(make_client, pair):
    primary, backup = pair
    primary.default = error_reply(429, "quota", {"retry-after": "30"})
    backup.default = stream_reply(text_chunks(["backup answers"]))
    client = await make_client(two_providers(primary, backup))
    fake_clock(client)
    response, events = await ask(client, stream=True)
    assert text_of(events) == "backup answers" and route_of(response) == ("backup,b-model", 3)
    assert primary.keys() == [KEY_ONE, KEY_TWO]
    response, _ = await ask(client, stream=True)
    assert route_of(response) == ("backup,b-model", 1) and len(primary.requests) == 2
    state = await health(client)
    assert [k["state"] for k in state["primary"]["keys"]] == ["cooling", "cooling"]
    assert state["primary"]["models"]["p-model"]["state"] == "ok"  # the keys are limited, not the model


async def test_a_rejected_pooled_key_is_taken_out_until_a_reload(make_client, pair):
    primary, backup = pair
    primary.choose = fails_on(KEY_ONE, error_reply(401, "invalid api key"))
    client = await make_client(two_providers(primary, backup))
    primary.default = json_reply(completion("ok"))
    for _ in range(3):
        response, message = await ask(client)
        assert response.status == 200 and text_of(message) == "ok"
    assert primary.keys() == [KEY_ONE, KEY_TWO, KEY_TWO, KEY_TWO]
    keys = (await health(client))["primary"]["keys"]
    assert (keys[0]["state"], keys[0]["last_error"]) == ("disabled", "http 401")
    primary.choose = None  # the key was fixed; a reload brings it back
    assert (await client.post("/api/reload")).status == 200
    assert (await health(client))["primary"]["keys"][0]["state"] == "ok"
    for _ in range(2):
        await ask(client)
    assert KEY_ONE in primary.keys()[-2:]


async def test_a_rejected_single_key_is_not_retried_elsewhere(make_client, pair):
    primary, backup = pair
    primary.queue(error_reply(403, "forbidden"))
    client = await make_client(two_providers(primary, backup, keys="sk-single-primary-key"))
    response, body = await ask(client)
    assert response.status == 403 and backup.requests == []
    assert body["error"]["message"].startswith("Error from provider(primary,p-model: 403)")


async def test_the_health_report_lists_every_provider_model_and_pooled_key(make_client, pair):
    primary, backup = pair
    client = await make_client(two_providers(primary, backup, APIKEY="admin-secret"))
    assert (await client.get("/api/providers/health")).status == 401
    response = await client.get("/api/providers/health", headers={"x-api-key": "admin-secret"})
    report = await response.json()
    assert [(p["name"], [m["model"] for m in p["models"]], [k["index"] for k in p["keys"]])
            for p in report["providers"]] == [("primary", ["p-model", "p-vision"], [0, 1]), ("backup", ["b-model"], [])]
    assert {m["state"] for p in report["providers"] for m in p["models"]} == {"ok"}
    assert KEY_ONE not in await response.text()
