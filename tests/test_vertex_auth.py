"""Google OAuth tokens for Vertex (transformers.md §7 "Google auth"): the JWT-bearer grant against a
fake token endpoint that verifies the RS256 signature with the throwaway key's public half,
caching until 60 s before expiry, one refresh at a time, and clear errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from ccr_aio.errors import ApiError
from ccr_aio.google_auth import (
    GoogleAuth,
    vertex_location,
    vertex_project,
    vertex_url,
)
from ccr_aio.settings import ConfigError
from tests.fakes.vertex_upstream import FakeVertex, start_vertex


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def vertex(aiohttp_server: Any, tmp_path: Path) -> tuple[FakeVertex, Path]:
    return await start_vertex(aiohttp_server, tmp_path)


async def test_service_account_token_is_fetched_and_cached(vertex: tuple[FakeVertex, Path]) -> None:
    fake, key = vertex
    clock = Clock()
    auth = GoogleAuth({"credentials": str(key)}, clock=clock)
    assert await auth.token() == "tok-1"
    claims = fake.assertions[0]
    assert claims["iss"] == "ccr@proj-1.iam.gserviceaccount.com" and claims["iat"] == int(clock.now)
    clock.now += 3600 - 61  # still more than 60 s left
    assert await auth.token() == "tok-1"
    assert fake.issued == ["tok-1"] and auth.fetches == 1


async def test_token_is_refreshed_60s_before_expiry(vertex: tuple[FakeVertex, Path]) -> None:
    fake, key = vertex
    clock = Clock()
    auth = GoogleAuth({"credentials": str(key)}, clock=clock)
    assert await auth.token() == "tok-1"
    clock.now += 3600 - 60
    assert await auth.token() == "tok-2"
    assert await auth.token() == "tok-2"
    assert len(fake.assertions) == 2


async def test_concurrent_requests_share_one_fetch(vertex: tuple[FakeVertex, Path]) -> None:
    fake, key = vertex
    fake.gate = asyncio.Event()
    auth = GoogleAuth({"credentials": str(key)})
    tasks = [asyncio.create_task(auth.token()) for _ in range(5)]
    await asyncio.wait_for(fake.token_started.wait(), 5)
    fake.gate.set()
    assert await asyncio.gather(*tasks) == ["tok-1"] * 5
    assert fake.issued == ["tok-1"]


async def test_refresh_does_not_block_requests_while_the_old_token_is_valid(vertex: tuple[FakeVertex, Path]) -> None:
    fake, key = vertex
    clock = Clock()
    auth = GoogleAuth({"credentials": str(key)}, clock=clock)
    assert await auth.token() == "tok-1"
    clock.now += 3600 - 30  # inside the refresh margin, not yet expired
    fake.gate, fake.token_started = asyncio.Event(), asyncio.Event()
    refresh = asyncio.create_task(auth.token())
    await asyncio.wait_for(fake.token_started.wait(), 5)
    assert await asyncio.wait_for(auth.token(), 1) == "tok-1"  # answered while the refresh waits
    fake.gate.set()
    assert await refresh == "tok-2"
    assert await auth.token() == "tok-2"


async def test_failed_early_refresh_keeps_the_valid_token(vertex: tuple[FakeVertex, Path]) -> None:
    fake, key = vertex
    clock = Clock()
    auth = GoogleAuth({"credentials": str(key)}, clock=clock)
    assert await auth.token() == "tok-1"
    fake.token_status = 503
    clock.now += 3600 - 30
    assert await auth.token() == "tok-1"
    clock.now += 31  # expired: now the failure surfaces
    with pytest.raises(ApiError):
        await auth.token()


async def test_credentials_from_env_and_project_from_key_file(
    vertex: tuple[FakeVertex, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = vertex
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    auth = GoogleAuth({})
    assert await vertex_project(auth, {}) == "proj-1"
    assert await auth.token() == "tok-1"
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-proj")
    assert await vertex_project(auth, {}) == "env-proj"
    assert await vertex_project(auth, {"project": "opt-proj"}) == "opt-proj"


async def test_inline_key_with_escaped_newlines(vertex: tuple[FakeVertex, Path]) -> None:
    _, key = vertex
    info = json.loads(key.read_text())
    options = {"client_email": info["client_email"], "private_key": info["private_key"].replace("\n", "\\n"),
               "token_uri": info["token_uri"]}
    assert await GoogleAuth.require_inline(options, "vertex-openai").token() == "tok-1"


async def test_authorized_user_refresh_token_grant(vertex: tuple[FakeVertex, Path], tmp_path: Path) -> None:
    fake, _ = vertex
    path = tmp_path / "adc.json"
    path.write_text(json.dumps({"type": "authorized_user", "client_id": "c", "client_secret": "s",
                                "refresh_token": "rt-1", "token_uri": fake.token_uri}))
    assert await GoogleAuth({"credentials": str(path)}).token() == "tok-1"


async def test_token_endpoint_errors_are_500_with_the_reason(vertex: tuple[FakeVertex, Path]) -> None:
    fake, key = vertex
    fake.token_status = 400
    with pytest.raises(ApiError) as info:
        await GoogleAuth({"credentials": str(key)}).token()
    assert info.value.status == 500 and "invalid_grant" in info.value.message


async def test_a_key_that_is_not_rsa_is_named_as_such(vertex: tuple[FakeVertex, Path]) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    fake, key = vertex
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    options = {**json.loads(key.read_text()), "private_key": pem.decode()}
    with pytest.raises(ApiError) as info:
        await GoogleAuth.require_inline(options, "vertex-openai").token()
    assert info.value.status == 500 and "needs an RSA key, not" in info.value.message
    assert fake.assertions == []


async def test_missing_credentials_explain_what_to_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    with pytest.raises(ApiError) as info:
        await GoogleAuth({}).token()
    assert "GOOGLE_APPLICATION_CREDENTIALS" in info.value.message
    with pytest.raises(ApiError) as info:  # VX2
        await vertex_project(GoogleAuth({}), {})
    assert info.value.status == 500 and "GOOGLE_CLOUD_PROJECT" in info.value.message
    with pytest.raises(ApiError) as info:
        await GoogleAuth({"credentials": str(tmp_path / "missing.json")}).token()
    assert "missing.json" in info.value.message
    with pytest.raises(ConfigError, match="client_email"):
        GoogleAuth.require_inline({}, "vertex-openai")


def test_vertex_location_and_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_LOCATION", raising=False)
    assert vertex_location({}, "us-central1") == "us-central1"
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    assert vertex_location({}, "us-central1") == "europe-west4"
    assert vertex_location({"location": "asia-east1"}, "us-central1") == "asia-east1"
    args = {"project": "P", "location": "us-central1", "publisher": "google", "model": "m", "action": "generateContent"}
    path = "projects/P/locations/us-central1/publishers/google/models/m:generateContent"
    assert vertex_url("https://us-central1-aiplatform.googleapis.com", **args) == f"https://us-central1-aiplatform.googleapis.com/v1/{path}"
    assert vertex_url("https://proxy.example/v1beta1/", **args) == f"https://proxy.example/v1beta1/{path}"
    assert vertex_url("vertex", **args) == f"https://us-central1-aiplatform.googleapis.com/v1/{path}"
    assert vertex_url("vertex", **{**args, "location": "global"}).startswith("https://aiplatform.googleapis.com/v1/")
    full = "https://h/v1/projects/X/locations/Y/publishers/google/models/"
    assert vertex_url(full, **args) == "https://h/v1/projects/X/locations/Y/publishers/google/models/m:generateContent"


def test_vertex_openai_accepts_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "key.json"))
    assert isinstance(GoogleAuth.require_inline({}, "vertex-openai"), GoogleAuth)
