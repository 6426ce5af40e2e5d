"""Presets without I/O: paths, secret detection, export, inputs, apply, launch plans.

Each [FIX] of the presets spec has a test here or in test_presets_{archive,api,cli}.py that
fails on the reference's behaviour; the docstrings name it.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from ccr_aio.presets import export, launch, render, validate
from ccr_aio.presets import inputs as inp
from ccr_aio.presets.fieldpath import get_path, parse_path, set_path
from ccr_aio.presets.manifest import detail, unfilled
from ccr_aio.presets.sensitive import find_secrets, is_sensitive_key, mask
from ccr_aio.presets.store import PresetError, check_name

SPEC_CONFIG = {
    "APIKEY": "s3cret", "PORT": 3456,
    "Providers": [{"name": "deepseek", "api_base_url": "https://api.deepseek.com/chat/completions",
                   "api_key": "sk-abc", "models": ["deepseek-chat"]},
                  {"name": "or", "api_base_url": "https://openrouter.ai/api/v1/chat/completions",
                   "api_key": "sk-or-literal", "models": ["m"]}],
    "Router": {"default": "deepseek,deepseek-chat"},
}
EXAMPLE = {  # the spec's manifest example (§1.1)
    "name": "deepseek-basic", "version": "1.0.0",
    "Providers": [{"name": "deepseek", "api_base_url": "https://api.deepseek.com/anthropic",
                   "api_key": "{{apiKey}}", "models": ["deepseek-chat"]}],
    "Router": {"default": "deepseek,deepseek-chat"}, "noServer": True,
    "claudeCodeSettings": {"env": {"ANTHROPIC_MODEL": "deepseek-chat"}},
    "schema": [{"id": "apiKey", "type": "password", "label": "API Key", "required": True}],
    "configMappings": [{"target": "Providers[0].api_key", "value": "{{apiKey}}"}],
}


def raises(status: int, fragment: str):
    return pytest.raises(PresetError, match=fragment)


# ------------------------------------------------------------------ names and paths


@pytest.mark.parametrize("name", ["..", ".", "a/b", "../x", "market", "install", "UPLOAD", "code", "x.ccrsets",
                                  "", " a", ".hidden", "a" * 65, "a\x00b", "é"])
def test_names_that_could_escape_or_shadow_are_refused(name):
    """[FIX §7-1] one rule for every name; CCR let `..` reach rm -rf."""
    with raises(400, "Invalid preset name"):
        check_name(name)


def test_a_plain_name_is_accepted():
    assert check_name("deepseek-basic_1.2") == "deepseek-basic_1.2"


def test_one_path_grammar_keeps_dashed_keys_whole():
    """[FIX §2] CCR split `x-api-key` into three keys."""
    assert parse_path('headers.x-api-key') == ["headers", "x-api-key"]
    assert parse_path('Providers[0].api_key') == ["Providers", 0, "api_key"]
    assert parse_path('h["a.b"][2]') == ["h", "a.b", 2]


@pytest.mark.parametrize("path", ["__proto__.polluted", "a.constructor", "x[\"prototype\"]", "a..b", "a[x]"])
def test_paths_that_pollute_or_do_not_parse_are_refused(path):
    with pytest.raises(PresetError) as caught:
        parse_path(path)
    assert caught.value.status == 400


def test_set_path_never_grows_lists():
    tree = {"Providers": [{"api_key": ""}]}
    set_path(tree, parse_path("Providers[0].api_key"), "k")
    assert tree["Providers"][0]["api_key"] == "k"
    with raises(400, "out of range"):
        set_path(tree, parse_path("Providers[3].api_key"), "k")
    set_path(tree, parse_path("a.b"), 1)
    assert get_path(tree, ["a", "b"]) == 1


# ------------------------------------------------------------------ secrets and export


def test_detection_is_ccrs_and_more():
    """[FIX §3] *tokens counters are not secrets; auth headers are."""
    assert all(map(is_sensitive_key, ["api_key", "apiKey", "client_secret", "auth_token", "password",
                                      "Authorization", "x-api-key", "Cookie", "api-key"]))
    assert not any(map(is_sensitive_key, ["max_tokens", "maxTokens", "tokenizer", "model", "name"]))


def test_export_names_each_placeholder_after_its_owner():
    """[FIX §3] CCR made every provider key `${CONFIG_API_KEY}`."""
    manifest = export.build(SPEC_CONFIG, "my-config").manifest
    keys = [p["api_key"] for p in manifest["Providers"]]
    assert keys == ["${DEEPSEEK_API_KEY}", "${OR_API_KEY}"]
    assert [s["id"] for s in manifest["schema"]] == ["DEEPSEEK_API_KEY", "OR_API_KEY"]
    assert all(s["type"] == "password" and s["required"] for s in manifest["schema"])
    assert manifest["configMappings"] == [
        {"target": "Providers[0].api_key", "value": "{{DEEPSEEK_API_KEY}}"},
        {"target": "Providers[1].api_key", "value": "{{OR_API_KEY}}"}]
    assert [r["placeholder"] for r in manifest["requiredInputs"]] == ["DEEPSEEK_API_KEY", "OR_API_KEY"]


def test_an_exported_archive_holds_no_secret_byte():
    exported = export.build(SPEC_CONFIG, "my-config")
    data = export.archive_bytes(exported.manifest)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == ["manifest.json"]
        text = zf.read("manifest.json").decode()
    for secret in ("sk-abc", "sk-or-literal", "s3cret"):
        assert secret not in text
    assert exported.sanitized == 2


def test_machine_local_keys_stay_home_unless_asked():
    """[FIX §3-8] CCR exported APIKEY, PORT, HOST..."""
    assert not {"APIKEY", "PORT"} & export.build(SPEC_CONFIG, "x").manifest.keys()
    kept = export.build(SPEC_CONFIG, "x", keep_local=True).manifest
    assert kept["PORT"] == 3456 and kept["APIKEY"] == "${APIKEY}"


def test_references_pools_headers_and_urls():
    """[FIX §3] `$VAR`s stay references (CCR exported the resolved value); every key of a pool
    and every auth header is replaced; a URL keeps all but its credential."""
    config = {"Providers": [
        {"name": "or", "api_base_url": "https://o/v1", "api_key": "$OR_KEY", "models": []},
        {"name": "pool", "api_base_url": "https://u:pw@p/v1?key=AIzaSECRET&x=1", "api_key": ["k-1", "k-2"],
         "models": [], "max_tokens": "4096",
         "transformer": {"use": [["customheaders", {"headers": {"Authorization": "Bearer zz", "x-api-key": "yy",
                                                                "accept": "json"}}]]}}],
        "transformers": [{"path": "/home/me/plug.py", "options": {"token": "tt"}}]}
    exported = export.build(config, "x")
    text = json.dumps(exported.manifest)
    for secret in ("pw@", "AIzaSECRET", "k-1", "k-2", "Bearer zz", '"yy"', '"tt"'):
        assert secret not in text
    pool = exported.manifest["Providers"][1]
    assert pool["api_key"] == ["${POOL_API_KEY}", "${POOL_API_KEY_2}"]
    assert pool["api_base_url"] == "https://u:${POOL_API_BASE_URL_PASSWORD}@p/v1?key=${POOL_API_BASE_URL_KEY}&x=1"
    assert pool["max_tokens"] == "4096"
    headers = pool["transformer"]["use"][0][1]["headers"]
    assert headers == {"Authorization": "${POOL_AUTHORIZATION}", "x-api-key": "${POOL_X_API_KEY}", "accept": "json"}
    assert exported.manifest["transformers"][0]["options"]["token"] == "${PLUG_TOKEN}"
    assert exported.manifest["Providers"][0]["api_key"] == "$OR_KEY"
    reference = next(s for s in exported.manifest["schema"] if s["id"] == "OR_KEY")
    assert reference["required"] is False and reference["defaultValue"] == "$OR_KEY"
    assert any("URL held a credential" in w for w in exported.warnings)
    assert any("loads code from /home/me/plug.py" in w for w in exported.warnings)


def test_placeholder_names_do_not_collide():
    config = {"Providers": [{"name": "a", "api_key": "k1"}, {"name": "A", "api_key": "k2"},
                            {"name": "b", "api_key": "$A_API_KEY_2"}]}
    vars_ = [f.var for f in find_secrets(config)]
    assert vars_ == ["A_API_KEY", "A_API_KEY_3", "A_API_KEY_2"]


def test_include_sensitive_really_keeps_the_secrets():
    """[FIX §3-7] CCR's --include-sensitive still replaced them."""
    exported = export.build(SPEC_CONFIG, "x", include_sensitive=True)
    assert exported.manifest["Providers"][0]["api_key"] == "sk-abc"
    assert "schema" not in exported.manifest and "requiredInputs" not in exported.manifest
    assert any("clear text" in w for w in exported.warnings)


