"""The request record of a request that fell back: one entry in `providers_tried` per attempt
of the fallback loop (with the status each failed one got), `attempts` counting them, and the
provider that answered as the record's provider."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.openai_upstream import error_reply, stream_reply, text_chunks
from tests.fallback_helpers import KEY_ONE, KEY_TWO, ask, route_of, two_providers
from tests.records_helpers import recorded

BACKUP_SAYS = stream_reply(text_chunks(["from", " the backup"]))


@pytest.fixture
async def pair(make_fake):
    primary, backup = await make_fake(), await make_fake()
    backup.default = BACKUP_SAYS
    return primary, backup


async def only_record(client: Any) -> dict[str, Any]:
    (record,) = await recorded(client, 1)
    return record


@pytest.mark.parametrize("stream", [True, False])
async def test_a_fallback_answer_records_every_provider_tried(make_client, pair, stream):
    primary, backup = pair
    primary.default = error_reply(500, "primary is broken")
    client = await make_client(two_providers(primary, backup, keys="sk-single-primary-key"))
    response, _ = await ask(client, stream=stream)
    assert response.status == 200 and route_of(response) == ("backup,b-model", 2)
    record = await only_record(client)
    assert record["attempts"] == 2
    assert record["providers_tried"] == [
        {"provider": "primary", "model": "p-model", "status": 500},
        {"provider": "backup", "model": "b-model", "status": None},
    ]
    assert (record["provider"], record["model"], record["status"]) == ("backup", "b-model", 200)


async def test_a_key_pool_turn_and_a_failed_chain_are_attempts_too(make_client, pair):
    primary, backup = pair
    primary.default = error_reply(429, "primary: slow down")
    backup.default = error_reply(503, "backup is down")
    client = await make_client(two_providers(primary, backup))
    response, _ = await ask(client)
    assert response.status == 503
    record = await only_record(client)
    tried = [(a["provider"], a["status"]) for a in record["providers_tried"]]
    assert tried == [("primary", 429), ("primary", 429), ("backup", 503)]  # both pooled keys, then the backup
    assert record["attempts"] == 3 and record["status"] == 503
    assert sorted(primary.keys()) == sorted([KEY_ONE, KEY_TWO])
