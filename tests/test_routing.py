"""Every routing rule end to end: the fake provider must receive the expected model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, provider_config
from tests.fakes.openai_upstream import completion, json_reply
from tests.live_server import on_another_worker

MODELS = ["default-m", "bg-m", "think-m", "long-m", "web-m", "image-m", "sub-m", "custom-m", "proj-m", "sess-m"]
ROUTER = {
    "default": "fake,default-m", "background": "fake,bg-m", "think": "fake,think-m",
    "longContext": "fake,long-m", "longContextThreshold": 1000, "webSearch": "fake,web-m", "image": "fake,image-m",
}
USER = [{"role": "user", "content": "hi"}]
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
TAG = "<CCR-SUBAGENT-MODEL>fake,sub-m</CCR-SUBAGENT-MODEL>"


def config(fake, **extra):
    return {"Providers": [provider_config(fake, models=MODELS)], "Router": dict(ROUTER), **extra}


async def routed_model(client, fake, body, headers=None):
    fake.queue(json_reply(completion("ok")))
    response = await client.post("/v1/messages", json={"max_tokens": 5, **body}, headers=headers or {})
    assert response.status == 200, await response.text()
    return fake.requests[-1].body["model"]


def long_text(tokens_at_least: int) -> str:
    return "word " * tokens_at_least  # each "word " is one cl100k token


@pytest.fixture
async def routed(make_client, fake):
    client = await make_client(config(fake))
    return lambda body, headers=None: routed_model(client, fake, body, headers)


async def test_default(routed):
    assert await routed({"model": "claude-sonnet-4", "messages": USER}) == "default-m"


async def test_background_needs_claude_and_haiku(routed):
    assert await routed({"model": "claude-3-5-Haiku-2024", "messages": USER}) == "bg-m"
    assert await routed({"model": "haiku-only", "messages": USER}) == "default-m"


async def test_think_on_any_thinking_with_ccr_rule(make_client, fake):
    client = await make_client(config(fake, Router={**ROUTER, "thinkWhen": "thinking"}))
    routed = lambda body: routed_model(client, fake, body)  # noqa: E731
    assert await routed({"model": "claude-x", "messages": USER, "thinking": {"type": "enabled", "budget_tokens": 2000}}) == "think-m"
    assert await routed({"model": "claude-x", "messages": USER, "thinking": {"type": "adaptive"}}) == "think-m"
    assert await routed({"model": "claude-x", "messages": USER, "thinking": {"type": "disabled"}}) == "default-m"


async def test_web_search(routed):
    tools = [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]
    assert await routed({"model": "claude-x", "messages": USER, "tools": tools}) == "web-m"


async def test_long_context_by_token_count(routed):
    assert await routed({"model": "claude-x", "messages": [{"role": "user", "content": long_text(1200)}]}) == "long-m"
    assert await routed({"model": "claude-x", "messages": [{"role": "user", "content": long_text(800)}]}) == "default-m"


async def test_long_context_from_previous_turn_usage(make_client, fake):
    router = {**ROUTER, "longContextThreshold": 30000}
    client = await make_client({"Providers": [provider_config(fake, models=MODELS)], "Router": router})
    session = {"metadata": {"user_id": "user_abc_account__session_s-long"}}
    big = completion("ok")
    big["usage"] = {"prompt_tokens": 40000, "completion_tokens": 3}
    fake.queue(json_reply(big))
    first = await client.post("/v1/messages", json={"model": "claude-x", "max_tokens": 5, "messages": USER, **session})
    assert first.status == 200 and fake.requests[-1].body["model"] == "default-m"
    # 25k tokens: below the 30k threshold, but the last turn of this session was above it
    body = {"model": "claude-x", "messages": [{"role": "user", "content": long_text(25000)}], **session}
    async with on_another_worker(client, after="route"):  # the turn's usage reached every worker
        assert await routed_model(client, fake, body) == "long-m"
    other = {"metadata": {"user_id": "user_abc_account__session_other"}}
    assert await routed_model(client, fake, {**body, **other}) == "default-m"


async def test_subagent_tag_in_third_system_block_is_used_and_removed(routed, fake):
    system = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.328;"},
        {"type": "text", "text": "You are a Claude agent."},
        {"type": "text", "text": TAG + "You are the reviewer subagent."},
    ]
    assert await routed({"model": "claude-x", "system": system, "messages": USER}) == "sub-m"
    sent = json.dumps(fake.requests[-1].body)
    assert "CCR-SUBAGENT-MODEL" not in sent and "You are the reviewer subagent." in sent


async def test_subagent_tag_at_start_of_first_user_message(routed, fake):
    messages = [{"role": "user", "content": [{"type": "text", "text": TAG + "do the review"}]}]
    assert await routed({"model": "claude-x", "messages": messages}) == "sub-m"
    assert "CCR-SUBAGENT-MODEL" not in json.dumps(fake.requests[-1].body)


async def test_image_in_last_user_message(routed):
    messages = [{"role": "user", "content": [{"type": "text", "text": "what is this"}, IMAGE]}]
    assert await routed({"model": "claude-x", "messages": messages}) == "image-m"


async def test_precedence(routed):
    long_with_everything = {
        "model": "claude-3-haiku", "thinking": {"type": "enabled", "budget_tokens": 2000},
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        "system": [{"type": "text", "text": TAG}],
        "messages": [{"role": "user", "content": long_text(1500)}],
    }
    assert await routed({**long_with_everything, "model": "FAKE,think-M"}) == "think-m"  # explicit first
    assert await routed(dict(long_with_everything)) == "long-m"
    short = {**long_with_everything, "messages": USER}
    assert await routed(dict(short, system=[{"type": "text", "text": TAG}])) == "sub-m"
    assert await routed({k: v for k, v in short.items() if k != "system"}) == "bg-m"
    no_haiku = {k: v for k, v in short.items() if k != "system"} | {"model": "claude-x"}
    assert await routed(no_haiku) == "web-m"
    assert await routed({k: v for k, v in no_haiku.items() if k != "tools"}) == "think-m"


async def test_unknown_router_entry_is_400_naming_it(make_client, fake):
    client = await make_client({"Providers": [provider_config(fake, models=MODELS)], "Router": {"default": "fake,gone"}})
    response = await client.post("/v1/messages", json={"model": "x", "max_tokens": 5, "messages": USER})
    assert response.status == 400
    assert "fake,gone" in (await response.json())["error"]["message"]


def write_custom_router(path: Path, source: str) -> Path:
    path.write_text(source)
    return path


@pytest.mark.parametrize("source, expected", [
    ("async def router(request, config, context):\n    return 'fake,custom-m'\n", "custom-m"),
    ("def router(request, config, context):\n    return None\n", "think-m"),
    ("def router(request, config, context):\n    raise RuntimeError('boom')\n", "think-m"),
    ("def router(request, config, context):\n    return 'fake,not-configured'\n", "think-m"),
    ("this is not python", "think-m"),
])
async def test_custom_router(make_client, fake, tmp_path, source, expected):
    path = write_custom_router(tmp_path / "router.py", source)
    client = await make_client(config(fake, CUSTOM_ROUTER_PATH=str(path)))
    body = {"model": "claude-x", "messages": USER, "thinking": {"type": "enabled", "budget_tokens": 2000}}
    assert await routed_model(client, fake, body) == expected


async def test_custom_router_sees_context(make_client, fake, tmp_path):
    out = tmp_path / "seen.json"
    source = (
        "import json, pathlib\n"
        "def router(request, config, context):\n"
        f"    pathlib.Path({str(out)!r}).write_text(json.dumps(context))\n"
        "    return None\n"
    )
    client = await make_client(config(fake, CUSTOM_ROUTER_PATH=str(write_custom_router(tmp_path / "r.py", source))))
    body = {"model": "claude-x", "messages": USER, "metadata": {"user_id": "u_account__session_abc"}}
    assert await routed_model(client, fake, body) == "default-m"
    seen = json.loads(out.read_text())
    assert seen["scenario"] == "default" and seen["session_id"] == "abc" and seen["token_count"] == 1


async def test_custom_router_missing_file(make_client, fake, tmp_path):
    client = await make_client(config(fake, CUSTOM_ROUTER_PATH=str(tmp_path / "absent.py")))
    assert await routed_model(client, fake, {"model": "claude-x", "messages": USER}) == "default-m"


def make_project(home: Path, project: str, session: str) -> Path:
    folder = home / ".claude" / "projects" / project
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{session}.jsonl").write_text("{}\n")
    return folder


async def test_project_and_session_routes(make_client, fake, isolated_home, tmp_path):
    client = await make_client(config(fake))

    async def routed(body, client, fake, headers=None):
        return await routed_model(client, fake, body, headers)

    ccr_home = tmp_path / "ccr"  # make_client writes the config there
    make_project(isolated_home, "-home-user-proj", "sess-1")
    make_project(isolated_home, "-home-user-proj", "sess-2")
    (ccr_home / "-home-user-proj").mkdir()
    (ccr_home / "-home-user-proj" / "config.json").write_text(json.dumps({"Router": {"default": "fake,proj-m"}}))
    (ccr_home / "-home-user-proj" / "sess-2.json").write_text(json.dumps({"Router": {"default": "fake,sess-m"}}))
    json_form = {"device_id": "d", "account_uuid": "", "session_id": "sess-1"}
    assert await routed({"model": "claude-x", "messages": USER, "metadata": {"user_id": json.dumps(json_form)}}, client, fake) == "proj-m"
    legacy = {"metadata": {"user_id": "user_x_account__session_sess-2"}}
    assert await routed({"model": "claude-x", "messages": USER, **legacy}, client, fake) == "sess-m"
    header = {"X-Claude-Code-Session-Id": "sess-1"}
    assert await routed({"model": "claude-x", "messages": USER}, client, fake, header) == "proj-m"
    # global rules the project does not override still apply
    assert await routed({"model": "claude-haiku", "messages": USER}, client, fake, header) == "bg-m"
    assert await routed({"model": "claude-x", "messages": USER}, client, fake, {"X-Claude-Code-Session-Id": "../x"}) == "default-m"




async def test_claude_code_fixture_routes_to_think_with_ccr_rule(make_client, fake):
    router = {**ROUTER, "longContextThreshold": 60000, "thinkWhen": "thinking"}
    client = await make_client({"Providers": [provider_config(fake, models=MODELS)], "Router": router})
    body = json.loads((FIXTURES / "claude-code-2.1.328-first-turn.json").read_text())
    body["stream"] = False
    assert await routed_model(client, fake, body) == "think-m"  # adaptive thinking


async def test_rewrite_system_prompt(make_client, fake, tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("CUSTOM PROMPT ")
    client = await make_client(config(fake, REWRITE_SYSTEM_PROMPT=str(prompt)))
    system = [{"type": "text", "text": "billing"}, {"type": "text", "text": "Original prompt.\n<env>cwd: /x</env>"}]
    await routed_model(client, fake, {"model": "claude-x", "system": system, "messages": USER})
    sent = json.dumps(fake.requests[-1].body["messages"][0])
    assert "CUSTOM PROMPT <env>cwd: /x</env>" in sent and "Original prompt" not in sent
