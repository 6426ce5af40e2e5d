"""The Settings and Presets tabs, the provider cards (search, connection test), the log columns,
the keys rule and the fixes, each as a user clicks them in Chromium. Screenshots of each state
go to an artefacts folder (printed), for a person to look at."""

from __future__ import annotations

import asyncio
import re
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from playwright.async_api import Dialog, Page, expect

from tests.conftest import base_config
from tests.presets_helpers import manifest, preset_zip
from tests.test_presets_api import files  # noqa: F401  (fixture: a local HTTP server)
from tests.test_ui import SECRET, browser, confirm, open_ui, two_providers  # noqa: F401  (fixtures)

ARTEFACTS = Path(os.environ.get("CCR_UI_ARTEFACTS") or Path(tempfile.gettempdir()) / "ccr-aio-ui-screenshots")


async def shot(page: Page, name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def with_second_model(fake: Any) -> dict[str, Any]:
    config = base_config(fake)
    config["Providers"][0]["models"] = ["fake-model", "Other-Model"]
    return config


# ---------------------------------------------------------------- Settings


async def test_settings_form_saves_options_and_fallback_and_shows_problems_by_their_field(open_ui, fake):
    ui = await open_ui(with_second_model(fake))
    page = ui.page
    await ui.tab("Settings")
    await page.get_by_label("Port (PORT)").fill("not-a-port")
    await page.get_by_label("Provider timeout, ms (API_TIMEOUT_MS)").fill("90000")
    await page.get_by_label("Log level (LOG_LEVEL)").select_option("debug")
    await page.get_by_label("Allowed host names (ALLOWED_HOSTS)").fill("ccr.example, other.example")
    await page.get_by_label("Force the image agent (forceUseImageAgent)").check()
    await expect(page.locator("#dirty-state")).to_have_text("Unsaved changes")
    # Fallback: two entries for default, then the second moved up.
    card = page.locator('.fallback-card[data-scenario="default"]')
    await card.get_by_label("Model to add to the default fallback").select_option("fake,fake-model")
    await card.get_by_role("button", name="Add to default fallback").click()
    await card.get_by_label("Model to add to the default fallback").select_option("fake,Other-Model")
    await card.get_by_role("button", name="Add to default fallback").click()
    await card.get_by_role("button", name="Move fake,Other-Model up in default").click()
    await expect(card.locator(".fallback-list li")).to_have_count(2)
    await expect(card.locator(".fallback-list li").first).to_contain_text("fake,Other-Model")
    # The server refuses the port; the message sits next to the Port field.
    await page.get_by_role("button", name="Save", exact=True).click()
    problem = page.locator('[data-problem-for="PORT"]')
    await expect(problem).to_contain_text("PORT")
    await expect(page.locator("#notice")).to_contain_text("shown next to their fields")
    await shot(page, "settings-problem")
    assert "PORT" not in ui.saved_config() or ui.saved_config()["PORT"] != "not-a-port"
    await page.get_by_label("Port (PORT)").fill("4567")
    await expect(problem).to_be_empty()
    await ui.save()
    saved = ui.saved_config()
    assert saved["PORT"] == 4567 and saved["API_TIMEOUT_MS"] == 90000 and saved["LOG_LEVEL"] == "debug"
    assert saved["ALLOWED_HOSTS"] == ["ccr.example", "other.example"] and saved["forceUseImageAgent"] is True
    assert saved["fallback"] == {"default": ["fake,Other-Model", "fake,fake-model"]}
    await card.get_by_role("button", name="Remove fake,Other-Model from default").click()
    await ui.save()
    assert ui.saved_config()["fallback"] == {"default": ["fake,fake-model"]}
    await shot(page, "settings-saved")


async def test_a_fallback_problem_shows_on_its_scenario(open_ui, fake):
    config = two_providers(fake)
    config["fallback"] = {"think": ["envkeyed,e1"]}
    ui = await open_ui(config)
    page = ui.page
    # Deleting the provider leaves the think list naming nothing: the save is refused and the
    # problem is shown on that list, not only in the notice.
    await confirm(page, True, page.get_by_role("button", name="Delete provider envkeyed"))
    await page.get_by_role("button", name="Save", exact=True).click()
    await ui.tab("Settings")
    think = page.locator('.fallback-card[data-scenario="think"]')
    await expect(think.locator("[data-problem-for]")).to_contain_text("fallback.think[0]")
    await expect(page.locator('.fallback-card[data-scenario="default"] [data-problem-for]')).to_be_empty()
    await shot(page, "settings-fallback-problem")
    await think.get_by_role("button", name="Remove envkeyed,e1 from think").click()
    await ui.save()
    assert "fallback" not in ui.saved_config()
    assert [p["name"] for p in ui.saved_config()["Providers"]] == ["fake"]


# ---------------------------------------------------------------- Presets


async def test_presets_export_install_with_inputs_apply_and_delete(open_ui, fake, tmp_path, files):  # noqa: F811
    config = base_config(fake)
    config["Providers"][0]["api_key"] = SECRET
    ui = await open_ui(config)
    page = ui.page
    await ui.tab("Presets")
    await expect(page.locator("#presets-empty")).to_be_visible()
    # Export: a download, without the key.
    await page.get_by_label("Preset name").fill("mine")
    await page.get_by_label("Description").fill("my setup")
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Download .ccrsets").click()
    download = await waiting.value
    assert download.suggested_filename == "mine.ccrsets"
    exported = tmp_path / "mine.ccrsets"
    await download.save_as(str(exported))
    assert SECRET.encode() not in exported.read_bytes()
    # Install it again from the file: the form asks for the key.
    await page.get_by_label("Preset file (.ccrsets)").set_input_files(str(exported))
    await page.get_by_label("Name (optional)").fill("again")
    await page.get_by_role("button", name="Continue…").click()
    form = page.locator("#preset-inputs")
    await expect(form).to_be_visible()
    await expect(page.locator("#preset-risks")).to_be_hidden()
    key_field = form.locator("#preset-fields input").first
    await key_field.fill("sk-entered-at-install-0000")
    await shot(page, "presets-inputs")
    await form.get_by_role("button", name="Install").click()
    row = page.locator('#presets-rows tr[data-preset="again"]')
    await expect(row.locator(".status")).to_have_text("ready")
    # From a URL, a risky one: the risks are shown and need trust.
    risky = manifest("risky", claudeCodeSettings={"statusLine": {"type": "command", "command": "echo hi"}})
    url = files.serve("/risky.ccrsets", preset_zip(risky))
    await page.get_by_label("…or its URL").fill(url)
    await page.get_by_role("button", name="Continue…").click()
    await expect(page.locator("#preset-risks")).to_contain_text("claudeCodeSettings.statusLine")
    await shot(page, "presets-trust")
    await form.get_by_role("button", name="Install").click()
    await expect(page.locator("#preset-inputs-error")).to_contain_text("I trust this preset")
    await page.get_by_label("I trust this preset and want these settings").check()
    await form.get_by_role("button", name="Install").click()
    risky_row = page.locator('#presets-rows tr[data-preset="risky"]')
    await expect(risky_row.locator(".status")).to_have_text("needs inputs")
    # Apply fills its input.
    await risky_row.get_by_role("button", name="Apply preset risky").click()
    await form.get_by_label("API Key").fill("sk-risky-key-000000000000")
    await form.get_by_role("button", name="Apply").click()
    await expect(page.locator("#notice")).to_contain_text("Preset risky is ready")
    await expect(risky_row.locator(".status")).to_have_text("ready")
    await confirm(page, True, risky_row.get_by_role("button", name="Delete preset risky"))
    await expect(risky_row).to_have_count(0)
    await expect(page.locator("#presets-rows tr")).to_have_count(1)
    await shot(page, "presets-list")


# ---------------------------------------------------------------- Providers look and test


async def test_provider_cards_search_and_connection_test(open_ui, fake):
    config = two_providers(fake)
    config["Providers"].append({"name": "dead", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
                                "api_key": "sk-dead-provider-key-0000", "models": ["d1"]})
    ui = await open_ui(config)
    page = ui.page
    cards = page.locator("#providers-rows tr")
    await expect(cards).to_have_count(3)
    await expect(cards.first.locator(".chip")).to_have_text(["fake-model", "Other-Model"])
    await page.get_by_label("Search providers").fill("other-model")
    await expect(page.locator("#providers-rows tr:visible")).to_have_count(1)
    await page.get_by_label("Search providers").fill("")
    await expect(page.locator("#providers-rows tr:visible")).to_have_count(3)
    fake_card = page.locator('#providers-rows tr[data-provider="fake"]')
    await fake_card.get_by_role("button", name="Test connection to fake").click()
    await expect(fake_card.locator(".probe-result")).to_have_text(re.compile(r"^OK · \d+ ms$"))
    sent = fake.requests[-1].body
    assert sent["model"] == "fake-model" and sent["max_tokens"] == 1  # one token, through the server
    dead = page.locator('#providers-rows tr[data-provider="dead"]')
    await dead.get_by_role("button", name="Test connection to dead").click()
    await expect(dead.locator(".probe-result")).to_contain_text("Failed (HTTP 5")
    await shot(page, "providers-cards")


# ---------------------------------------------------------------- 420 px

WIDEST = """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 421
  && e.offsetParent !== null).slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)"""


async def test_every_tab_fits_a_420_px_screen(open_ui, fake, tmp_path):
    logs = tmp_path / "ccr" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "ccr-20250102000000.log").write_text(json.dumps(
        {"time": "2025-01-02T00:00:00Z", "level": "info", "event": "a_very_long_event_name_" * 4,
         "request_id": "req-" + "x" * 40, "provider": "fake", "model": "fake-model", "status": 200}) + "\n")
    ui = await open_ui(two_providers(fake))
    page = ui.page
    await page.set_viewport_size({"width": 420, "height": 900})
    for tab in ("Providers", "Router", "Transformers", "Settings", "Presets", "Logs", "Raw config"):
        await ui.tab(tab)
        width = await page.evaluate("document.documentElement.scrollWidth")
        await shot(page, f"narrow-{tab.split()[0].lower()}")
        widest = await page.evaluate(WIDEST)
        assert width <= 420, f"{tab} is {width} px wide at 420 px; sticking out: {widest}"


