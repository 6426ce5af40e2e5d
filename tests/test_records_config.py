"""The config keys of the request records: named client keys, USAGE, USAGE_RETENTION_DAYS,
LOG_BODIES and per-provider pricing — parsed by the one validator, used by the running app."""

from __future__ import annotations

import hmac
from typing import Any

import pytest

from ccr_aio.client_keys import matching_key
from ccr_aio.config import ClientKey, parse_config
from ccr_aio.records import Price
from ccr_aio.settings import build_settings
from tests.conftest import base_config, sdk
from tests.fakes.openai_upstream import completion, json_reply
from tests.records_helpers import recorded

URL = "http://127.0.0.1:1/v1/chat/completions"
USER = [{"role": "user", "content": "hi"}]
TEAM = [{"name": "alice", "key": "$ALICE_KEY"}, {"name": "bob", "key": "bob-key-0000"}]


def problems(data: dict[str, Any]) -> list[str]:
    return [str(p) for p in parse_config(data).problems]


def test_named_keys_parse_and_a_plain_string_still_works(tmp_path):
    settings = build_settings({"APIKEY": TEAM}, tmp_path / "c.json", env={"ALICE_KEY": "alice-key-1111"})
    assert settings.client_keys == (ClientKey("alice-key-1111", "alice"), ClientKey("bob-key-0000", "bob"))
    assert settings.apikey == "alice-key-1111"  # what the CLI sends to its own server
    plain = build_settings({"APIKEY": "one"}, tmp_path / "c.json", env={})
    assert plain.client_keys == (ClientKey("one"),) and plain.apikey == "one"
    overridden = build_settings({"APIKEY": TEAM}, tmp_path / "c.json", env={"APIKEY": "from-env"})
    assert overridden.client_keys == (ClientKey("from-env"),)


@pytest.mark.parametrize("value, expected", [
    ([{"name": "a", "key": "k1"}, {"name": "a", "key": "k2"}], ["APIKEY[1].name repeats APIKEY[0].name 'a'"]),
    ([{"name": "a", "key": "k1"}, {"name": "b", "key": "k1"}], ["APIKEY[1].key is the same key as APIKEY[0]"]),
    ([{"key": "k1"}], ["APIKEY[0].name is required (a non-empty string)"]),
    ([{"name": "a"}], ["APIKEY[0].key is required (a non-empty string, or $VAR)"]),
    ([{"name": "a", "key": "k", "role": "admin"}], ["APIKEY[0] has unknown field(s): role"]),
    (["k"], ['APIKEY[0] must be an object like {"name": "alice", "key": "..."}, got a string']),
    ([], ["APIKEY is an empty list: give at least one key, or remove APIKEY"]),
])
def test_named_key_problems_have_their_path_and_never_echo_a_key(value, expected):
    found = problems({"APIKEY": value})
    assert [p.split(" (APIKEY is")[0] for p in found] == expected
    assert not any("k1" in p or "k2" in p for p in found)  # a key's value is never shown


def test_every_key_is_compared_even_after_a_match(monkeypatch):
    compared: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    keys = [ClientKey("k-one", "one"), ClientKey("k-two", "two"), ClientKey("k-three", "three")]
    assert matching_key("k-one", keys) == keys[0]
    assert compared == [b"k-one", b"k-two", b"k-three"]  # no early exit on the first key
    assert matching_key("nope", keys) is None


async def test_the_key_name_goes_into_the_record(make_client, fake):
    client = await make_client(base_config(fake, APIKEY=TEAM), env={"ALICE_KEY": "alice-key-1111"})
    for key in ("alice-key-1111", "bob-key-0000", "bob-key-0000"):
        fake.queue(json_reply(completion("ok")))
        await sdk(client, api_key=key).messages.create(model="m", max_tokens=5, messages=USER)
    wrong = await client.post("/v1/messages", json={"model": "m", "max_tokens": 1, "messages": USER},
                              headers={"x-api-key": "$ALICE_KEY"})
    assert wrong.status == 401  # the variable's value is the key, not its name
    headers = {"x-api-key": "bob-key-0000"}
    await recorded(client, 3, headers)
    rows = (await (await client.get("/api/usage?group_by=client_key", headers=headers)).json())["rows"]
    assert {row["key"]: row["requests"] for row in rows} == {"alice": 1, "bob": 2}


def test_pricing_is_checked_with_its_path():
    provider = {"name": "p", "api_base_url": URL, "models": ["m"]}
    good = parse_config({"Providers": [{**provider, "pricing": {"m": {"input": 0.27, "output": 1.1}}}]})
    assert good.value is not None
    assert good.value.providers[0].pricing == {"m": Price(0.27, 1.1, 0.27, 0.27)}
    found = parse_config({"Providers": [{**provider, "pricing": {"m": {"input": 1, "output": -2}}}]})
    assert found.value is None
    assert found.problems[0].path == "Providers[0].pricing"
    assert str(found.problems[0]).startswith("Providers[0] (p).pricing: pricing for 'm': 'output' must be a number >= 0")
    assert problems({"Providers": [{**provider, "pricing": ["m"]}]})[0].startswith(
        "Providers[0] (p).pricing: pricing is an object of model name -> price")


@pytest.mark.parametrize("data, usage, days, bodies", [
    ({}, True, 90.0, False),
    ({"USAGE": False, "USAGE_RETENTION_DAYS": 7, "LOG_BODIES": True}, False, 7.0, True),
    ({"USAGE": "false", "USAGE_RETENTION_DAYS": "0"}, False, 0.0, False),  # as $VARS give them
])
def test_usage_switches(data, usage, days, bodies):
    config = parse_config(data).value
    assert config is not None
    assert (config.usage, config.usage_retention_days, config.log_bodies) == (usage, days, bodies)


def test_a_bad_switch_starts_with_the_default_but_a_save_refuses_it():
    parsed = parse_config({"USAGE": "sometimes", "USAGE_RETENTION_DAYS": -3, "LOG_BODIES": 1})
    assert parsed.value is not None and parsed.value.usage and not parsed.value.log_bodies
    assert parsed.value.usage_retention_days == 90.0
    assert [(p.path, p.blocks) for p in parsed.problems] == [
        ("USAGE", False), ("USAGE_RETENTION_DAYS", False), ("LOG_BODIES", False)]


async def test_post_config_refuses_a_bad_price_and_keeps_the_file(make_client, fake):
    client = await make_client(base_config(fake))
    config = base_config(fake)
    config["Providers"][0]["pricing"] = {"fake-model": {"input": "cheap", "output": 1}}
    response = await client.post("/api/config", json=config)
    assert response.status == 400
    assert "Providers[0] (fake).pricing: pricing for 'fake-model': 'input' must be a number" in (
        await response.json())["error"]["message"]
