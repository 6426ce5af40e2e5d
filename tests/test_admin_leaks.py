"""What a save through the admin API may not do: echo values from the environment, point the
server at files outside the config directory, or get a non-transformer class constructed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ccr_aio.plugins import load_plugins
from ccr_aio.settings import build_settings, load_settings
from ccr_aio.state import STATE
from ccr_aio.transformers import BUILTINS
from tests.admin_helpers import config_path, refused
from tests.conftest import base_config

SECRET = "s3cr3t-from-the-environment-4242"


async def test_errors_quote_dollar_values_as_written_never_the_environment(make_client, fake, monkeypatch):
    monkeypatch.setenv("CCR_TEST_SECRET", SECRET)  # what an in-process app's saves read
    client = await make_client(base_config(fake), env={"CCR_TEST_SECRET": SECRET})
    for change in ({"PORT": "$CCR_TEST_SECRET"}, {"PORT": "${CCR_TEST_SECRET}x"}, {"API_TIMEOUT_MS": "$CCR_TEST_SECRET"},
                   {"Router": {"default": "$CCR_TEST_SECRET"}}, {"ALLOWED_HOSTS": ["$CCR_TEST_SECRET/x"]}):
        message = await refused(client, base_config(fake, **change))
        assert SECRET not in message and "CCR_TEST_SECRET" in message, message
    config = base_config(fake)
    config["Providers"][0]["transformer"] = {"use": [["$CCR_TEST_SECRET", 1]]}
    message = await refused(client, config)
    assert SECRET not in message and "$CCR_TEST_SECRET" in message
    config["Providers"][0]["transformer"] = {"use": ["$CCR_TEST_SECRET"]}  # a name no transformer has
    message = await refused(client, config)
    assert SECRET not in message and "unknown transformer '$CCR_TEST_SECRET'" in message


async def test_warnings_quote_dollar_values_as_written(make_client, fake, monkeypatch):
    monkeypatch.setenv("CCR_TEST_SECRET", "gone," + SECRET)
    client = await make_client(base_config(fake), env={"CCR_TEST_SECRET": "gone," + SECRET})
    response = await client.post("/api/config", json=base_config(fake, Router={"default": "$CCR_TEST_SECRET"}))
    answer = await response.json()
    assert response.status == 200 and SECRET not in json.dumps(answer)
    assert "Router.default '$CCR_TEST_SECRET' is not a configured provider,model" in answer["warnings"]


def test_start_up_errors_quote_dollar_values_as_written(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"PORT": "$CCR_TEST_SECRET", "Providers": []}))
    with pytest.raises(Exception) as info:
        load_settings(path, env={"CCR_TEST_SECRET": SECRET}, create=False)
    assert SECRET not in str(info.value) and "'$CCR_TEST_SECRET'" in str(info.value)


def test_a_plugin_load_error_names_the_path_as_written(tmp_path: Path):
    settings = build_settings({"transformers": [{"path": "$CCR_PLUGINS/p.py"}]}, tmp_path / "config.json",
                              {"CCR_PLUGINS": "/nowhere/" + SECRET})
    _, errors = load_plugins(settings, BUILTINS)
    assert errors == ["transformer plugin $CCR_PLUGINS/p.py: no such file: $CCR_PLUGINS/p.py"]


# ---------------------------------------------------------------- files the config names


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A readable file outside the config directory (the config lives in tmp_path/ccr)."""
    path = tmp_path / "private" / "id_key"
    path.parent.mkdir()
    path.write_text("PRIVATE KEY MATERIAL")
    return path


async def test_a_save_cannot_point_the_prompt_or_code_at_files_elsewhere(make_client, fake, outside, tmp_path):
    client = await make_client(base_config(fake))
    home = config_path(client).parent
    (outside.parent / "router.py").write_text("def router(r, c, x):\n    return None\n")
    (home / "link.txt").symlink_to(outside)  # inside by name, outside for real
    for change in (
        {"REWRITE_SYSTEM_PROMPT": str(outside)},
        {"REWRITE_SYSTEM_PROMPT": str(home / ".." / "private" / "id_key")},
        {"REWRITE_SYSTEM_PROMPT": str(home / "link.txt")},
        {"REWRITE_SYSTEM_PROMPT": "/etc/hostname"},
        {"CUSTOM_ROUTER_PATH": str(outside.parent / "router.py")},
        {"CUSTOM_ROUTER_PATH": str(home / "config.json")},  # inside, but not code
        {"transformers": [{"path": str(outside.parent / "router.py")}]},
        {"transformers": [{"path": "../private/router.py"}]},  # relative to the config directory
        {"transformers": [{"path": "subprocess:Popen", "options": {"touch": 0, str(tmp_path / "ran"): 0}}]},
    ):
        message = await refused(client, base_config(fake, **change))
        assert "Config not saved" in message and ("inside" in message or "module reference" in message), message
    assert not (tmp_path / "ran").exists()


@pytest.mark.in_process  # sets the app's environment mid-test and reads its prompt
async def test_a_save_may_name_files_in_the_config_directory(make_client, fake):
    client = await make_client(base_config(fake))
    home = config_path(client).parent
    (home / "prompt.md").write_text("CUSTOM PROMPT")
    (home / "plugins" / "router.py").parent.mkdir(exist_ok=True)
    (home / "plugins" / "router.py").write_text("def router(r, c, x):\n    return None\n")
    config = base_config(fake, REWRITE_SYSTEM_PROMPT=str(home / "prompt.md"),
                         CUSTOM_ROUTER_PATH="$CCR_HOME_FOR_TEST/plugins/router.py")
    os.environ["CCR_HOME_FOR_TEST"] = str(home)
    try:
        response = await client.post("/api/config", json=config)
    finally:
        del os.environ["CCR_HOME_FOR_TEST"]
    assert response.status == 200, await response.text()
    assert client.app[STATE].current.system_prompt == "CUSTOM PROMPT"


async def test_a_save_keeps_what_the_file_already_names(make_client, fake, outside):
    """The file is the user's own: a value written there by hand survives a save from the UI."""
    config = base_config(fake, REWRITE_SYSTEM_PROMPT=str(outside), transformers=[{"path": "my_package.transformers:Redactor"}])
    client = await make_client(config)
    response = await client.post("/api/config", json={**config, "Marker": 1})
    assert response.status == 200, await response.text()
    message = await refused(client, {**config, "REWRITE_SYSTEM_PROMPT": str(outside) + "2"})
    assert "REWRITE_SYSTEM_PROMPT" in message


def test_a_named_class_must_be_a_transformer_before_it_is_built(tmp_path: Path):
    marker = tmp_path / "ran"
    settings = build_settings({"transformers": [{"path": "subprocess:Popen", "options": {"touch": 0, str(marker): 0}}]},
                              tmp_path / "config.json", {})
    _, errors = load_plugins(settings, BUILTINS)
    assert len(errors) == 1 and "subprocess.Popen is not a transformer class" in errors[0]
    assert not marker.exists()