# ---------------------------------------------------------------- Logs


def request_lines() -> list[dict[str, Any]]:
    return [{"time": "2025-01-02T10:00:00.123Z", "level": "info", "event": "request_received", "request_id": "req-1"},
            {"time": "2025-01-02T10:00:01Z", "level": "info", "event": "routed", "request_id": "req-2",
             "provider": "fake", "model": "fake-model"},
            {"time": "2025-01-02T10:00:02Z", "level": "error", "event": "upstream_failed", "request_id": "req-1",
             "provider": "fake", "model": "fake-model", "status": 502}]


async def test_logs_show_columns_follow_new_lines_and_one_request(open_ui, fake, tmp_path):
    logs = tmp_path / "ccr" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "ccr-20250102000000.log"
    log.write_text("".join(json.dumps(x) + "\n" for x in request_lines()))
    ui = await open_ui(base_config(fake, LOG=False))  # the server's own logs would be files too
    page = ui.page
    await ui.tab("Logs")
    lines = page.locator("#log-lines li")
    await expect(lines).to_have_count(3)
    last = lines.last
    await expect(last.locator(".col-time")).to_have_text("2025-01-02 10:00:02")
    await expect(last.locator(".col-level")).to_have_text("error")
    await expect(last.locator(".col-event")).to_have_text("upstream_failed")
    await expect(last.locator(".col-request")).to_have_text("req-1")
    await expect(last.locator(".col-route")).to_have_text("fake,fake-model")
    await expect(last.locator(".col-status")).to_have_text("502")
    assert "{" not in await last.inner_text()  # columns, not JSON
    await last.get_by_role("button", name="Show every line of request req-1").click()
    await expect(lines).to_have_count(2)
    await expect(page.locator("#log-request")).to_contain_text("req-1")
    await shot(page, "logs-request")
    await page.get_by_role("button", name="Show all lines").click()
    await expect(lines).to_have_count(3)
    await page.get_by_label("Follow (new lines appear)").check()
    with log.open("a") as fh:
        fh.write(json.dumps({"level": "info", "event": "appeared_later", "request_id": "req-3"}) + "\n")
    await expect(lines).to_have_count(4, timeout=15_000)
    await expect(lines.last.locator(".col-event")).to_have_text("appeared_later")
    await shot(page, "logs-columns")


