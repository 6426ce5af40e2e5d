"""The management UI (/ui/) in a real headless Chromium driven by Playwright, against the app on a
real 127.0.0.1 port; plus the plain-HTTP parts (redirect, headers, no data in the page, JSON5 input).

The browser is Debian's `chromium` (`make test` installs it); Playwright never downloads one.
Every wait is on a condition (Playwright's expect / wait_for, asyncio events), never a sleep.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from playwright.async_api import (
    Browser,
    Dialog,
    Page,
    Request,
    async_playwright,
    expect,
)

from ccr_aio.config_mask import mask_config
from ccr_aio.routes import ui as ui_routes
from ccr_aio.routes.admin import ADMIN
from tests.admin_helpers import config_path
from tests.conftest import base_config, sdk
from tests.fakes.openai_upstream import error_reply
from tests.fallback_helpers import KEY_ONE, KEY_TWO, ask, two_providers as primary_and_backup

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SECRET = "sk-provider-secret-0123456789abcdef"
APIKEY = "ui-admin-key-42"
USER = [{"role": "user", "content": "hi"}]
expect.set_options(timeout=10_000)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class UI:
    page: Page
    client: Any
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    api_calls: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, x-api-key

    @property
    def config_path(self) -> Path:
        return config_path(self.client)

    def saved_config(self) -> dict[str, Any]:
        return json.loads(self.config_path.read_text())

    async def tab(self, name: str) -> None:
        await self.page.get_by_role("tab", name=name, exact=True).click()
        await expect(self.page.get_by_role("tabpanel", name=name, exact=True)).to_be_visible()

    async def save(self) -> None:
        await self.page.get_by_role("button", name="Save", exact=True).click()
        await expect(self.page.locator("#notice")).to_contain_text("Config saved")
        await expect(self.page.locator("#dirty-state")).to_have_text("No unsaved changes")

    def http_errors_only(self) -> list[str]:
        """Console errors other than the browser's own 'Failed to load resource' for 4xx answers."""
        return [e for e in self.console_errors if not e.startswith("Failed to load resource")]


@pytest.fixture
async def open_ui(make_client: Callable[..., Any], browser: Browser) -> AsyncIterator[Callable[..., Any]]:
    opened: list[UI] = []

    async def open_(config: dict[str, Any], *, ready: bool = True, client: Any = None) -> UI:
        client = client or await make_client(config)
        page = await (await browser.new_context()).new_page()
        ui = UI(page=page, client=client)
        page.on("console", lambda m: ui.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: ui.page_errors.append(str(e)))

        def record(request: Request) -> None:
            path = request.url.split(str(client.make_url("")).rstrip("/"), 1)[-1]
            if path.startswith("/api/"):
                ui.api_calls.append((request.method, path, request.headers.get("x-api-key")))

        page.on("request", record)
        await page.goto(str(client.make_url("/ui/")))
        if ready:
            await expect(page.locator("body")).to_have_attribute("data-ready", "true")
        opened.append(ui)
        return ui

    yield open_
    for ui in opened:  # whatever a test did, the page's own code never threw
        assert ui.page_errors == []
        assert ui.http_errors_only() == []


async def confirm(page: Page, accept: bool, button: Any) -> str:
    """Click `button`, answer the window.confirm() it opens, and return the question."""
    answered: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def handle(dialog: Dialog) -> None:
        await (dialog.accept() if accept else dialog.dismiss())
        answered.set_result(dialog.message)

    page.once("dialog", handle)
    await button.click()
    return await asyncio.wait_for(answered, 10)


def two_providers(fake: Any) -> dict[str, Any]:
    config = base_config(fake)
    config["Providers"][0]["api_key"] = SECRET
    config["Providers"][0]["transformer"] = {"use": [["maxtoken", {"max_tokens": 64}]], "fake-model": {"use": ["tooluse"]}}
    config["Providers"].append({"name": "envkeyed", "api_base_url": "https://example.invalid/v1/chat/completions",
                                "api_key": "$ENVKEYED_KEY", "models": ["e1"]})
    return config


