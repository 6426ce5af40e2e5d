"""Claude Code's /model picker: what GET /v1/models offers it, and that every id it may send back
is routed exactly as chosen. Over HTTP with the official SDK, as Claude Code would.

Claude Code 2.1.332 (with CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1) asks
`GET /v1/models?limit=1000` with `User-Agent: claude-code/<version>` and keeps only ids that
match /(claude|anthropic)/i; it sends the picked id back as `model`.
"""

from __future__ import annotations

import re
from typing import Any

import anthropic
import pytest

from tests.conftest import provider_config, sdk
from tests.fakes.openai_upstream import completion, json_reply

CLAUDE_CODE = {"User-Agent": "claude-code/2.1.332"}
KEPT_BY_CLAUDE_CODE = re.compile(r"(claude|anthropic)", re.I)  # Claude Code's own filter
USER = [{"role": "user", "content": "hi"}]
# thinkWhen "thinking": every request below carries thinking, so only the pick keeps it off `think`.
ROUTER = {"default": "fake,fake-model", "think": "fake,Other-Model", "thinkWhen": "thinking"}


def picker_config(fake: Any) -> dict[str, Any]:
    capabilities = {"fake-model": {"context_window": 128000, "max_output_tokens": 8192}}
    return {"Providers": [provider_config(fake, capabilities=capabilities)], "Router": dict(ROUTER)}


async def listed_for_claude_code(client: Any) -> list[Any]:
    page = await sdk(client, default_headers=CLAUDE_CODE).models.list(limit=1000)
    return list(page.data)


async def test_claude_code_keeps_every_pair_and_router_entry(make_client: Any, fake: Any) -> None:
    client = await make_client(picker_config(fake))
    models = await listed_for_claude_code(client)
    kept = [m for m in models if KEPT_BY_CLAUDE_CODE.search(m.id)]
    assert kept == models
    assert [m.id for m in models] == [
        "ccr-claude/default", "ccr-claude/think", "ccr-claude/fake,fake-model", "ccr-claude/fake,Other-Model",
    ]
    assert [m.display_name for m in models] == [
        "Router default: fake,fake-model", "Router think: fake,Other-Model", "fake-model (fake)", "Other-Model (fake)",
    ]
    raw = await client.get("/v1/models", params={"limit": "1000"}, headers=CLAUDE_CODE)
    described = {m["id"]: m["description"] for m in (await raw.json())["data"]}
    assert described["ccr-claude/fake,fake-model"] == "fake,fake-model · 128k context · 8k output"
    assert described["ccr-claude/think"] == "follows Router.think in the config"


async def test_other_clients_get_plain_pairs(make_client: Any, fake: Any) -> None:
    client = await make_client(picker_config(fake))
    page = await sdk(client).models.list()
    assert [m.id for m in page.data] == ["fake,fake-model", "fake,Other-Model"]


@pytest.mark.parametrize(
    ("picked", "upstream_model"),
    [
        ("ccr-claude/fake,fake-model", "fake-model"),
        ("ccr-claude/fake,Other-Model", "Other-Model"),
        ("ccr-claude/default", "fake-model"),
        ("ccr-claude/think", "Other-Model"),
        ("CCR-Claude/FAKE,other-model", "Other-Model"),  # ids compare ignoring case, like pairs
    ],
)
async def test_picked_id_is_routed_exactly_as_chosen(make_client: Any, fake: Any, picked: str, upstream_model: str) -> None:
    client = await make_client(picker_config(fake))
    fake.queue(json_reply(completion("ok")))
    # Claude Code sends adaptive thinking with every turn: the pick wins over the think rule.
    message = await sdk(client).messages.create(
        model=picked, max_tokens=100, messages=USER, thinking={"type": "adaptive"},  # type: ignore[typeddict-item]
    )
    assert message.model == picked  # the client sees the name it sent
    assert fake.requests[-1].body["model"] == upstream_model


async def test_every_listed_id_round_trips(make_client: Any, fake: Any) -> None:
    client = await make_client(picker_config(fake))
    for model in await listed_for_claude_code(client):
        fake.queue(json_reply(completion("ok")))
        await sdk(client).messages.create(model=model.id, max_tokens=10, messages=USER)
        pair = model.display_name.split(": ")[-1] if model.display_name.startswith("Router") else model.id.split("/", 1)[1]
        assert fake.requests[-1].body["model"] == pair.split(",")[1]


async def test_unset_router_entry_and_unknown_pair_are_refused(make_client: Any, fake: Any) -> None:
    client = await make_client(picker_config(fake))
    with pytest.raises(anthropic.BadRequestError, match=r"set Router\.longContext"):
        await sdk(client).messages.create(model="ccr-claude/longContext", max_tokens=10, messages=USER)
    with pytest.raises(anthropic.BadRequestError, match="Unknown provider/model 'fake,nope'"):
        await sdk(client).messages.create(model="ccr-claude/fake,nope", max_tokens=10, messages=USER)
    assert fake.requests == []


async def test_one_picker_id(make_client: Any, fake: Any) -> None:
    client = await make_client(picker_config(fake))
    model = await sdk(client).models.retrieve("ccr-claude/fake,fake-model")
    assert model.display_name == "fake-model (fake)"
    with pytest.raises(anthropic.NotFoundError):
        await sdk(client).models.retrieve("ccr-claude/fake,nope")
