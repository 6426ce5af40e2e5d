"""The keys rule of the management API: masked out, `$VAR`s as written, reveal on request, and a
masked value posted back keeps the stored key."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import base_config

LONG = "sk-stored-provider-key-abcd"
POOL = ["sk-pool-key-number-one-0000", "sk-pool-key-number-two-0000"]  # same mask, told apart by place


def keyed(fake: Any) -> dict[str, Any]:
    config = base_config(fake)
    config["Providers"][0]["api_key"] = LONG
    config["Providers"].append({"name": "pool", "api_base_url": "https://pool.invalid/v1/chat/completions",
                                "api_key": POOL, "models": ["p1"]})
    config["Providers"].append({"name": "env", "api_base_url": "https://env.invalid/v1/chat/completions",
                                "api_key": "$ENV_KEY", "models": ["e1"]})
    config["APIKEY"] = "admin-key-0123456789"
    return config


async def test_get_masks_literal_keys_and_shows_references(make_client, fake):
    client = await make_client(keyed(fake))
    headers = {"x-api-key": "admin-key-0123456789"}
    config = await (await client.get("/api/config", headers=headers)).json()
    assert config["Providers"][0]["api_key"] == "sk-…abcd"
    assert config["Providers"][1]["api_key"] == ["sk-…0000", "sk-…0000"]
    assert config["Providers"][2]["api_key"] == "$ENV_KEY"
    assert config["APIKEY"] == "adm…6789"
    assert LONG not in json.dumps(config)
    revealed = await (await client.get("/api/config?reveal=1", headers=headers)).json()
    assert revealed["Providers"][0]["api_key"] == LONG and revealed["Providers"][1]["api_key"] == POOL


async def test_posting_masked_values_back_keeps_the_stored_keys(make_client, fake):
    client = await make_client(keyed(fake))
    headers = {"x-api-key": "admin-key-0123456789"}
    config = await (await client.get("/api/config", headers=headers)).json()
    moved = config["Providers"].pop(0)  # a provider moved in the list keeps its key too
    config["Providers"].append(moved)
    config["Router"]["background"] = "pool,p1"
    response = await client.post("/api/config", json=config, headers=headers)
    assert response.status == 200, await response.text()
    stored = await (await client.get("/api/config?reveal=1", headers=headers)).json()
    assert stored["Providers"][2]["api_key"] == LONG
    assert stored["Providers"][0]["api_key"] == POOL
    assert stored["APIKEY"] == "admin-key-0123456789"
    assert stored["Router"]["background"] == "pool,p1"


async def test_a_masked_value_that_matches_no_stored_key_is_refused(make_client, fake):
    client = await make_client(keyed(fake))
    headers = {"x-api-key": "admin-key-0123456789"}
    config = await (await client.get("/api/config", headers=headers)).json()
    config["Providers"][0]["api_key"] = "sk-…zzzz"
    response = await client.post("/api/config", json=config, headers=headers)
    assert response.status == 400
    assert "matches no stored key" in (await response.json())["error"]["message"]
    revealed = await (await client.get("/api/config?reveal=1", headers=headers)).json()
    assert revealed["Providers"][0]["api_key"] == LONG  # nothing written


async def test_a_refused_save_lists_each_problem_with_its_path(make_client, fake):
    client = await make_client(base_config(fake))
    config = base_config(fake)
    config["PORT"] = "not a port"
    config["API_TIMEOUT_MS"] = -5
    response = await client.post("/api/config", json=config)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["message"].startswith("Invalid config, nothing saved: ")
    paths = {p["path"] for p in error["problems"]}
    assert {"PORT", "API_TIMEOUT_MS"} <= paths
    assert all(p["message"] in error["message"] for p in error["problems"])


async def test_json5_errors_read_as_text_not_python_bytes(make_client, fake):
    client = await make_client(base_config(fake))
    response = await client.post("/api/config", data="{a: }", headers={"Content-Type": "application/json5"})
    message = (await response.json())["error"]["message"]
    assert response.status == 400
    assert "b'" not in message and "U+" not in message
    assert "Expected a value" in message and "'}'" in message and "line 1, column 6" in message