# ---------------------------------------------------------------- plain HTTP


async def test_ui_redirect_headers_and_no_config_in_the_page(make_client, fake):
    client = await make_client(two_providers(fake))
    response = await client.get("/ui", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/ui/"
    response = await client.get("/ui/")
    assert response.status == 200 and response.content_type == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert response.headers["Cache-Control"] == "no-store"
    html = await response.text()
    for leak in (SECRET, "envkeyed", "ENVKEYED_KEY", fake.url, "fake-model"):
        assert leak not in html  # the page is public: all data comes from /api/* with the key
    assert 'src="/static/app.js' in html  # and nothing from elsewhere (works offline, CSP 'self'):
    assert re.findall(r'(?:src|href)="([^"]*)"', html) and not re.search(r'(?:src|href)="(?!/static/)', html)
    for asset, kind in (("app.js", "javascript"), ("api.js", "javascript"), ("ui.css", "text/css")):
        response = await client.get(f"/static/{asset}")
        assert response.status == 200 and kind in response.content_type


async def test_ui_and_static_are_public_but_api_is_not_when_apikey_is_set(make_client, fake):
    client = await make_client(base_config(fake, APIKEY=APIKEY))
    assert (await client.get("/ui/")).status == 200
    assert (await client.get("/static/app.js")).status == 200
    assert (await client.get("/api/config")).status == 401


@pytest.mark.in_process  # points the app's UI folder elsewhere mid-test
async def test_ui_dir_override_and_missing_files(monkeypatch, tmp_path, make_client, fake):
    monkeypatch.setenv(ui_routes.UI_DIR_ENV, str(tmp_path / "nowhere"))
    assert ui_routes.ui_root() == (tmp_path / "nowhere").resolve()
    client = await make_client(base_config(fake))
    response = await client.get("/ui/")
    assert response.status == 404
    assert ui_routes.UI_DIR_ENV in (await response.json())["error"]["message"]
    assert (await client.get("/health")).status == 200  # the server itself is fine
    monkeypatch.delenv(ui_routes.UI_DIR_ENV)
    assert (ui_routes.ui_root() / "templates" / "ui.html").is_file()  # the checkout's folders


async def test_post_config_accepts_json5(make_client, fake):
    client = await make_client(base_config(fake))
    path = config_path(client)
    text = ('{\n  // chosen in the raw editor\n  Providers: [{name: "fake", api_base_url: "%s", '
            'models: ["fake-model", "Other-Model",],},],\n  Router: {default: "fake,Other-Model",},\n}' % fake.url)
    response = await client.post("/api/config", data=text, headers={"Content-Type": "application/json5"})
    assert response.status == 200, await response.text()
    assert json.loads(path.read_text())["Router"] == {"default": "fake,Other-Model"}  # stored as JSON
    for bad, expected in (("{ Router: {default: }", "line 1"), ("[1, 2]", "must be an object"),
                          ("  ", "empty"), ('{Router: {default: "nocomma"}}', "provider,model")):
        before = path.read_text()
        response = await client.post("/api/config", data=bad, headers={"Content-Type": "application/json5"})
        assert response.status == 400
        assert expected in (await response.json())["error"]["message"]
        assert path.read_text() == before


# ---------------------------------------------------------------- in the browser


async def test_page_loads_clean_and_lists_providers_with_keys_masked(open_ui, fake):
    ui = await open_ui(two_providers(fake))
    rows = ui.page.locator("#providers-rows tr")
    await expect(rows).to_have_count(2)
    fake_row = ui.page.locator('#providers-rows tr[data-provider="fake"]')
    await expect(fake_row.locator(".url")).to_have_text(fake.url)
    await expect(fake_row.locator(".models")).to_have_text("fake-model, Other-Model")
    await expect(fake_row.locator(".key")).to_have_text(SECRET[:3] + "…" + SECRET[-4:])
    await expect(fake_row.locator(".chains")).to_have_text('maxtoken {"max_tokens":64}; fake-model: tooluse')
    await expect(ui.page.locator('#providers-rows tr[data-provider="envkeyed"] .key')).to_have_text("$ENVKEYED_KEY")
    # Opening the edit form does not put the key back into the page either.
    await fake_row.get_by_role("button", name="Edit provider fake").click()
    await expect(ui.page.locator("#pf-key")).to_have_value("")
    await expect(ui.page.locator("#pf-key")).to_have_attribute("type", "password")
    await ui.page.get_by_role("button", name="Edit provider envkeyed").click()
    await expect(ui.page.locator("#pf-key")).to_have_value("$ENVKEYED_KEY")  # not a secret: shown
    await expect(ui.page.locator("#pf-key")).to_have_attribute("type", "text")
    for text in (await ui.page.content(), await ui.page.locator("body").inner_text()):
        assert SECRET not in text
    assert ui.console_errors == [] and ui.page_errors == []


async def test_add_a_provider_through_the_form_and_save(open_ui, fake):
    ui = await open_ui(two_providers(fake))
    page = ui.page
    await page.get_by_role("button", name="Add provider").click()
    form = page.locator("#provider-form")
    await form.get_by_label("Name", exact=True).fill("added")
    await form.get_by_label("Endpoint URL").fill("https://added.invalid/v1/chat/completions")
    await form.get_by_label("API key", exact=True).fill("sk-added-provider-key-9999")
    await form.get_by_label("Models (one per line)").fill("m1\nm2\n")
    await page.locator("#pf-chain").get_by_role("button", name="Add transformer").click()
    await page.locator("#pf-chain .chain-name").last.fill("maxtoken")
    await page.locator("#pf-chain .chain-options").last.fill('{"max_tokens": 100}')
    await page.locator("#pf-chain").get_by_role("button", name="Add transformer").click()
    await page.locator("#pf-chain .chain-name").last.fill("tooluse")
    await form.get_by_label("Model", exact=True).select_option("m2")
    await page.get_by_role("button", name="Add a chain for this model").click()
    await page.get_by_role("button", name="Add transformer for m2").click()
    await page.locator('.model-chain[data-model="m2"] .chain-name').fill("enhancetool")
    # A broken options object is refused in the form, naming the row.
    await page.locator("#pf-chain .chain-options").first.fill("{max_tokens: 100")
    await page.get_by_role("button", name="Apply").click()
    await expect(page.locator("#provider-form-error")).to_contain_text("Options of maxtoken are not valid JSON")
    await page.locator("#pf-chain .chain-options").first.fill('{"max_tokens": 100}')
    await page.get_by_role("button", name="Apply").click()
    await expect(page.locator("#provider-form")).to_be_hidden()
    await expect(page.locator("#dirty-state")).to_have_text("Unsaved changes")
    added = page.locator('#providers-rows tr[data-provider="added"]')
    await expect(added.locator(".key")).to_have_text("sk-…9999")
    await ui.save()
    saved = ui.saved_config()["Providers"]
    assert saved[2] == {"name": "added", "api_base_url": "https://added.invalid/v1/chat/completions",
                        "api_key": "sk-added-provider-key-9999", "models": ["m1", "m2"],
                        "transformer": {"use": [["maxtoken", {"max_tokens": 100}], "tooluse"],
                                        "m2": {"use": ["enhancetool"]}}}
    assert saved[0]["api_key"] == SECRET  # untouched entries keep their key
    assert "sk-added-provider-key-9999" not in await page.content()


async def test_edit_keeps_the_key_renames_routes_and_delete_asks_first(open_ui, fake):
    ui = await open_ui(two_providers(fake))
    page = ui.page
    await page.get_by_role("button", name="Edit provider fake").click()
    form = page.locator("#provider-form")
    await form.get_by_label("Name", exact=True).fill("renamed")
    await form.get_by_label("Models (one per line)").fill("fake-model\nOther-Model\nthird")
    await page.locator('.model-chain[data-model="fake-model"]').get_by_role(
        "button", name="Remove the chain of fake-model").click()
    await page.get_by_role("button", name="Apply").click()
    await expect(page.locator('#providers-rows tr[data-provider="renamed"] .models')).to_have_text(
        "fake-model, Other-Model, third")
    delete = page.get_by_role("button", name="Delete provider envkeyed")
    assert "Delete provider envkeyed?" in await confirm(page, False, delete)
    await expect(page.locator("#providers-rows tr")).to_have_count(2)  # dismissed: still there
    await confirm(page, True, delete)
    await expect(page.locator("#providers-rows tr")).to_have_count(1)
    await ui.save()
    saved = ui.saved_config()
    assert [p["name"] for p in saved["Providers"]] == ["renamed"]
    entry = saved["Providers"][0]
    assert entry["api_key"] == SECRET  # an empty key field keeps the key
    assert entry["transformer"] == {"use": [["maxtoken", {"max_tokens": 64}]]}
    assert saved["Router"] == {"default": "renamed,fake-model"}  # the route followed the rename


async def test_router_picker_changes_the_model_requests_go_to(open_ui, fake):
    ui = await open_ui(base_config(fake))
    page = ui.page
    await page.get_by_role("tab", name="Providers").press("ArrowRight")  # tabs work from the keyboard
    await expect(page.get_by_role("tab", name="Router")).to_be_focused()
    await expect(page.get_by_role("tabpanel", name="Router")).to_be_visible()
    default = page.get_by_label("Default", exact=True)
    await expect(default).to_have_value("fake,fake-model")
    options = await default.locator("option").all_inner_texts()
    assert options == ["(not set)", "fake,fake-model", "fake,Other-Model"]
    await default.select_option("fake,Other-Model")
    await page.get_by_label("Think", exact=True).select_option("fake,fake-model")
    await page.get_by_label("Long-context threshold").fill("32000")
    await page.get_by_label("Long-context threshold").press("Tab")
    await ui.save()
    assert ui.saved_config()["Router"] == {"default": "fake,Other-Model", "think": "fake,fake-model",
                                                   "longContextThreshold": 32000}
    await sdk(ui.client).messages.create(model="claude-sonnet-4", max_tokens=10, messages=USER)
    assert fake.requests[-1].body["model"] == "Other-Model"
    await page.get_by_label("Think", exact=True).select_option("")  # "(not set)" removes the entry
    await ui.save()
    assert "think" not in ui.saved_config()["Router"]
    await default.select_option("fake,fake-model")
    await confirm(page, True, page.get_by_role("button", name="Discard changes"))
    await expect(default).to_have_value("fake,Other-Model")
    await expect(page.locator("#dirty-state")).to_have_text("No unsaved changes")


async def test_transformers_tab_lists_builtins_and_plugin_files(open_ui, fake):
    ui = await open_ui(base_config(fake, transformers=[]))
    await ui.tab("Transformers")
    rows = ui.page.locator("#transformers-rows")
    deepseek = rows.locator('tr[data-transformer="deepseek"]')
    await expect(deepseek.locator("td").nth(0)).to_have_text("deepseek")
    await expect(deepseek.locator("td.description")).to_contain_text("DeepSeek")  # each says what it does
    await expect(deepseek.locator("td").nth(2)).to_have_text("—")
    await expect(rows.locator('tr[data-transformer="Anthropic"]')).to_contain_text("/v1/messages")
    await expect(ui.page.locator("#plugin-files")).to_have_text("No plugin files configured.")
    names = await ui.page.locator("#transformer-names option").evaluate_all("els => els.map(e => e.value)")
    assert "tooluse" in names  # the chain editor's suggestions


def write_logs(logs_dir: Path) -> tuple[Path, Path]:
    logs_dir.mkdir(parents=True, exist_ok=True)
    old, new = logs_dir / "ccr-20250101000000.log", logs_dir / "ccr-20250102000000.log"
    old.write_text('{"level": "info", "event": "older_file_line"}\n')
    lines = [{"level": "info", "event": "server_started"}, {"level": "error", "event": "upstream_failed"},
             {"level": "debug", "event": "routing_decision"}, {"level": 30, "msg": "pino info"},
             {"level": 50, "msg": "pino error"}, "plain text line <b>not markup</b>",
             {"level": "warning", "event": "newest_line"}]
    new.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    os.utime(old, (1_700_000_000, 1_700_000_000))
    return old, new


async def test_logs_tab_lists_files_shows_filters_and_clears(open_ui, fake, tmp_path):
    old, new = write_logs(tmp_path / "ccr" / "logs")
    ui = await open_ui(base_config(fake, LOG=False))  # the server's own logs would be files too
    page = ui.page
    await ui.tab("Logs")
    files = page.get_by_label("File", exact=True)
    await expect(files.locator("option")).to_have_count(2)
    await expect(files).to_have_value(str(new))  # newest first
    lines = page.locator("#log-lines li")
    await expect(lines).to_have_count(7)
    await expect(lines.last).to_contain_text("newest_line")  # newest last
    await expect(lines.nth(5)).to_contain_text("plain text line <b>not markup</b>")  # shown as text
    await page.get_by_label("Level", exact=True).select_option(label="Errors only")
    await expect(lines).to_have_count(2)
    await expect(lines.first).to_contain_text("upstream_failed")
    await expect(lines.last).to_contain_text("pino error")
    await page.get_by_label("Level", exact=True).select_option(label="All")
    await page.get_by_label("Text", exact=True).fill("ROUTING")
    await expect(lines).to_have_count(1)
    await expect(page.locator("#log-count")).to_have_text("1 of 7 lines shown (newest last)")
    await page.get_by_label("Text", exact=True).fill("")
    await files.select_option(str(old))
    await expect(lines).to_have_count(1)
    await expect(lines.first).to_contain_text("older_file_line")
    await files.select_option(str(new))
    await expect(lines).to_have_count(7)
    clear = page.get_by_role("button", name="Clear this file…")
    assert "ccr-20250102000000.log" in await confirm(page, False, clear)
    assert new.stat().st_size > 0  # dismissed: nothing cleared
    await confirm(page, True, clear)
    await expect(page.locator("#log-count")).to_have_text("This file has no lines.")
    await expect(page.locator("#notice")).to_have_text("Log file cleared.")
    assert new.stat().st_size == 0 and old.stat().st_size > 0
    assert ("DELETE", f"/api/logs?file={quote(str(new), safe='')}", None) in ui.api_calls


async def test_api_key_is_asked_once_kept_and_sent(open_ui, fake):
    ui = await open_ui(base_config(fake, APIKEY=APIKEY), ready=False)
    page = ui.page
    dialog = page.get_by_role("dialog", name="API key required")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#key-error")).to_be_hidden()
    await dialog.get_by_label("API key").fill("not-the-key")
    await dialog.get_by_role("button", name="Use this key").click()
    await expect(page.locator("#key-error")).to_have_text("Invalid API key. Try again.")
    await dialog.get_by_label("API key").fill(APIKEY)
    await dialog.get_by_role("button", name="Use this key").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(page.locator('#providers-rows tr[data-provider="fake"]')).to_be_visible()
    assert await page.evaluate("localStorage.getItem('ccr-aio.apikey')") == APIKEY
    keys = [key for _, _, key in ui.api_calls]
    assert keys[:2] == [None, None] and "not-the-key" in keys and keys[-1] == APIKEY
    # Kept: a reload loads the data at once, and a save sends the key too.
    ui.api_calls.clear()
    await page.reload()
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(dialog).to_be_hidden()
    await ui.tab("Router")
    await page.get_by_label("Default", exact=True).select_option("fake,Other-Model")
    await ui.save()
    assert ui.api_calls and all(key == APIKEY for _, _, key in ui.api_calls)
    assert ("POST", "/api/config", APIKEY) in ui.api_calls
    assert APIKEY not in await page.content()
    # Forget it: stored no more, asked for again.
    await page.get_by_role("button", name="Forget API key").click()
    await expect(dialog).to_be_visible()
    assert await page.evaluate("localStorage.getItem('ccr-aio.apikey')") is None


async def test_raw_editor_checks_json_before_saving(open_ui, fake):
    ui = await open_ui(base_config(fake))
    page = ui.page
    await ui.tab("Raw config")
    editor = page.get_by_label("Config (JSON)")
    current = json.loads(await editor.input_value())
    assert current == mask_config(ui.saved_config())  # keys masked, as everywhere
    before = ui.config_path.read_text()
    await editor.fill('{"Providers": [')
    await page.get_by_role("button", name="Save raw config").click()
    await expect(page.locator("#raw-error")).to_contain_text("Not valid JSON")
    await expect(page.locator("#raw-error")).to_contain_text("Nothing was saved")
    await editor.fill("[1, 2]")
    await page.get_by_role("button", name="Check", exact=True).click()
    await expect(page.locator("#raw-error")).to_have_text("The config must be a JSON object ({...})")
    assert ("POST", "/api/config", None) not in ui.api_calls and ui.config_path.read_text() == before
    # Valid JSON, but the server refuses it: its 400 message is shown.
    await editor.fill(json.dumps({**current, "Router": {"default": "nocomma"}}))
    await page.get_by_role("button", name="Save raw config").click()
    await expect(page.locator("#raw-error")).to_contain_text(
        "Not saved: Invalid config, nothing saved: Router.default must be \"provider,model\"")
    assert ui.config_path.read_text() == before
    await editor.fill(json.dumps({**current, "StatusLine": {"enabled": True}}, indent=2))
    await page.get_by_role("button", name="Save raw config").click()
    await expect(page.locator("#notice")).to_contain_text("Config saved")
    assert ui.saved_config()["StatusLine"] == {"enabled": True}
    await expect(page.locator("#raw-error")).to_be_hidden()
    # JSON5, checked by the server.
    await page.get_by_label("JSON5").check()
    json5 = json.dumps(current, indent=2)[:-1] + ',\n  // a comment\n  NON_INTERACTIVE_MODE: true,\n}'
    await editor.fill(json5)
    await page.get_by_role("button", name="Save raw config").click()
    # Refilled, as JSON, from the server once the save went through.
    await expect(editor).to_have_value(re.compile(r'^\{\n  "Providers".*\n  "NON_INTERACTIVE_MODE": true\n\}$', re.S))
    assert ui.saved_config()["NON_INTERACTIVE_MODE"] is True
    await editor.fill("{ Router: { default: }")
    await page.get_by_role("button", name="Save raw config").click()
    await expect(page.locator("#raw-error")).to_contain_text("Not saved: Invalid JSON5")


async def test_a_config_the_server_refuses_shows_its_message(open_ui, fake):
    ui = await open_ui(base_config(fake))
    page = ui.page
    before = ui.config_path.read_text()
    await page.get_by_role("button", name="Edit provider fake").click()
    await page.locator("#pf-chain").get_by_role("button", name="Add transformer").click()
    await page.locator("#pf-chain .chain-name").last.fill("no-such-transformer")
    await page.get_by_role("button", name="Apply").click()
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.locator("#notice")).to_contain_text("Not saved: Config not saved:")
    await expect(page.locator("#notice")).to_contain_text("no-such-transformer")
    await expect(page.locator("#dirty-state")).to_have_text("Unsaved changes")  # the draft is kept
    assert ui.config_path.read_text() == before


