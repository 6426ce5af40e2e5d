"""The opt-in merge of a preset into config.json: every strategy against a provider name
collision, a Router conflict, a transformer path collision and another key (spec §5), and the
write through the config validator with a backup."""

from __future__ import annotations

import copy
import json

import pytest

from ccr_aio import config_store
from ccr_aio.presets.merge import Ask, merge_config, merge_into_file
from ccr_aio.presets.store import PresetError

BASE = {
    "PORT": 3456, "APIKEY": "mine", "HOST": "127.0.0.1",
    "Providers": [{"name": "ds", "api_base_url": "https://old", "api_key": "sk-old", "models": ["a", "b"],
                   "transformer": {"use": ["deepseek", ["maxtoken", {"max_tokens": 10}]]}}],
    "Router": {"default": "ds,a", "think": None},
    "transformers": [{"path": "/p/one.py", "options": {"v": 1}}],
    "StatusLine": {"enabled": False},
}
PRESET = {
    "PORT": 9999, "APIKEY": "theirs", "HOST": "0.0.0.0",
    "Providers": [{"name": "DS", "api_base_url": "https://new", "api_key": "sk-new", "models": ["b", "c"],
                   "transformer": {"use": ["deepseek", "tooluse", ["maxtoken", {"max_tokens": 10}]]}},
                  {"name": "fresh", "api_base_url": "https://f", "models": ["x"]}],
    "Router": {"default": "fresh,x", "think": "fresh,x", "background": "fresh,x"},
    "transformers": [{"path": "/p/one.py", "options": {"v": 2}}, {"path": "/p/two.py"}],
    "StatusLine": {"enabled": True},
}


def merged(strategy: str, ask: Ask | None = None) -> dict:
    return merge_config(BASE, PRESET, strategy, ask)


@pytest.mark.parametrize("strategy", ["overwrite", "merge", "skip", "ask"])
def test_new_entries_are_added_under_every_strategy(strategy):
    result = merged(strategy)
    assert [p["name"].lower() for p in result["Providers"]] == ["ds", "fresh"]
    assert result["Router"]["think"] == "fresh,x" and result["Router"]["background"] == "fresh,x"
    assert [t["path"] for t in result["transformers"]] == ["/p/one.py", "/p/two.py"]


def test_overwrite():
    result = merged("overwrite")
    assert result["Providers"][0]["api_base_url"] == "https://new"
    assert result["Router"]["default"] == "fresh,x"
    assert result["transformers"][0]["options"] == {"v": 2}
    assert result["StatusLine"] == {"enabled": True}


def test_merge_keeps_the_existing_provider_and_unions_models_and_use():
    result = merged("merge")
    provider = result["Providers"][0]
    assert provider["api_base_url"] == "https://old" and provider["api_key"] == "sk-old"
    assert provider["models"] == ["a", "b", "c"]
    # names once; [name, options] entries are never deduplicated (CCR's union by identity)
    assert provider["transformer"]["use"] == ["deepseek", ["maxtoken", {"max_tokens": 10}], "tooluse",
                                              ["maxtoken", {"max_tokens": 10}]]
    assert result["Router"]["default"] == "ds,a"
    assert result["transformers"][0]["options"] == {"v": 1}
    assert result["StatusLine"] == {"enabled": False}


def test_skip_changes_no_conflict():
    result = merged("skip")
    assert result["Providers"][0] == BASE["Providers"][0]
    assert result["Router"]["default"] == "ds,a" and result["transformers"][0]["options"] == {"v": 1}
    assert result["StatusLine"] == {"enabled": False}


def test_ask_follows_each_answer_and_without_callbacks_skips():
    asked: list[str] = []
    ask = Ask(provider=lambda name: asked.append(name) or "overwrite",
              router=lambda key, old, new: key == "default",
              transformer=lambda path: False,
              other=lambda key, old, new: key == "StatusLine")
    result = merged("ask", ask)
    assert asked == ["DS"] and result["Providers"][0]["api_base_url"] == "https://new"
    assert result["Router"]["default"] == "fresh,x" and result["transformers"][0]["options"] == {"v": 1}
    assert result["StatusLine"] == {"enabled": True}
    assert merged("ask") == merged("skip")


@pytest.mark.parametrize("strategy", ["overwrite", "merge", "skip", "ask"])
def test_port_host_and_apikey_are_never_replaced_and_the_base_is_not_changed(strategy):
    """[FIX §5] CCR's merge mutated its base and could overwrite PORT/APIKEY."""
    before = copy.deepcopy(BASE)
    result = merge_config(BASE, PRESET, strategy, Ask(other=lambda *a: True))
    assert (result["PORT"], result["APIKEY"], result["HOST"]) == (3456, "mine", "127.0.0.1")
    assert BASE == before
    assert merge_config({}, {"PORT": 1}, strategy)["PORT"] == 1  # added when absent


def test_duplicate_incoming_providers_collapse_to_the_last():
    """[FIX §5] CCR appended both."""
    result = merge_config({}, {"Providers": [{"name": "x", "v": 1}, {"name": "X", "v": 2}]}, "merge")
    assert result["Providers"] == [{"name": "X", "v": 2}]


def test_a_bad_strategy_is_refused():
    with pytest.raises(PresetError, match='Invalid merge strategy "replace"'):
        merge_config({}, {}, "replace")


def test_merging_into_the_file_validates_backs_up_and_keeps_keys(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"Providers": [{"name": "a", "api_base_url": "https://a", "api_key": "$A_KEY",
                                               "models": ["m"]}], "Router": {"default": "a,m"}}))
    manifest = {"name": "p",
                "Providers": [{"name": "b", "api_base_url": "https://b", "api_key": "sk-b", "models": ["n"]}],
                "Router": {"background": "b,n"}, "noServer": True, "schema": []}
    backup = merge_into_file(path, manifest, "merge")
    stored = json.loads(path.read_text())
    assert [p["name"] for p in stored["Providers"]] == ["a", "b"] and stored["Providers"][0]["api_key"] == "$A_KEY"
    assert stored["Router"] == {"default": "a,m", "background": "b,n"}
    assert "noServer" not in stored and "name" not in stored and "schema" not in stored  # [FIX] config part only
    assert backup is not None and backup in config_store.backups(path)


def test_a_merge_that_breaks_the_config_writes_nothing(tmp_path):
    path = tmp_path / "config.json"
    original = json.dumps({"Providers": [], "Router": {}})
    path.write_text(original)
    bad = {"name": "p", "Providers": [{"name": "b", "models": ["n"]}]}  # no api_base_url
    with pytest.raises(PresetError, match="Not merged, config.json unchanged"):
        merge_into_file(path, bad, "overwrite")
    unfilled = {"name": "p", "Providers": [{"name": "b", "api_base_url": "u", "api_key": "{{k}}"}]}
    with pytest.raises(PresetError, match="Fill the preset's inputs"):
        merge_into_file(path, unfilled, "overwrite")
    refuse = {"name": "p", "Router": {"default": "x,y"}}
    with pytest.raises(PresetError, match="would not run"):
        merge_into_file(path, refuse, "overwrite", check=lambda raw: (_ for _ in ()).throw(ValueError("would not run")))
    assert path.read_text() == original and not config_store.backups(path)
