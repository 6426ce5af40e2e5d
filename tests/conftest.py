"""Shared fixtures: a fake provider on 127.0.0.1, the app under test, and SDK clients."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anthropic
import pytest

from ccr_aio.app import create_app
from ccr_aio.settings import build_settings
from tests.fakes.openai_upstream import FakeUpstream

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the real ~/.claude-code-router or ~/.claude."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


async def start_fake(aiohttp_server: Any) -> FakeUpstream:
    upstream = FakeUpstream()
    server = await aiohttp_server(upstream.app(), host="127.0.0.1")
    upstream.url = str(server.make_url("/v1/chat/completions"))  # type: ignore[attr-defined]
    upstream.server = server  # type: ignore[attr-defined]
    return upstream


@pytest.fixture
async def fake(aiohttp_server: Any) -> FakeUpstream:
    return await start_fake(aiohttp_server)


@pytest.fixture
def make_fake(aiohttp_server: Any) -> Callable[[], Awaitable[FakeUpstream]]:
    """Another fake provider, for tests that need several (a primary and its fallback)."""
    return lambda: start_fake(aiohttp_server)


def provider_config(fake: FakeUpstream, **extra: Any) -> dict[str, Any]:
    return {
        "name": "fake",
        "api_base_url": fake.url,  # type: ignore[attr-defined]
        "api_key": "sk-fake-provider",
        "models": ["fake-model", "Other-Model"],
        **extra,
    }


def base_config(fake: FakeUpstream, **extra: Any) -> dict[str, Any]:
    return {"Providers": [provider_config(fake)], "Router": {"default": "fake,fake-model"}, **extra}


@pytest.fixture
def make_client(aiohttp_client: Any, tmp_path: Path) -> Callable[..., Any]:
    """Start the app for a config dict and return a test client on 127.0.0.1."""

    async def start(config: dict[str, Any], env: dict[str, str] | None = None) -> Any:
        path = tmp_path / "ccr" / "config.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config))
        settings = build_settings(config, path, env or {})
        return await aiohttp_client(create_app(settings), server_kwargs={"host": "127.0.0.1"})

    return start


@pytest.fixture
async def client(make_client: Callable[..., Any], fake: FakeUpstream) -> Any:
    return await make_client(base_config(fake))


_sdk_clients: list[anthropic.AsyncAnthropic] = []


def sdk(client: Any, api_key: str = "test-key", **kwargs: Any) -> anthropic.AsyncAnthropic:
    """The official SDK pointed at the app; closed after the test by `close_sdk_clients`."""
    made = anthropic.AsyncAnthropic(base_url=str(client.make_url("")).rstrip("/"), api_key=api_key, max_retries=0, **kwargs)
    _sdk_clients.append(made)
    return made


@pytest.fixture(autouse=True)
async def close_sdk_clients() -> Any:
    yield
    while _sdk_clients:
        await _sdk_clients.pop().close()