@pytest.mark.in_process  # stops the in-process app's sockets as a re-exec would
async def test_save_and_restart_waits_until_the_server_is_back(open_ui, make_client, fake):
    client = await make_client(base_config(fake))
    runner, port = client.server.runner, client.server.port
    answered, went_down, health_failed = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def go_down() -> None:  # what a re-exec looks like from the browser: the port stops answering
        await answered.wait()  # as the real server does, answer /api/restart first
        for site in list(runner.sites):
            await site.stop()
        for connection in list(runner.server.connections):  # a dead process keeps no connection
            connection.force_close()
        went_down.set()

    client.app[ADMIN].restart = lambda: asyncio.ensure_future(go_down())
    ui = await open_ui({}, client=client)
    page = ui.page
    page.on("requestfinished", lambda r: answered.set() if r.url.endswith("/api/restart") else None)
    page.on("requestfailed", lambda r: health_failed.set() if r.url.endswith("/health") and went_down.is_set() else None)
    await ui.tab("Router")
    await page.get_by_label("Long-context threshold").fill("1234")
    await page.get_by_label("Long-context threshold").press("Tab")
    await page.get_by_role("button", name="Save & restart").click()
    await expect(page.locator("#notice")).to_have_text("Restarting the server…")
    await asyncio.wait_for(health_failed.wait(), 15)  # the page is polling a server that is gone
    assert ui.saved_config()["Router"]["longContextThreshold"] == 1234
    await expect(page.locator("#notice")).to_have_text("Restarting the server…")
    await web.TCPSite(runner, "127.0.0.1", port).start()  # "the new process" is up
    await expect(page.locator("#notice")).to_have_text("Restarted: the server is back.")
    await expect(page.locator("#dirty-state")).to_have_text("No unsaved changes")


