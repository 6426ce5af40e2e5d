"""`vertex-gemini` and `vertex-openai` end to end (transformers.md §5.9 VX1, VX2, VX6): the anthropic
SDK -> ccr-aio -> fake Vertex + fake OAuth endpoint, with the token cached across requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import pytest

from ccr_aio.providers import Provider, build_provider
from ccr_aio.settings import ConfigError
from ccr_aio.transformers import BUILTINS
from ccr_aio.transformers.base import Context
from ccr_aio.transformers.dialects.gemini.vertex_gemini import VertexGemini
from tests.conftest import sdk
from tests.fakes.gemini_upstream import part_chunk
from tests.fakes.openai_upstream import FakeUpstream, completion, json_reply
from tests.fakes.vertex_upstream import FakeVertex, start_vertex

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def clean_google_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def vertex(aiohttp_server: Any, tmp_path: Path) -> tuple[FakeVertex, Path]:
    return await start_vertex(aiohttp_server, tmp_path)


def gemini_config(fake: FakeVertex, options: dict[str, Any]) -> dict[str, Any]:
    provider = {
        "name": "vg",
        "api_base_url": str(fake.server.make_url("")),  # type: ignore[attr-defined]
        "api_key": "placeholder",
        "models": ["gemini-2.5-pro"],
        "transformer": {"use": [["vertex-gemini", options]] if options else ["vertex-gemini"]},
    }
    return {"Providers": [provider], "Router": {"default": "vg,gemini-2.5-pro"}}


@pytest.mark.in_process  # asserts one OAuth token for both requests: the token is cached per process
async def test_vertex_gemini_stream_url_auth_and_token_cache(make_client: Any, vertex: tuple[FakeVertex, Path]) -> None:
    fake, key = vertex
    client = await make_client(gemini_config(fake, {"credentials": str(key)}))
    fake.gemini.queue(
        [part_chunk([{"text": "Hi", "thought": False}]), part_chunk([{"text": " there"}], "STOP", (5, 2, 0))],
        [part_chunk([{"text": "Again"}], "STOP", (5, 1, 0))],
    )
    api = sdk(client)
    async with api.messages.stream(model="claude-x", max_tokens=100, messages=USER) as stream:
        first = await stream.get_final_message()
    second = await api.messages.create(model="claude-x", max_tokens=100, messages=USER)
    assert first.content[0].text == "Hi there" and first.usage.output_tokens == 2
    assert second.content[0].text == "Again"

    stream_call, json_call = fake.gemini.requests
    assert stream_call.path == "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-pro:streamGenerateContent"
    assert stream_call.query == {"alt": "sse"}  # [FIX] the reference forgot it
    assert json_call.action == "generateContent"
    for call in (stream_call, json_call):
        lowered = {k.lower(): v for k, v in call.headers.items()}
        assert lowered["authorization"] == "Bearer tok-1" and "x-goog-api-key" not in lowered
    assert fake.issued == ["tok-1"]
    assert stream_call.body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]


async def test_vertex_gemini_refreshes_an_expiring_token(make_client: Any, aiohttp_server: Any, tmp_path: Path) -> None:
    fake, key = await start_vertex(aiohttp_server, tmp_path, expires_in=30)  # always inside the 60 s margin
    client = await make_client(gemini_config(fake, {"credentials": str(key)}))
    api = sdk(client)
    for _ in range(2):
        await api.messages.create(model="claude-x", max_tokens=10, messages=USER)
    assert fake.issued == ["tok-1", "tok-2"]
    assert [r.headers["Authorization"] for r in fake.gemini.requests] == ["Bearer tok-1", "Bearer tok-2"]


async def test_vertex_gemini_project_and_location_from_env(
    make_client: Any, vertex: tuple[FakeVertex, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, key = vertex
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(key), "GOOGLE_CLOUD_PROJECT": "P", "GOOGLE_CLOUD_LOCATION": "europe-west4"}
    for name, value in env.items():  # the app in process reads this process's environment
        monkeypatch.setenv(name, value)
    client = await make_client(gemini_config(fake, {}), env=env)
    await sdk(client).messages.create(model="claude-x", max_tokens=10, messages=USER)
    assert fake.gemini.requests[0].path.startswith("/v1/projects/P/locations/europe-west4/publishers/google/")


async def test_vx1_url_shape_with_stubbed_token() -> None:
    transformer = VertexGemini({"project": "P"})

    async def token() -> str:
        return "stub-token"

    transformer.google_auth.token = token  # type: ignore[method-assign]
    provider = Provider(name="v", api_base_url="https://us-central1-aiplatform.googleapis.com", api_key="x")
    request = {"model": "gemini-2.5-pro", "stream": True, "messages": USER}
    body, options = await transformer.request_in(request, provider, Context(model="gemini-2.5-pro"))
    assert options.url == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/P/locations/us-central1/publishers/google/"
        "models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    )
    assert options.headers == {"Authorization": "Bearer stub-token", "x-goog-api-key": None}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]


async def test_vx2_missing_project_is_a_500_that_says_what_to_set(make_client: Any, vertex: tuple[FakeVertex, Path]) -> None:
    fake, _ = vertex
    client = await make_client(gemini_config(fake, {}))
    with pytest.raises(anthropic.InternalServerError) as info:
        await sdk(client).messages.create(model="claude-x", max_tokens=10, messages=USER)
    assert info.value.status_code == 500 and "GOOGLE_CLOUD_PROJECT" in str(info.value)
    assert fake.gemini.requests == []


async def test_vx6_vertex_openai_sends_the_oauth_token(make_client: Any, vertex: tuple[FakeVertex, Path], fake: FakeUpstream) -> None:
    vx, key = vertex
    provider = {
        "name": "vo",
        "api_base_url": fake.url,  # type: ignore[attr-defined]
        "api_key": "placeholder",
        "models": ["google/gemini-2.5-pro"],
        "transformer": {"use": [["vertex-openai", {"credentials": str(key)}]]},
    }
    client = await make_client({"Providers": [provider], "Router": {"default": "vo,google/gemini-2.5-pro"}})
    fake.queue(json_reply(completion("from vertex openai")))
    message = await sdk(client).messages.create(model="claude-x", max_tokens=10, messages=USER)
    assert message.content[0].text == "from vertex openai"
    assert fake.requests[0].headers["Authorization"] == "Bearer tok-1"
    assert fake.requests[0].body["model"] == "google/gemini-2.5-pro"
    assert vx.issued == ["tok-1"]


def test_vx6_vertex_openai_without_options_is_a_config_error() -> None:
    entry = {"name": "vo", "api_base_url": "https://x", "api_key": "k", "models": ["m"], "transformer": {"use": ["vertex-openai"]}}
    with pytest.raises(ConfigError, match="vertex-openai.*client_email"):
        build_provider(entry, BUILTINS)
