"""The Activity tab in a real headless Chromium: the live table of requests, its filters, the
whole record on click, and charts that are not empty once requests were made (a screenshot of
the tab is saved as an artefact; its path is printed)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.conftest import base_config, provider_config, sdk
from tests.fakes.openai_upstream import chunk, stream_reply, usage_chunk
from tests.records_helpers import recorded
from tests.test_ui import browser, open_ui  # noqa: F401 - fixtures

USER = [{"role": "user", "content": "hi"}]
CHARTS = ("chart-requests", "chart-tokens", "chart-cost", "chart-latency", "chart-errors")


def streamed(prompt: int, completion: int) -> object:
    return stream_reply([chunk({"role": "assistant", "content": ""}), chunk({"content": "ok"}),
                         chunk({}, "stop"), usage_chunk(prompt, completion)])


def activity_config(fake) -> dict:
    config = base_config(fake)
    config["Providers"][0]["pricing"] = {"fake-model": {"input": 3.0, "output": 15.0}}
    config["Providers"].append(provider_config(fake, name="second", models=["m2"]))
    return config


async def test_activity_shows_requests_and_charts(open_ui, fake, tmp_path: Path):
    ui = await open_ui(activity_config(fake))
    client = sdk(ui.client)
    for prompt, model in ((12_000, "claude-sonnet-4"), (30_000, "claude-sonnet-4"), (8_000, "second,m2")):
        fake.queue(streamed(prompt, 900))
        async with client.messages.stream(model=model, max_tokens=10, messages=USER) as stream:
            await stream.get_final_message()
    refused = await ui.client.post("/v1/messages", json={"model": "gone,x", "max_tokens": 5, "messages": USER})
    assert refused.status == 400
    await recorded(ui.client, 4)  # with workers, each writes its records within a second
    page = ui.page
    await ui.tab("Activity")
    await expect(page.locator("body")).to_have_attribute("data-activity", "ready")
    rows = page.locator("#act-rows tr")
    await expect(rows).to_have_count(4)
    await expect(rows.first.locator("td").nth(4)).to_have_text("400")  # newest first
    await expect(rows.first.locator("td").nth(4)).to_have_class("status-error")
    await expect(rows.nth(1).locator("td").nth(3)).to_have_text("second,m2")
    for chart in CHARTS:  # none is empty
        await expect(page.locator(f"#{chart} svg rect.bar").first).to_be_visible()
    stacked = page.locator("#chart-requests svg rect.bar")
    assert await stacked.count() == 3  # today: fake,fake-model + second,m2 + the unrouted one
    legend = await page.locator("#chart-requests .legend li").all_inner_texts()
    assert sorted(legend) == ["(not routed)", "fake,fake-model", "second,m2"]
    await expect(page.locator("#act-summary")).to_contain_text("4 requests · 1 error · ")

    await page.get_by_label("Status", exact=True).select_option("error")
    await expect(rows).to_have_count(1)
    await page.get_by_label("Status", exact=True).select_option("")
    await page.get_by_label("Provider", exact=True).select_option("second")
    await expect(rows).to_have_count(1)
    await page.get_by_label("Provider", exact=True).select_option("")
    await expect(rows).to_have_count(4)

    record_id = await rows.nth(2).get_attribute("data-id")
    await rows.nth(2).get_by_role("button").click()
    dialog = page.get_by_role("dialog", name=f"Request {record_id}")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("pre")).to_contain_text('"output_tokens": 900')
    await expect(dialog.locator("pre")).to_contain_text('"cost_usd": ')
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()

    fake.queue(streamed(5_000, 100))  # the table refreshes itself
    async with client.messages.stream(model="claude-sonnet-4", max_tokens=10, messages=USER) as stream:
        await stream.get_final_message()
    await expect(rows).to_have_count(5, timeout=15_000)

    shot = tmp_path / "activity.png"
    await page.set_viewport_size({"width": 1280, "height": 1300})  # the whole tab, no scrolling
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    print(f"\nActivity tab screenshot: {shot}")


async def test_activity_says_when_records_are_off(open_ui, fake):
    ui = await open_ui(base_config(fake, USAGE=False))
    await ui.tab("Activity")
    off = ui.page.locator("#activity-off")
    await expect(off).to_be_visible()
    await expect(off).to_contain_text("USAGE is false")
    await expect(ui.page.locator("#activity-body")).to_be_hidden()