@pytest.mark.in_process  # replaces the app's restart hook
async def test_restart_refused_for_a_broken_config_on_disk_is_shown(open_ui, fake):
    ui = await open_ui(base_config(fake))
    calls: list[int] = []
    ui.client.app[ADMIN].restart = lambda: calls.append(1)
    ui.config_path.write_text('{"PORT": "not a number"}')
    await ui.page.get_by_role("button", name="Save & restart").click()
    await expect(ui.page.locator("#notice")).to_contain_text("Not restarted: Not restarting:")
    assert calls == []


async def test_providers_tab_shows_a_status_badge_per_provider_model_and_key(open_ui, make_client, make_fake):
    primary, backup = await make_fake(), await make_fake()
    bearer_one = f"Bearer {KEY_ONE}"
    primary.choose = lambda r: error_reply(429, "slow down", {"retry-after": "120"}) \
        if r.headers.get("Authorization") == bearer_one else None
    client = await make_client(primary_and_backup(primary, backup))
    assert (await ask(client))[0].status == 200  # key one is rate-limited, key two answers
    ui = await open_ui({}, client=client)
    page = ui.page
    row = page.locator('#providers-rows tr[data-provider="primary"]')
    await expect(row.locator(".key")).to_have_text("sk-…0000, sk-…0000")  # a pool: each key masked
    await expect(row.locator(".health > .badge")).to_have_text("degraded")
    cooling = row.locator('li[data-key="0"] .badge')
    await expect(cooling).to_have_text(re.compile(r"^cooling ([1-9]\d?|1[01]\d|120) s$"))  # of 120 s
    await expect(cooling).to_have_attribute("title", re.compile(r"until .*; last error: http 429; 1 failure"))
    await expect(row.locator('li[data-key="1"] .badge')).to_have_text("ok")
    await expect(row.locator('li[data-model="p-model"] .badge')).to_have_text("ok")
    await expect(page.locator('#providers-rows tr[data-provider="backup"] .health > .badge')).to_have_text("ok")
    # Three 500s cool the model itself; "Refresh status" shows it.
    primary.choose = lambda r: error_reply(500, "broken")
    for _ in range(3):
        assert (await ask(client))[0].headers["x-ccr-route"] == "backup,b-model"
    await page.get_by_role("button", name="Refresh status").click()
    await expect(row.locator('li[data-model="p-model"] .badge')).to_have_text(re.compile(r"^cooling \d+ s$"))
    await expect(row.locator('li[data-model="p-vision"] .badge')).to_have_text("ok")
    for text in (await page.content(), await page.locator("body").inner_text()):
        assert KEY_ONE not in text and KEY_TWO not in text