def test_mask_hides_secrets_but_not_references_or_inputs():
    masked = mask({"api_key": "sk-live", "k": "$VAR", "t": "{{apiKey}}", "url": "https://x/?key=abc&y=1",
                   "max_tokens": 5, "pool": {"api_key": ["a", "b"]}})
    assert masked == {"api_key": "********", "k": "$VAR", "t": "{{apiKey}}", "url": "https://x/?key=********&y=1",
                      "max_tokens": 5, "pool": {"api_key": ["********", "********"]}}


# ------------------------------------------------------------------ inputs


def test_an_input_without_type_is_a_password():
    """[FIX §2] CCR declared it so but prompted in clear text."""
    assert inp.input_type({"id": "k"}) == "password"


@pytest.mark.parametrize("condition,values,expected", [
    ({"field": "a", "value": 1}, {"a": 1}, True),
    ({"field": "a", "value": "1"}, {"a": 1}, False),  # strict, as ===
    ({"field": "a", "operator": "ne", "value": 1}, {"a": 2}, True),
    ({"field": "a", "operator": "gt", "value": 1}, {"a": 2}, True),
    ({"field": "a", "operator": "lte", "value": 1}, {"a": 2}, False),
    ({"field": "a", "operator": "in", "value": ["x", "y"]}, {"a": "y"}, True),
    ({"field": "a", "operator": "nin", "value": "xy"}, {"a": "z"}, False),
    ({"field": "a", "operator": "exists"}, {}, False),
    ([{"field": "a", "value": 1}, {"field": "b", "value": 2}], {"a": 1, "b": 3}, False),
])
def test_conditions(condition, values, expected):
    assert inp.condition_holds(condition, values) is expected


