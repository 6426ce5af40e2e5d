"""Custom transformers from config `transformers: [{path, options}]` (transformers.md §1.12, §4.6):
files, `file.py:Class` and `module:Class` references, options, overriding built-ins, and how a
broken plugin is reported (logged and skipped; a provider naming it fails at start-up)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from ccr_aio.plugins import load_plugins
from ccr_aio.settings import ConfigError, build_settings
from ccr_aio.state import build_snapshot
from ccr_aio.transformers import BUILTINS
from ccr_aio.transformers.base import Context, Transformer
from tests.conftest import provider_config, sdk
from tests.fakes.openai_upstream import (
    completion,
    json_reply,
    stream_reply,
    text_chunks,
)
from tests.stream_grammar import check_stream, parse_sse_bytes

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "my_transformer.py"
USER = [{"role": "user", "content": "hi"}]

SHOUTER = '''
from ccr_aio.transformers.base import Transformer

class Shouter(Transformer):
    name = "shout"

    async def stream_out(self, chunks, ctx):
        suffix = self.options.get("suffix", "")
        async for chunk in chunks:
            choices = chunk.get("choices") or []
            content = choices[0].get("delta", {}).get("content") if choices else None
            if content:
                delta = {**choices[0]["delta"], "content": content.upper() + suffix}
                chunk = {**chunk, "choices": [{**choices[0], "delta": delta}]}
            yield chunk

    def json_out(self, body, ctx):
        message = body["choices"][0]["message"]
        message = {**message, "content": message["content"].upper()}
        return {**body, "choices": [{**body["choices"][0], "message": message}]}
'''

PLAIN = '''
class Plain:  # no base class: a name and hook methods are enough; request_in may be sync
    name = "plain"

    def __init__(self, options):
        self.tag = options["tag"]

    def request_in(self, request, provider, ctx):
        return {**request, "metadata": {"tag": self.tag}}
'''


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def settings_for(tmp_path: Path, plugins: list[Any], providers: list[dict] | None = None) -> Any:
    config = {"transformers": plugins, "Providers": providers or []}
    return build_settings(config, tmp_path / "config.json", {})


def chain_config(fake: Any, plugins: list[Any], use: list[Any]) -> dict[str, Any]:
    provider = provider_config(fake, transformer={"use": use})
    return {"transformers": plugins, "Providers": [provider], "Router": {"default": "fake,fake-model"}}


# -- end to end ---------------------------------------------------------------------------------


async def test_example_plugin_with_options_in_a_provider_chain(make_client, fake):
    plugins = [{"path": str(EXAMPLE), "options": {"header": "X-Team", "value": "research", "max_tokens": 1000}}]
    client = await make_client(chain_config(fake, plugins, ["my-transformer", "streamoptions"]))
    async with sdk(client).messages.stream(model="m", max_tokens=32000, messages=USER) as stream:
        final = await stream.get_final_message()
    assert final.content[0].text == "Hello from fake"
    sent = fake.requests[0]
    assert sent.headers["X-Team"] == "research"
    assert sent.body["max_tokens"] == 1000 and sent.body["stream_options"] == {"include_usage": True}
    assert sent.headers["Authorization"] == "Bearer sk-fake-provider"


async def test_chain_entry_options_override_plugin_defaults(make_client, fake):
    plugins = [{"path": str(EXAMPLE), "options": {"header": "X-Team", "value": "research", "max_tokens": 1000}}]
    client = await make_client(chain_config(fake, plugins, [["MY-TRANSFORMER", {"value": "ops"}]]))
    fake.queue(json_reply(completion("ok")))
    await sdk(client).messages.create(model="m", max_tokens=5000, messages=USER)
    sent = fake.requests[0]
    assert sent.headers["X-Team"] == "ops" and sent.body["max_tokens"] == 1000


async def test_stream_and_json_hooks_of_a_plugin(make_client, fake, tmp_path):
    path = write(tmp_path, "shouter.py", SHOUTER)
    client = await make_client(chain_config(fake, [{"path": str(path), "options": {"suffix": "!"}}], ["shout"]))
    fake.queue(stream_reply(text_chunks(["ab", "cd"])))
    response = await client.post("/v1/messages", json={"model": "m", "max_tokens": 10, "messages": USER, "stream": True})
    events = parse_sse_bytes(await response.read())
    check_stream(events)
    assert "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta") == "AB!CD!"
    fake.queue(json_reply(completion("quiet")))
    message = await sdk(client).messages.create(model="m", max_tokens=10, messages=USER)
    assert message.content[0].text == "QUIET"


@pytest.mark.in_process  # puts the plugin's package on the test process's sys.path
async def test_module_class_reference(make_client, fake, tmp_path, monkeypatch):
    package = tmp_path / "ccr_test_plugins_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    write(package, "extra.py", SHOUTER)
    monkeypatch.syspath_prepend(str(tmp_path))
    client = await make_client(chain_config(fake, [{"path": "ccr_test_plugins_pkg.extra:Shouter"}], ["shout"]))
    fake.queue(json_reply(completion("loud")))
    message = await sdk(client).messages.create(model="m", max_tokens=10, messages=USER)
    assert message.content[0].text == "LOUD"


async def test_plain_class_with_sync_request_in(make_client, fake, tmp_path):
    path = write(tmp_path, "plain.py", PLAIN)
    client = await make_client(chain_config(fake, [{"path": str(path), "options": {"tag": "t1"}}], ["plain"]))
    fake.queue(json_reply(completion("ok")))
    await sdk(client).messages.create(model="m", max_tokens=10, messages=USER)
    assert fake.requests[0].body["metadata"] == {"tag": "t1"}


# -- failures -----------------------------------------------------------------------------------


@pytest.mark.in_process  # reads the app's log events
async def test_broken_plugin_is_logged_and_a_provider_naming_it_fails_at_start_up(make_client, fake, tmp_path):
    broken = write(tmp_path, "broken.py", "class Broken(:\n    name = 'broken'\n")
    good = write(tmp_path, "shouter.py", SHOUTER)
    plugins = [{"path": str(broken)}, {"path": str(good)}]
    with capture_logs() as logs, pytest.raises(ConfigError) as info:
        await make_client(chain_config(fake, plugins, ["shout", "broken"]))
    message = str(info.value)
    assert "unknown transformer 'broken'" in message
    assert str(broken) in message and "SyntaxError" in message and "line 1" in message
    failures = [entry for entry in logs if entry["event"] == "transformer_plugin_failed"]
    assert len(failures) == 1 and str(broken) in failures[0]["error"] and failures[0]["log_level"] == "error"


@pytest.mark.in_process  # reads the app's log events
async def test_broken_plugin_nobody_uses_does_not_stop_the_others(make_client, fake, tmp_path):
    broken = write(tmp_path, "boom.py", "raise RuntimeError('boom at import')\n")
    good = write(tmp_path, "shouter.py", SHOUTER)
    with capture_logs() as logs:
        client = await make_client(chain_config(fake, [{"path": str(broken)}, {"path": str(good)}], ["shout"]))
    assert any("RuntimeError: boom at import" in e.get("error", "") for e in logs)
    fake.queue(json_reply(completion("still works")))
    message = await sdk(client).messages.create(model="m", max_tokens=10, messages=USER)
    assert message.content[0].text == "STILL WORKS"


@pytest.mark.parametrize(
    "source, expected",
    [
        ("x = 1\n", "defines no transformer class"),
        (SHOUTER + PLAIN, "several transformer classes (Shouter, Plain)"),
        ("class Old:\n    name = 'old'\n    def transform_request_in(self, r, p, c):\n        return r\n", "Node hook names"),
        ("from ccr_aio.transformers.base import Transformer\nclass S(Transformer):\n    name = 's'\n"
         "    def stream_out(self, chunks, ctx):\n        yield from ()\n", "must be an async generator"),
        ("from ccr_aio.transformers.base import Transformer\nclass J(Transformer):\n    name = 'j'\n"
         "    async def json_out(self, body, ctx):\n        return body\n", "must be a plain function"),
        ("class Nameless:\n    def request_in(self, r, p, c):\n        return r\n", "has no `name`"),
        ("class Picky:\n    name = 'picky'\n    def __init__(self, options):\n        raise ValueError('need key')\n"
         "    def request_in(self, r, p, c):\n        return r\n", "ValueError: need key"),
    ],
)
def test_load_errors_explain_the_problem(tmp_path, source, expected):
    path = write(tmp_path, "plugin.py", source)
    registry, errors = load_plugins(settings_for(tmp_path, [{"path": str(path)}]), BUILTINS)
    assert len(errors) == 1 and expected in errors[0] and str(path) in errors[0]


def test_missing_file_bad_entries_and_relative_paths(tmp_path):
    write(tmp_path, "rel.py", SHOUTER)  # relative paths are taken from the config file's folder
    plugins = [{"path": "rel.py"}, {"path": str(tmp_path / "nope.py")}, {"options": {}}, {"path": "rel.py", "options": [1]}]
    registry, errors = load_plugins(settings_for(tmp_path, plugins), BUILTINS)
    assert registry.get("shout") is not None
    assert len(errors) == 3
    assert "no such file" in errors[0] and "`path` is missing" in errors[1] and "`options` must be an object" in errors[2]


def test_file_class_form_overrides_a_builtin_in_a_copy(tmp_path):
    source = SHOUTER + "\n\nclass MyMax(Shouter):\n    name = 'maxtoken'\n"
    path = write(tmp_path, "two.py", source)
    registry, errors = load_plugins(settings_for(tmp_path, [{"path": f"{path}:MyMax"}]), BUILTINS)
    assert errors == []
    assert issubclass(registry.get("maxtoken"), Transformer) and registry.get("maxtoken").name == "maxtoken"
    assert registry.get("maxtoken") is not BUILTINS.get("maxtoken")
    assert BUILTINS.get("maxtoken").__module__ == "ccr_aio.transformers.params.maxtoken"  # the built-ins are untouched
    assert registry.get("shout") is None  # only the named class


def test_node_style_name_set_in_the_constructor(tmp_path):
    source = "class N:\n    def __init__(self, options=None):\n        self.name = 'node-style'\n" \
             "    def json_out(self, body, ctx):\n        return body\n"
    path = write(tmp_path, "n.py", source)
    registry, errors = load_plugins(settings_for(tmp_path, [{"path": str(path)}]), BUILTINS)
    assert errors == [] and registry.create("node-style").overrides("json_out")


async def test_no_plugins_keeps_the_registry_and_snapshot_uses_plugins(tmp_path):
    registry, errors = load_plugins(settings_for(tmp_path, []), BUILTINS)
    assert registry is BUILTINS and errors == []
    path = write(tmp_path, "plain.py", PLAIN)
    provider = {"name": "p", "api_base_url": "http://127.0.0.1:9/v1/chat/completions", "models": ["m"],
                "transformer": {"use": [["plain", {"tag": "x"}]]}}
    snapshot = build_snapshot(settings_for(tmp_path, [{"path": str(path), "options": {"tag": "d"}}], [provider]))
    plugin = snapshot.providers["p"].chain[0]
    assert await plugin.request_in({"model": "m"}, None, Context()) == {"model": "m", "metadata": {"tag": "x"}}


async def test_chain_options_that_break_the_constructor_are_a_clear_start_up_error(make_client, fake, tmp_path):
    source = "class Strict:\n    name = 'strict'\n    def __init__(self, options):\n" \
             "        if options.get('mode') not in (None, 'a'):\n            raise ValueError(f\"bad mode {options['mode']}\")\n" \
             "    def json_out(self, body, ctx):\n        return body\n"
    path = write(tmp_path, "strict.py", source)
    with pytest.raises(ConfigError, match=r"transformer plugin .*strict\.py: cannot be created: ValueError: bad mode b"):
        await make_client(chain_config(fake, [{"path": str(path)}], [["strict", {"mode": "b"}]]))