# ---------------------------------------------------------------- fixes


async def test_raw_edits_are_unsaved_changes_and_leaving_warns(open_ui, fake):
    ui = await open_ui(base_config(fake))
    page = ui.page
    await ui.tab("Raw config")
    editor = page.get_by_label("Config (JSON)")
    family = await editor.evaluate("e => getComputedStyle(e).fontFamily")
    assert "monospace" in family.lower()
    await expect(page.locator("#dirty-state")).to_have_text("No unsaved changes")
    config = json.loads(await editor.input_value())
    config["API_TIMEOUT_MS"] = 12345
    await editor.fill(json.dumps(config, indent=2))
    await expect(page.locator("#dirty-state")).to_have_text("Unsaved changes")
    asked: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def answer(dialog: Dialog) -> None:
        asked.set_result(dialog.type)
        await dialog.dismiss()  # stay on the page

    page.once("dialog", answer)
    await page.close(run_before_unload=True)
    assert await asyncio.wait_for(asked, 10) == "beforeunload"
    # The top Save saves the Raw tab's text.
    await ui.save()
    assert ui.saved_config()["API_TIMEOUT_MS"] == 12345


async def test_a_failed_save_leaves_no_stale_success_notice(open_ui, fake):
    ui = await open_ui(base_config(fake))
    page = ui.page
    await page.get_by_role("button", name="Save & restart").click()
    notice = page.locator("#notice")
    await expect(notice).to_contain_text("the server is back")
    await ui.tab("Raw config")
    await page.get_by_label("JSON5 (comments, trailing commas): checked by the server").check()
    await page.get_by_label("Config (JSON)").fill("{a: }")
    await page.get_by_role("button", name="Save raw config").click()
    error = page.locator("#raw-error")
    await expect(error).to_contain_text("Expected a value")
    await expect(error).not_to_contain_text("b'")
    await expect(notice).to_be_hidden()
    await shot(page, "raw-json5-error")


