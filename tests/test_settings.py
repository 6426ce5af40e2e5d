"""Config loading: JSON5, interpolation, first run, overrides, binding rules, broken files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccr_aio.config import RouterConfig
from ccr_aio.providers import build_providers
from ccr_aio.settings import ConfigError, build_settings, interpolate, load_settings
from ccr_aio.transformers import BUILTINS

PROVIDER = {"name": "p", "api_base_url": "http://127.0.0.1:1/v1/chat/completions", "api_key": "$KEY", "models": ["m"]}


def test_interpolation_everywhere_and_unset_left_alone():
    env = {"KEY": "secret", "HOST_PART": "example"}
    tree = {"a": "$KEY", "b": ["x-${KEY}-y", {"c": "${HOST_PART}.com/$MISSING"}], "n": 3}
    assert interpolate(tree, env) == {"a": "secret", "b": ["x-secret-y", {"c": "example.com/$MISSING"}], "n": 3}


def test_json5_with_comments_and_trailing_commas(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text('{\n  // my providers\n  Providers: [{name: "p", api_base_url: "http://x", models: ["m"],},],\n  Router: {default: "p,m",},\n}')
    settings = load_settings(path, env={})
    assert settings.config.providers[0].name == "p"
    assert settings.config.router == RouterConfig(default="p,m")


def test_raw_keeps_var_references(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"Providers": [PROVIDER]}))
    settings = load_settings(path, env={"KEY": "secret"})
    assert settings.raw["Providers"][0]["api_key"] == "$KEY"
    assert settings.config.providers[0].api_key == "secret"


def test_first_run_creates_home_and_default_config(tmp_path: Path):
    path = tmp_path / "home" / ".claude-code-router" / "config.json"
    settings = load_settings(path, env={})
    assert json.loads(path.read_text()) == {"PORT": 3456, "Providers": [], "Router": {}}
    assert (path.parent / "logs").is_dir() and (path.parent / "plugins").is_dir()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert settings.port == 3456


def test_ccr_config_env_names_the_file(tmp_path: Path):
    path = tmp_path / "elsewhere.json"
    path.write_text(json.dumps({"PORT": 4000, "Providers": [PROVIDER]}))
    assert load_settings(env={"CCR_CONFIG": str(path)}).port == 4000


def test_env_and_cli_overrides(tmp_path: Path):
    raw = {"PORT": 1000, "APIKEY": "file-key", "LOG_LEVEL": "debug", "Providers": [PROVIDER]}
    settings = build_settings(raw, tmp_path / "c.json", env={"PORT": "2000", "APIKEY": "env-key", "LOG_LEVEL": "warn"})
    assert (settings.port, settings.apikey, settings.log_level) == (2000, "env-key", "warn")
    settings = build_settings(raw, tmp_path / "c.json", env={"PORT": "2000"}, overrides={"PORT": 3000})
    assert settings.port == 3000
    assert build_settings(raw, tmp_path / "c.json", env={"SERVICE_PORT": "5000"}).port == 5000


def test_binding_rules(tmp_path: Path):
    path = tmp_path / "c.json"
    locked = build_settings({"HOST": "0.0.0.0", "Providers": [PROVIDER]}, path, env={})
    assert locked.host == "127.0.0.1" and locked.warnings
    keyed = build_settings({"HOST": "0.0.0.0", "APIKEY": "k", "Providers": [PROVIDER]}, path, env={})
    assert keyed.host == "0.0.0.0"
    empty = build_settings({"HOST": "127.0.0.1"}, path, env={})
    assert empty.host == "0.0.0.0" and "NO authentication" in empty.warnings[0]


def test_broken_config_names_file_line_and_column(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "PORT": 3456,\n  "Router": {default: }\n}')
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    message = str(info.value)
    assert str(path) in message and "line 3" in message


@pytest.mark.parametrize("text, fragment", [
    ("[1, 2]", "top level must be an object"),
    ('{"Providers": {}}', "Providers must be a list"),
    ('{"PORT": "abc"}', "PORT must be a number"),
])
def test_config_shape_errors(tmp_path: Path, text: str, fragment: str):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_settings(path, env={})


def test_provider_chains_with_options_and_per_model_use(tmp_path: Path):
    entry = {**PROVIDER, "models": ["m", "claude-x"], "transformer": {
        "use": [["Anthropic", {"UseBearer": True}]], "claude-x": {"use": ["openai"]}}}
    settings = build_settings({"Providers": [entry]}, tmp_path / "c.json", env={"KEY": "k"})
    provider = build_providers(settings, BUILTINS)["p"]
    assert provider.chain[0].name == "Anthropic" and provider.chain[0].options == {"UseBearer": True}
    assert [t.name for t in provider.model_chain("claude-x")] == ["OpenAI"]
    assert provider.api_key == "k"


def test_unknown_transformer_is_a_startup_error(tmp_path: Path):
    entry = {**PROVIDER, "transformer": {"use": ["no-such-thing"]}}
    settings = build_settings({"Providers": [entry]}, tmp_path / "c.json", env={})
    with pytest.raises(ConfigError, match="unknown transformer 'no-such-thing'"):
        build_providers(settings, BUILTINS)


ALL_BUILTINS = [
    "Anthropic", "OpenAI", "openai-responses", "deepseek", "reasoning", "openrouter", "vercel", "groq",
    "tooluse", "enhancetool", "maxtoken", "maxcompletiontokens", "sampling", "cleancache", "customparams",
    "streamoptions", "cerebras", "forcereasoning", "extrathinktag", "gemini", "vertex-gemini",
    "vertex-claude", "vertex-openai",
]


def test_a_config_naming_every_builtin_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from ccr_aio.state import build_snapshot

    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "key.json"))
    providers = [
        {"name": f"p{i}", "api_base_url": "http://127.0.0.1:1/x", "api_key": "k", "models": ["m"],
         "transformer": {"use": [name.upper() if i % 2 else name]}}  # names are case-insensitive
        for i, name in enumerate(ALL_BUILTINS)
    ]
    snapshot = build_snapshot(build_settings({"Providers": providers}, tmp_path / "c.json", env={}))
    assert [p.chain[0].name for p in snapshot.providers.values()] == ALL_BUILTINS
    assert {name.lower() for name, _ in snapshot.registry.names()} >= {n.lower() for n in ALL_BUILTINS}