def test_validation_messages_are_ccrs():
    number = {"id": "n", "label": "Count", "type": "number", "min": 2, "max": 5}
    assert inp.validate({"id": "k", "label": "Key"}, "") == "Key is required"
    assert inp.validate(number, inp.coerce(number, "x")) == "Count must be a number"
    assert inp.validate(number, 1) == "Count must be at least 2"
    assert inp.validate(number, 6) == "Count must be at most 5"
    assert inp.validate({"id": "k", "validator": "^sk-"}, "nope") == "k format is invalid"
    assert inp.validate({"id": "k", "required": False}, "") is None


def test_inputs_are_asked_after_what_they_depend_on():
    specs = [{"id": "model", "dependsOn": ["provider"]}, {"id": "key", "when": {"field": "provider", "value": "x"}},
             {"id": "provider"}]
    assert [s["id"] for s in inp.ordered(specs)] == ["provider", "model", "key"]


def test_dynamic_options():
    manifest = {"Providers": [{"name": "a", "api_base_url": "u", "models": ["m1", "m2"]}]}
    providers = inp.options({"id": "p", "options": {"type": "providers"}}, {}, manifest)
    assert providers == [{"label": "a", "value": "a", "description": "u"}]
    models = inp.options({"id": "m", "options": {"type": "models", "providerField": "{{p}}"}}, {"p": "a"}, manifest)
    assert [o["value"] for o in models] == ["m1", "m2"]


# ------------------------------------------------------------------ apply


def test_apply_fills_mappings_and_keeps_them_for_another_run():
    applied = render.apply_inputs(EXAMPLE, {"apiKey": "sk-live"})
    assert applied["Providers"][0]["api_key"] == "sk-live"
    assert applied["configMappings"] == EXAMPLE["configMappings"] and applied["schema"] == EXAMPLE["schema"]
    assert unfilled(EXAMPLE) and not unfilled(applied)
    assert render.apply_inputs(applied, {}) == applied  # a filled input may be left out
    assert render.apply_inputs(applied, {"apiKey": "sk-new"})["Providers"][0]["api_key"] == "sk-new"