async def test_deleting_a_provider_the_router_uses_warns_next_to_the_route(open_ui, fake):
    config = two_providers(fake)
    config["Router"]["background"] = "envkeyed,e1"
    ui = await open_ui(config)
    page = ui.page
    await confirm(page, True, page.get_by_role("button", name="Delete provider envkeyed"))
    await expect(page.locator("#notice")).to_contain_text("the Router still uses it for: background")
    await expect(page.locator("#notice")).to_have_class(re.compile(r"\bwarn\b"))
    await ui.tab("Router")
    await expect(page.locator("#route-background-warning")).to_contain_text("envkeyed,e1 is not a configured model")
    await expect(page.locator("#route-default-warning")).to_be_empty()
    await shot(page, "router-warning")


# ---------------------------------------------------------------- keys


async def test_keys_are_masked_in_the_raw_tab_revealed_on_request_and_kept_on_save(open_ui, fake):
    ui = await open_ui(two_providers(fake))
    page = ui.page
    await ui.tab("Raw config")
    editor = page.get_by_label("Config (JSON)")
    text = await editor.input_value()
    assert SECRET not in text and f"{SECRET[:3]}…{SECRET[-4:]}" in text and "$ENVKEYED_KEY" in text
    assert SECRET not in await page.content()
    # Saving the masked text keeps the stored key.
    config = json.loads(text)
    config["API_TIMEOUT_MS"] = 777
    await editor.fill(json.dumps(config, indent=2))
    await page.get_by_role("button", name="Save raw config").click()
    await expect(page.locator("#notice")).to_contain_text("Config saved")
    saved = ui.saved_config()
    assert saved["Providers"][0]["api_key"] == SECRET and saved["API_TIMEOUT_MS"] == 777
    await page.get_by_role("button", name="Show keys").click()
    await expect(editor).to_have_value(re.compile(SECRET))
    assert ("GET", "/api/config?reveal=1", None) in ui.api_calls
    await page.get_by_role("button", name="Reset to the draft").click()
    assert SECRET not in await editor.input_value()
