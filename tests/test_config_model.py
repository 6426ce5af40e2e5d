"""The config model: one validator for start-up, reload, POST /api/config and `model set`;
every problem with its path in one go; typed values; unknown keys kept on write-back."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from ccr_aio import config_store
from ccr_aio.config import (
    Config,
    ConfigError,
    ConfigInvalid,
    RouterConfig,
    TransformerUse,
    parse_config,
    parse_router_config,
)
from ccr_aio.providers import Provider
from ccr_aio.routing.router import Routing, decide
from ccr_aio.routing.sessions import Sessions
from ccr_aio.routing.tokens import TokenCounter
from ccr_aio.settings import build_settings, load_settings
from ccr_aio.state import STATE
from tests.conftest import base_config, provider_config
from tests.fakes.openai_upstream import completion, json_reply

PACKAGE = Path(__file__).resolve().parents[1] / "ccr_aio"
URL = "http://127.0.0.1:1/v1/chat/completions"
USER = [{"role": "user", "content": "hi"}]


def provider(name: str = "p", **extra: Any) -> dict[str, Any]:
    return {"name": name, "api_base_url": URL, "api_key": "k", "models": ["m"], **extra}


def load(tmp_path: Path, config: Any) -> Any:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return load_settings(path, env={}, create=False)


# -- one parse, typed values ---------------------------------------------------------------------


def test_a_good_config_becomes_typed_frozen_values():
    parsed = parse_config({
        "PORT": "4000", "HOST": "0.0.0.0", "APIKEY": "s", "LOG": False, "LOG_LEVEL": "debug",
        "API_TIMEOUT_MS": 1000, "HTTPS_PROXY": "http://proxy:1", "forceUseImageAgent": True,
        "providers": [{"name": "p", "baseUrl": URL, "apiKey": "key", "models": ["m", "x"],
                       "transformer": {"use": ["openai", ["maxtoken", {"max_tokens": 9}]], "x": {"use": ["tooluse"]}}}],
        "Router": {"default": "p,m", "longContextThreshold": 1000, "mine": {"a": 1}},
        "CUSTOM_ROUTER_PATH": "/r.py", "REWRITE_SYSTEM_PROMPT": "/p.txt", "StatusLine": {"enabled": True},
    })
    config = parsed.value
    assert parsed.problems == () and isinstance(config, Config)
    assert (config.port, config.host, config.apikey, config.log, config.log_level) == (4000, "0.0.0.0", "s", False, "debug")
    assert (config.api_timeout_ms, config.proxy_url, config.force_image_agent) == (1000, "http://proxy:1", True)
    assert (config.custom_router_path, config.rewrite_system_prompt) == ("/r.py", "/p.txt")
    (p,) = config.providers
    assert (p.name, p.api_base_url, p.api_key, p.api_keys, p.models) == ("p", URL, "key", ("key",), ("m", "x"))
    assert p.transformer.use == (TransformerUse("openai"), TransformerUse("maxtoken", {"max_tokens": 9}))
    assert p.transformer.models["x"] == (TransformerUse("tooluse"),)
    assert config.router.default == "p,m" and config.router.threshold == 1000 and config.router.extra == {"mine": {"a": 1}}
    assert config.provider("P") is p
    with pytest.raises(AttributeError):
        config.port = 1  # type: ignore[misc]


def test_null_means_not_set():
    config = parse_config({"PORT": None, "Providers": [provider(models=None, transformer=None)],
                           "Router": None, "transformers": None}).value
    assert config is not None and config.port is None and config.router == RouterConfig()
    assert config.providers[0].models == () and config.plugins == ()


# -- every problem, with its path, in one answer ----------------------------------------------


def test_every_problem_comes_with_its_path():
    parsed = parse_config({
        "PORT": "abc", "HOST": 1, "API_TIMEOUT_MS": -5, "PROXY_URL": ["x"], "CUSTOM_ROUTER_PATH": 3,
        "Providers": [provider(), provider("P", api_key=5), {"name": "q", "models": "m"}],
        "Router": {"think": "nocomma", "image": 1, "longContextThreshold": "big"},
        "transformers": [{"path": ""}, 7],
    })
    assert parsed.value is None
    assert [p.path for p in parsed.problems] == [
        "Providers[1].name", "Providers[1].api_key", "Providers[2].api_base_url", "Providers[2].models",
        "Router.think", "Router.image", "Router.longContextThreshold", "transformers[0].path", "transformers[1]",
        "PORT", "HOST", "API_TIMEOUT_MS", "PROXY_URL", "CUSTOM_ROUTER_PATH",
    ]
    # Messages name the place as people read it: with the provider's name.
    assert [p.message for p in parsed.problems][:4] == [
        "Providers[1] (P): duplicate provider name (as Providers[0] (p); case does not count)",
        "Providers[1] (P).api_key must be a string, got a number",
        "Providers[2] (q).api_base_url is required (the full endpoint URL)",
        "Providers[2] (q).models must be an array of strings",
    ]
    assert all(p.message.startswith(p.path.split("[")[0].split(".")[0]) for p in parsed.problems)


def test_start_up_lists_every_problem_at_once(tmp_path: Path):
    with pytest.raises(ConfigInvalid) as info:
        load(tmp_path, {"PORT": 0, "Providers": [{"name": "x"}], "Router": {"default": 5}})
    assert [p.path for p in info.value.problems] == ["Providers[0].api_base_url", "Router.default", "PORT"]
    assert str(info.value).startswith(str(tmp_path / "config.json") + ": Providers[0] (x).api_base_url is required")


def test_duplicate_provider_names_are_refused_at_load_too(tmp_path: Path):
    config = {"Providers": [provider("Dup"), provider("dup")]}
    with pytest.raises(ConfigError, match=r"Providers\[1\] \(dup\): duplicate provider name"):
        load(tmp_path, config)
    assert any("Providers[1] (dup): duplicate provider name" in m for m in config_store.validate(config))


# -- the same verdict everywhere ----------------------------------------------------------------

REFUSED = [
    ({"Providers": [provider("a"), provider("A")]}, "duplicate provider name"),
    ({"Providers": [provider(api_base_url=" ")]}, "Providers[0] (p).api_base_url is required"),
    ({"Providers": [provider(transformer={"use": [["openai", "opts"]]})]}, "transformer.use[0] must be a name"),
    ({"Router": {"default": "no-comma"}}, 'Router.default must be "provider,model"'),
    ({"Router": {"longContextThreshold": "60000"}}, "Router.longContextThreshold must be a number"),
    ({"PORT": 70000}, "PORT must be a port number (1-65535)"),
    ({"APIKEY": 42}, "APIKEY must be a string"),
    ({"API_TIMEOUT_MS": "soon"}, "API_TIMEOUT_MS must be a number"),
    ({"transformers": {"path": "x.py"}}, "transformers must be an array"),
]


@pytest.mark.parametrize("change, message", REFUSED)
async def test_post_and_start_up_refuse_the_same_configs_with_the_same_words(make_client, fake, tmp_path, change, message):
    config = {**base_config(fake), **change}
    with pytest.raises(ConfigError) as info:
        load(tmp_path, config)
    assert message in str(info.value)
    client = await make_client(base_config(fake))
    response = await client.post("/api/config", json=config)
    assert response.status == 400
    posted = (await response.json())["error"]["message"]
    assert posted.startswith("Invalid config, nothing saved: ") and message in posted
    assert posted.removeprefix("Invalid config, nothing saved: ") == str(info.value).split(": ", 1)[1]


async def test_post_and_start_up_accept_the_same_config(make_client, fake, tmp_path):
    config = base_config(fake, PORT="3999", LOG=False, Router={"default": "fake,fake-model", "": "odd key"})
    config["Providers"][0]["transformer"] = {"use": [["maxtoken", None]], "fake-model": None}
    settings = load(tmp_path, config)
    assert settings.port == 3999 and settings.problems == ()
    client = await make_client(base_config(fake))
    assert (await client.post("/api/config", json=config)).status == 200


async def test_a_broken_plugin_entry_is_skipped_at_load_and_refused_by_a_save(make_client, fake, tmp_path):
    config = base_config(fake, transformers=[{"path": "  "}])
    settings = load(tmp_path, config)  # a load must not fail on one plugin entry (like a plugin that fails to import)
    assert [p.path for p in settings.problems] == ["transformers[0].path"]
    assert settings.config.plugins[0].problem and "`path` is missing" in settings.config.plugins[0].problem
    client = await make_client(base_config(fake))
    response = await client.post("/api/config", json=config)
    assert response.status == 400
    assert "transformers[0].path is required" in (await response.json())["error"]["message"]


def test_model_set_goes_through_the_same_validator(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"Providers": [provider()], "Router": {}}))

    def bad(raw: dict[str, Any]) -> None:
        raw["Router"]["think"] = "p"

    with pytest.raises(ValueError, match='Router.think must be "provider,model"'):
        config_store.update(path, bad)
    assert json.loads(path.read_text())["Router"] == {}


# -- write-back keeps what the model does not know -------------------------------------------


@pytest.mark.in_process  # reads the app's running config
async def test_unknown_keys_survive_post_and_update(make_client, fake):
    client = await make_client(base_config(fake))
    config = base_config(fake, StatusLine={"enabled": True}, NON_INTERACTIVE_MODE=True,
                         Router={"default": "fake,fake-model", "custom": {"weights": [1, 2]}})
    config["Providers"][0].update(note="mine", api_key="$NOT_SET_ANYWHERE")
    assert (await client.post("/api/config", json=config)).status == 200
    path = client.app[STATE].current.settings.config_path
    assert json.loads(path.read_text()) == config
    assert client.app[STATE].current.settings.raw == config

    def think(raw: dict[str, Any]) -> None:
        raw["Router"]["think"] = "fake,Other-Model"

    config_store.update(path, think)
    stored = json.loads(path.read_text())
    assert stored == {**config, "Router": {**config["Router"], "think": "fake,Other-Model"}}


# -- routing reads typed values; user code still gets a plain dict ----------------------------


async def test_custom_router_receives_the_interpolated_config_as_a_plain_dict(make_client, fake, tmp_path):
    seen = tmp_path / "seen.json"
    source = (f"import json, pathlib\ndef router(request, config, context):\n"
              f"    pathlib.Path({str(seen)!r}).write_text(json.dumps(config))\n    return None\n")
    (tmp_path / "r.py").write_text(source)
    config = base_config(fake, CUSTOM_ROUTER_PATH=str(tmp_path / "r.py"), Extra={"who": "$WHO"})
    client = await make_client(config, env={"WHO": "me"})
    fake.queue(json_reply(completion("ok")))
    response = await client.post("/v1/messages", json={"model": "x", "max_tokens": 5, "messages": USER})
    assert response.status == 200
    assert json.loads(seen.read_text()) == {**config, "Extra": {"who": "me"}}


async def test_decide_needs_no_app_state(tmp_path: Path):
    p = Provider(name="p", api_base_url=URL, models=("m", "big"))
    router = parse_router_config({"default": "p,m", "longContext": "p,big", "longContextThreshold": 5}).value
    assert router is not None
    routing = Routing(router=router, providers={"p": p}, home=tmp_path)
    long_body = {"model": "claude-x", "messages": [{"role": "user", "content": "word " * 50}]}
    route = await decide(long_body, {}, routing, Sessions(tmp_path), TokenCounter(), 10_000)
    assert (route.provider, route.model, route.scenario) == (p, "big", "longContext")
    route = await decide({"model": "claude-x", "messages": USER}, {}, routing, Sessions(tmp_path), TokenCounter(), 10)
    assert (route.model, route.scenario) == ("m", "default")


def test_a_project_router_replaces_only_the_keys_it_sets():
    base = parse_router_config({"default": "p,a", "think": "p,t", "longContextThreshold": 10}).value
    top = parse_router_config({"default": "p,b", "think": "", "x": 1}).value
    assert base is not None and top is not None
    merged = base.overlay(top)
    assert (merged.default, merged.think, merged.threshold, dict(merged.extra)) == ("p,b", "", 10, {"x": 1})


@pytest.mark.in_process  # reads the app's log events
async def test_a_broken_project_router_is_skipped_with_a_warning(make_client, fake, isolated_home, tmp_path):
    config = {"Providers": [provider_config(fake)], "Router": {"default": "fake,fake-model"}}
    client = await make_client(config)
    folder = isolated_home / ".claude" / "projects" / "-proj"
    folder.mkdir(parents=True)
    (folder / "s-1.jsonl").write_text("{}\n")
    (tmp_path / "ccr" / "-proj").mkdir()
    (tmp_path / "ccr" / "-proj" / "s-1.json").write_text(json.dumps({"Router": {"default": "fake"}}))
    (tmp_path / "ccr" / "-proj" / "config.json").write_text(json.dumps({"Router": {"default": "fake,Other-Model"}}))
    fake.queue(json_reply(completion("ok")))
    with capture_logs() as logs:
        response = await client.post("/v1/messages", json={"model": "x", "max_tokens": 5, "messages": USER},
                                     headers={"X-Claude-Code-Session-Id": "s-1"})
    assert response.status == 200 and fake.requests[-1].body["model"] == "Other-Model"  # the project's
    (warning,) = [e for e in logs if e["event"] == "project_router_invalid"]
    assert "s-1.json" in warning["path"] and 'Router.default must be "provider,model"' in warning["error"]


# -- the model is a leaf; routing does not reach back into the app state -----------------------


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


# The one exception: `pricing` is checked by the records' own price parser (a stdlib-only
# module of the leaf package below the config), so a price means the same at load and at use.
CONFIG_MAY_IMPORT = {"..records.pricing"}


def test_the_config_package_imports_nothing_else_of_ccr_aio_and_routing_not_the_state():
    for path in (PACKAGE / "config").glob("*.py"):
        outside = {m for m in _imports(path) if m.startswith("..") or m.startswith("ccr_aio")}
        assert outside - CONFIG_MAY_IMPORT == set(), (path.name, outside)
    for path in (PACKAGE / "routing").glob("*.py"):
        assert not {m for m in _imports(path) if m in ("..state", "ccr_aio.state")}, path.name


def test_build_settings_refuses_and_keeps_raw_untouched(tmp_path: Path):
    raw = {"Providers": [provider(api_key="$KEY")], "Router": {"default": "p,m"}, "Mine": [1]}
    settings = build_settings(raw, tmp_path / "c.json", env={"KEY": "secret"})
    assert settings.raw is raw and settings.raw["Providers"][0]["api_key"] == "$KEY"
    assert settings.config.providers[0].api_key == "secret" and settings.interpolated["Mine"] == [1]