def test_apply_lists_every_invalid_input():
    manifest = {**EXAMPLE, "schema": [*EXAMPLE["schema"], {"id": "n", "label": "N", "type": "number", "min": 3}]}
    with raises(400, "API Key is required; N must be at least 3"):
        render.apply_inputs(manifest, {"n": "1"})


def test_a_template_renders_typed_values_and_refuses_unknown_variables():
    """[FIX §2] CCR turned `{{x}}` into a string always, and unknown names into ""."""
    manifest = {"name": "t", "schema": [{"id": "port", "type": "number"}, {"id": "key"}],
                "template": {"API_TIMEOUT_MS": "{{port}}", "Providers": [{"name": "p", "api_base_url": "u",
                                                                          "api_key": "Bearer {{key}}"}]}}
    applied = render.apply_inputs(manifest, {"port": "9000", "key": "k"})
    assert applied["API_TIMEOUT_MS"] == 9000 and applied["Providers"][0]["api_key"] == "Bearer k"
    broken = {**manifest, "template": {"Router": {"default": "{{nope}}"}}}
    with raises(400, "Unknown variable {{nope}} in template"):
        render.apply_inputs(broken, {"port": 1, "key": "k"})


def test_mappings_follow_when():
    manifest = {"name": "w", "Providers": [{"name": "p", "api_base_url": "u", "api_key": ""}],
                "schema": [{"id": "mode", "type": "select"}, {"id": "key", "when": {"field": "mode", "value": "own"}}],
                "configMappings": [{"target": "Providers[0].api_key", "value": "{{key}}",
                                    "when": {"field": "mode", "value": "own"}}]}
    assert render.apply_inputs(manifest, {"mode": "own", "key": "k"})["Providers"][0]["api_key"] == "k"
    assert render.apply_inputs(manifest, {"mode": "shared"})["Providers"][0]["api_key"] == ""


@pytest.mark.parametrize("key", ["bogus", "noServer", "claudeCodeSettings.hooks", "__proto__.x", "Providers[0]"])
def test_apply_writes_only_declared_inputs_and_existing_config_leaves(key):
    """[FIX §4.5-3, §7-6] CCR wrote any path, `__proto__` and `noServer` included."""
    with pytest.raises(PresetError) as caught:
        render.apply_inputs(EXAMPLE, {key: "x"})
    assert caught.value.status == 400 and "Unknown input" in caught.value.message


def test_a_preset_cannot_reach_its_run_time_settings_through_apply():
    sneaky = {**EXAMPLE, "configMappings": [{"target": "claudeCodeSettings.hooks", "value": "{{apiKey}}"}]}
    with raises(400, "only the config part"):
        render.apply_inputs(sneaky, {"apiKey": "rm -rf ~"})
    templated = {"name": "t", "schema": [{"id": "k"}], "template": {"noServer": True, "Router": {"default": "{{k}}"}}}
    applied = render.apply_inputs(templated, {"k": "a,b"})
    assert "noServer" not in applied and applied["Router"] == {"default": "a,b"}


def test_required_inputs_alone_are_password_inputs_by_path():
    """A CCR-exported preset (requiredInputs, `${CONFIG_...}`) asks for its fields."""
    ccr = {"name": "old", "APIKEY": "${CONFIG_APIKEY}",
           "Providers": [{"name": "d", "api_base_url": "u", "api_key": "${CONFIG_API_KEY}"}],
           "requiredInputs": [{"field": "APIKEY", "placeholder": "CONFIG_APIKEY"},
                              {"field": "Providers[0].api_key", "prompt": "Enter api_key",
                               "placeholder": "CONFIG_API_KEY"}]}
    assert [i["id"] for i in inp.effective_inputs(ccr)] == ["Providers[0].api_key"]  # APIKEY is no config key
    assert unfilled(ccr) == ["Enter api_key"]
    applied = render.apply_inputs(ccr, {"Providers[0].api_key": "sk-1"})
    assert applied["Providers"][0]["api_key"] == "sk-1" and not unfilled(applied)


