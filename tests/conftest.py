"""Shared fixtures: a fake provider on 127.0.0.1, the app under test, and SDK clients.

The app under test runs in process by default. With `--server-workers N` (or the environment
variable CCR_TEST_WORKERS=N) the end-to-end tests run against a real `ccr_aio --workers N`
server process instead (tests/live_server.py); `make test` does so with 2 workers. A test is
end-to-end (marker `e2e`, set here) when it gets its server from `make_client` (or `client`):
it talks HTTP to the server and nothing else, so a process serves it as well as the app in
process. A test that also reads or changes the in-process app (`client.app`, the app's module
globals) is marked `in_process`: it keeps the in-process app and is not part of the e2e run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anthropic
import pytest

from ccr_aio.app import create_app
from ccr_aio.settings import build_settings
from tests.fakes.openai_upstream import FakeUpstream

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data"
WORKERS_ENV = "CCR_TEST_WORKERS"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--server-workers", type=int, default=int(os.environ.get(WORKERS_ENV) or 0), metavar="N",
        help=f"run the e2e tests against a real server process with N workers (0: the app in "
             f"process; default ${WORKERS_ENV} or 0)")


@pytest.hookimpl(tryfirst=True)  # before `-m` selects on the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "make_client" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("in_process"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def server_forker() -> Any:
    from tests.server_forker import Forker

    forker = Forker()
    yield forker
    forker.close()


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
async def make_client(aiohttp_server: Any, aiohttp_client: Any, tmp_path: Path, isolated_home: Path,
                      request: pytest.FixtureRequest) -> Any:
    """Start the app for a config dict and return a test client on 127.0.0.1: in process, or
    (an e2e test in a `--server-workers N` run) a server process with `env` as its environment.
    (`aiohttp_server` first: the fake providers it starts close after the app, not before.)"""
    workers = request.config.getoption("server_workers")
    as_process = workers > 0 and request.node.get_closest_marker("e2e") is not None
    forker = request.getfixturevalue("server_forker") if as_process else None
    started: list[Any] = []

    async def start(config: dict[str, Any], env: dict[str, str] | None = None) -> Any:
        path = tmp_path / "ccr" / "config.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config))
        if as_process:
            from tests.live_server import start_client

            process_env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(isolated_home), **(env or {})}
            output = tmp_path / f"server-{len(started)}.out"
            client = await start_client(forker, path, process_env, workers, output)
            started.append(client)
        else:
            settings = build_settings(config, path, env or {})
            client = await aiohttp_client(create_app(settings), server_kwargs={"host": "127.0.0.1"})
        client.config_path = path
        return client

    yield start
    failures = []
    for client in started:  # every process is stopped, whatever the first one reports
        try:
            await client.close()
        except AssertionError as exc:
            failures.append(exc)
    if failures:
        raise failures[0]


@pytest.fixture
async def client(make_client: Callable[..., Any], fake: FakeUpstream) -> Any:
    return await make_client(base_config(fake))


_sdk_clients: list[anthropic.AsyncAnthropic] = []


def sdk(client: Any, api_key: str = "test-key", **kwargs: Any) -> anthropic.AsyncAnthropic:
    """The official SDK pointed at the app; closed after the test by `close_sdk_clients`. On a
    server process with workers, each request on a new connection, as the client's own."""
    if getattr(client, "fresh_connections", False):
        kwargs["default_headers"] = {"Connection": "close", **kwargs.get("default_headers", {})}
    made = anthropic.AsyncAnthropic(base_url=str(client.make_url("")).rstrip("/"), api_key=api_key, max_retries=0, **kwargs)
    _sdk_clients.append(made)
    return made


@pytest.fixture(autouse=True)
async def close_sdk_clients() -> Any:
    yield
    while _sdk_clients:
        await _sdk_clients.pop().close()
