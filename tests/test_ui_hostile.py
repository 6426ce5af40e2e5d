"""Hostile pages in a real Chromium against a first-run server (no providers, no key: the most
open mode): a page on another site, and a page on a domain that resolves to 127.0.0.1 (DNS
rebinding, via Chromium's host resolver rules). Neither may read or change anything."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
import pytest
from aiohttp import web
from playwright.async_api import Browser, async_playwright

from ccr_aio.app import create_app
from ccr_aio.settings import build_settings
from ccr_aio.state import STATE

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--host-resolver-rules=MAP evil.test 127.0.0.1"]
FIRST_RUN = {"Providers": [], "Router": {}}
TAKEOVER = {"Providers": [{"name": "evil", "api_base_url": "http://evil.test/v1/chat/completions", "models": ["m"]}],
            "Router": {"default": "evil,m"}}

# What a page on another site tries; each outcome lands in window.results.
ATTACK = """
const target = %(target)s, takeover = %(takeover)s, results = {};
const outcome = (promise) => promise.then((r) => r, (e) => "blocked: " + e.name);
results.simplePost = await outcome(fetch(target + "/api/config", {method: "POST", mode: "no-cors",
  headers: {"Content-Type": "text/plain"}, body: JSON.stringify(takeover)}).then((r) => r.type));
results.corsPost = await outcome(fetch(target + "/api/config", {method: "POST",
  headers: {"Content-Type": "application/json"}, body: JSON.stringify(takeover)}).then((r) => r.status));
results.read = await outcome(fetch(target + "/api/config").then((r) => r.text()));
const load = (tag, url) => new Promise((resolve) => {
  const node = document.createElement(tag);
  node.onload = () => resolve("loaded");
  node.onerror = () => resolve("error");
  node.src = url;
  document.body.append(node);
});
results.script = await load("script", target + "/static/api.js");
results.img = await load("img", target + "/static/favicon.svg");
window.results = results;
"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def first_run_server(aiohttp_client: Any, tmp_path: Path) -> tuple[Any, dict[tuple[str, str], int]]:
    """The app on a first-run config, and what it answered: (method, path) -> status."""
    path = tmp_path / "ccr" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(FIRST_RUN))
    app = create_app(build_settings(FIRST_RUN, path, {}))
    answered: dict[tuple[str, str], int] = {}

    async def note(request: web.Request, response: web.StreamResponse) -> None:
        answered[(request.method, request.path)] = response.status

    app.on_response_prepare.append(note)
    return await aiohttp_client(app, server_kwargs={"host": "127.0.0.1"}), answered


async def test_a_page_on_another_site_cannot_set_up_read_or_probe_the_server(aiohttp_client, aiohttp_server,
                                                                             browser, tmp_path):
    client, answered = await first_run_server(aiohttp_client, tmp_path)
    path = client.app[STATE].current.settings.config_path
    before = path.read_text()
    script = ATTACK % {"target": json.dumps(f"http://127.0.0.1:{client.port}"), "takeover": json.dumps(TAKEOVER)}
    page_html = f"<!doctype html><body><script type=module>{script}</script></body>"

    async def evil_page(request: web.Request) -> web.Response:
        return web.Response(text=page_html, content_type="text/html")

    evil = web.Application()
    evil.router.add_get("/", evil_page)
    evil_server = await aiohttp_server(evil, host="127.0.0.1")
    page = await (await browser.new_context()).new_page()
    await page.goto(f"http://localhost:{evil_server.port}/")  # localhost vs 127.0.0.1: another site
    results = await (await page.wait_for_function("window.results")).json_value()

    assert path.read_text() == before  # no takeover
    assert client.app[STATE].current.settings.config.providers == ()
    assert str(results["read"]).startswith("blocked")
    assert results["script"] == "error" and results["img"] == "error"  # not even "ccr-aio runs here"
    assert answered == {("POST", "/api/config"): 403, ("OPTIONS", "/api/config"): 403, ("GET", "/api/config"): 403,
                        ("GET", "/static/api.js"): 403, ("GET", "/static/favicon.svg"): 403}


async def test_a_rebinding_domain_gets_403_for_everything(make_client, browser):
    client = await make_client(FIRST_RUN)
    page = await (await browser.new_context()).new_page()
    for target in ("/api/config", "/ui/", "/api/logs/files"):
        response = await page.goto(f"http://evil.test:{client.port}{target}")
        assert response is not None and response.status == 403, target
        assert "does not name this server" in await page.content()
    response = await page.goto(f"http://127.0.0.1:{client.port}/ui/")  # the real address still works
    assert response is not None and response.status == 200