def test_detail_masks_keys_and_shows_inputs_at_the_top():
    """[FIX §4.2] CCR returned live keys and nested the schema under metadata."""
    view = detail(render.apply_inputs(EXAMPLE, {"apiKey": "sk-live"}), "ds", [])
    assert view["config"]["Providers"][0]["api_key"] == "********"
    assert view["schema"] == EXAMPLE["schema"] and "schema" not in view["metadata"]
    assert view["needsConfiguration"] is False and view["inputs"][0]["filled"] is True
    assert "sk-live" not in json.dumps(view)


# ------------------------------------------------------------------ validation and launch


def test_validation_errors_and_risks():
    assert validate.errors({"name": "x", "Providers": [{"api_base_url": "u"}], "template": [],
                            "configMappings": [{"value": 1}], "schema": [{"id": "a-b"}]}) == [
        "Provider missing name field", "schema[0] needs an id of letters, digits and _",
        "template must be an object", "configMappings[0].target: Invalid field path None"]
    risky = {"claudeCodeSettings": {"env": {"ANTHROPIC_MODEL": "m", "NODE_OPTIONS": "--require x"},
                                    "hooks": {"Stop": []}, "model": "m", "apiKeyHelper": "cat key"}}
    assert [r.split(" = ")[0] for r in validate.risks(risky)] == [
        "claudeCodeSettings.env.NODE_OPTIONS", "claudeCodeSettings.hooks", "claudeCodeSettings.apiKeyHelper"]
    assert validate.risks(EXAMPLE) == []
    plugin = validate.risks({"transformers": [{"path": "$HOME/.claude-code-router/presets/p/x.py"}]})
    assert plugin == ['transformers[0].path = "$HOME/.claude-code-router/presets/p/x.py" (Python code the '
                      'server runs if merged)']


def test_launch_plan_talks_to_the_first_provider_directly():
    manifest = {**EXAMPLE, "Providers": [{"name": "d", "api_base_url": "http://h:1/v1/messages",
                                          "api_key": ["${MY_KEY}", "second"]}],
                "claudeCodeSettings": {"env": {"ANTHROPIC_MODEL": "m", "X": 1}, "model": "opus"}}
    plan = launch.plan("p", manifest, {"ANTHROPIC_BASE_URL": "http://127.0.0.1:3456", "NO_PROXY": "127.0.0.1"},
                       {}, {"MY_KEY": "sk-from-env"})
    assert plan.env["ANTHROPIC_BASE_URL"] == "http://h:1" and plan.env["ANTHROPIC_AUTH_TOKEN"] == "sk-from-env"
    assert plan.env["ANTHROPIC_MODEL"] == "m" and plan.env["X"] == "1" and plan.env["NO_PROXY"] == "127.0.0.1"
    assert plan.settings["model"] == "opus" and plan.settings["env"] == plan.env
    assert plan.needs_server is False and plan.provider == "d"
    assert launch.base_url("https://x/anthropic/") == "https://x/anthropic"


@pytest.mark.parametrize("key", ["", "{{apiKey}}", "${UNSET_KEY}"])
def test_an_unconfigured_preset_does_not_launch(key):
    """[FIX §6.4] CCR sent `${CONFIG_API_KEY}` or `{{apiKey}}` as the key."""
    manifest = {**EXAMPLE, "Providers": [{"name": "d", "api_base_url": "http://h/v1/messages", "api_key": key}]}
    with raises(400, 'Preset "p" is not configured'):
        launch.plan("p", manifest, {}, {}, {})


def test_a_legacy_provider_name_uses_config_json():
    plan = launch.plan("p", {"name": "p", "provider": "Mine"}, {}, {
        "Providers": [{"name": "mine", "api_base_url": "http://m/", "api_key": "$K"}]}, {"K": "k"})
    assert plan.env["ANTHROPIC_BASE_URL"] == "http://m" and plan.env["ANTHROPIC_AUTH_TOKEN"] == "k"
    assert plan.needs_server is True
