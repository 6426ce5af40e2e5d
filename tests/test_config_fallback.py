"""The config model's `fallback` section and key pools: typed values, every problem with its
path, the same words at start-up and on POST /api/config, `$VAR` keys and unknown keys kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ccr_aio.config import FALLBACK_SCENARIOS, ConfigError, parse_config
from ccr_aio.resilience import SCENARIOS
from ccr_aio.settings import build_settings, load_settings
from tests.admin_helpers import config_path
from tests.conftest import base_config

URL = "http://127.0.0.1:1/v1/chat/completions"


def providers() -> list[dict[str, Any]]:
    return [
        {"name": "DeepSeek", "api_base_url": URL, "api_key": ["$DS_KEY_1", "$DS_KEY_2"],
         "models": ["deepseek-chat", "deepseek-reasoner"]},
        {"name": "openrouter", "api_base_url": URL, "api_key": "$OR_KEY", "models": ["z-ai/glm-4.6"]},
    ]


def test_a_key_pool_and_a_fallback_section_become_typed_values():
    parsed = parse_config({
        "Providers": providers(),
        "Router": {"default": "deepseek,deepseek-chat"},
        "fallback": {
            "default": ["OpenRouter,Z-AI/GLM-4.6"],
            "deepseek,DEEPSEEK-REASONER": ["openrouter,z-ai/glm-4.6", "deepseek,deepseek-chat"],
            "think": [],  # "no fallback for this one"
            "custom": None,  # not set
        },
    })
    config = parsed.value
    assert parsed.problems == () and config is not None
    assert config.providers[0].api_keys == ("$DS_KEY_1", "$DS_KEY_2")
    assert config.providers[0].api_key == "$DS_KEY_1"
    # Stored in the configured spelling, so health records and the report use one name.
    assert dict(config.fallback) == {
        "default": ("openrouter,z-ai/glm-4.6",),
        "DeepSeek,deepseek-reasoner": ("openrouter,z-ai/glm-4.6", "DeepSeek,deepseek-chat"),
        "think": (),
    }
    with pytest.raises(TypeError):
        config.fallback["default"] = ()  # type: ignore[index]


def test_no_fallback_section_means_none():
    config = parse_config({"Providers": providers()}).value
    assert config is not None and dict(config.fallback) == {}


def test_every_fallback_and_key_pool_problem_comes_with_its_path():
    entries = providers()
    entries[1]["api_key"] = ["k1", "", "k1", 7]
    parsed = parse_config({"Providers": [entries[0]], "fallback": {
        "default": ["openrouter,z-ai/glm-4.6", "deepseek,nope", "nocomma", 5],
        "defualt": ["deepseek,deepseek-chat"],
        "ghost,model": ["deepseek,deepseek-chat"],
        "think": "deepseek,deepseek-chat",
    }})
    assert parsed.value is None
    assert [(p.path, p.message) for p in parsed.problems] == [
        ("fallback.default[0]", "fallback.default[0]: names provider 'openrouter', which is not in Providers"),
        ("fallback.default[1]",
         "fallback.default[1]: names model 'nope', which is not in the models of provider 'DeepSeek'"),
        ("fallback.default[2]", "fallback.default[2] must be \"provider,model\", got 'nocomma'"),
        ("fallback.default[3]", 'fallback.default[3] must be a string "provider,model", got a number'),
        ("fallback.defualt", "fallback.defualt: is not a scenario (default, background, think, longContext, "
                             'webSearch, image, model, explicit, subagent, custom) or "provider,model"'),
        ("fallback.ghost,model", "fallback.ghost,model: names provider 'ghost', which is not in Providers"),
        ("fallback.think", 'fallback.think must be an array of "provider,model" strings, got a string'),
    ]
    pool = parse_config({"Providers": [entries[1]]})
    assert [(p.path, p.message) for p in pool.problems] == [
        ("Providers[0].api_key[1]", "Providers[0] (openrouter).api_key[1] must be a non-empty string"),
        ("Providers[0].api_key[2]",
         "Providers[0] (openrouter).api_key[2] is the same key as api_key[0] (a pool needs different keys)"),
        ("Providers[0].api_key[3]", "Providers[0] (openrouter).api_key[3] must be a non-empty string, got a number"),
    ]
    assert "k1" not in " ".join(str(p) for p in pool.problems)  # a key is named by its place only
    wrong = parse_config({"Providers": [{**entries[1], "api_key": {"a": 1}}]}).problems
    assert [str(p) for p in wrong] == [
        "Providers[0] (openrouter).api_key must be a string, got an object (or an array of strings: a key pool)"]


def test_names_are_not_checked_against_providers_that_have_problems_of_their_own():
    entries = providers()
    entries[1]["models"] = "z-ai/glm-4.6"  # a problem: this provider is left out of the list
    parsed = parse_config({"Providers": entries, "fallback": {"default": ["openrouter,z-ai/glm-4.6"]}})
    assert [p.path for p in parsed.problems] == ["Providers[1].models"]


def test_the_config_and_the_resilience_package_agree_on_the_scenarios():
    assert FALLBACK_SCENARIOS == SCENARIOS


async def test_post_and_start_up_refuse_a_bad_fallback_with_the_same_words(make_client, fake, tmp_path: Path):
    config = base_config(fake, fallback={"default": ["fake,missing-model"]})
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={}, create=False)
    message = "fallback.default[0]: names model 'missing-model', which is not in the models of provider 'fake'"
    assert message in str(info.value)
    client = await make_client(base_config(fake))
    response = await client.post("/api/config", json=config)
    assert response.status == 400
    assert (await response.json())["error"]["message"] == f"Invalid config, nothing saved: {message}"


async def test_a_key_pool_of_var_references_is_shown_and_written_back_as_written(make_client, fake):
    client = await make_client(base_config(fake))
    config = base_config(fake, fallback={"default": ["fake,Other-Model"]}, Mine={"kept": True})
    config["Providers"][0].update(api_key=["$POOL_KEY_A", "${POOL_KEY_B}"], note="mine")
    assert (await client.post("/api/config", json=config)).status == 200
    path = config_path(client)
    assert json.loads(path.read_text()) == config
    shown = await (await client.get("/api/config")).json()
    assert shown["Providers"][0]["api_key"] == ["$POOL_KEY_A", "${POOL_KEY_B}"]
    assert shown["fallback"] == {"default": ["fake,Other-Model"]} and shown["Mine"] == {"kept": True}


def test_pool_keys_are_interpolated_each(tmp_path: Path):
    raw = {"Providers": providers(), "Router": {"default": "deepseek,deepseek-chat"}}
    settings = build_settings(raw, tmp_path / "c.json", env={"DS_KEY_1": "one-secret", "DS_KEY_2": "two-secret"})
    assert settings.config.providers[0].api_keys == ("one-secret", "two-secret")
    assert settings.raw["Providers"][0]["api_key"] == ["$DS_KEY_1", "$DS_KEY_2"]
