"""What a user reads when a provider connection fails, and Claude Code's pre-connect probe.

A dropped or refused provider connection is reported in words, never as aiohttp's repr
(`<TransferEncodingError: 400, message='Not enough data for satisfy transfer length header.'>`).
`HEAD /api/hello`, which Claude Code sends before it connects, answers like /health: no key.
"""

from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any

import aiohttp
import anthropic
import pytest

from ccr_aio.pipeline.upstream import client_error_words
from tests.conftest import base_config, provider_config, sdk
from tests.fakes.openai_upstream import stream_reply, text_chunks
from tests.stream_grammar import check_stream

USER = [{"role": "user", "content": "hi"}]
AIOHTTP_WORDS = ("<", "Error", "aiohttp", "ConnectionKey", "Not enough data")


def assert_in_words(message: str) -> None:
    assert not any(word in message for word in AIOHTTP_WORDS), message


async def test_dropped_stream_is_reported_in_words(client: Any, fake: Any) -> None:
    fake.queue(stream_reply(text_chunks(["partial", " answer", " never", " finished"]), drop_after=3))
    events: list[dict[str, Any]] = []
    with pytest.raises(anthropic.APIStatusError) as info:
        async for event in await sdk(client).messages.create(model="m", max_tokens=10, messages=USER, stream=True):
            events.append(event.model_dump())
    error = info.value.body["error"]
    check_stream([*events, {"type": "error", "error": error}], complete=False)
    assert error["type"] == "api_error"
    assert error["message"] == (
        "Provider fake,fake-model dropped the connection mid-response: "
        "the connection closed before the answer was complete"
    )


async def test_dropped_json_answer_is_reported_in_words(client: Any, fake: Any) -> None:
    fake.queue(stream_reply(text_chunks(["partial", " answer"]), drop_after=2))
    with pytest.raises(anthropic.APIStatusError) as info:
        await sdk(client).messages.create(model="m", max_tokens=10, messages=USER)
    assert info.value.status_code == 502
    message = info.value.body["error"]["message"]
    assert message.endswith("dropped the connection mid-response: the connection closed before the answer was complete")
    assert_in_words(message)


async def test_refused_connection_is_reported_in_words(make_client: Any, fake: Any) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = {**provider_config(fake), "api_base_url": f"http://127.0.0.1:{port}/v1/chat/completions"}
    client = await make_client({"Providers": [provider], "Router": {"default": "fake,fake-model"}})
    with pytest.raises(anthropic.APIStatusError) as info:
        await sdk(client).messages.create(model="m", max_tokens=10, messages=USER)
    assert info.value.status_code == 502
    message = info.value.body["error"]["message"]
    assert message == f"Provider fake (fake-model) is unreachable: could not connect to 127.0.0.1:{port} (connection refused)"


def test_connection_errors_in_words() -> None:
    key = SimpleNamespace(host="api.example", port=443, ssl=True, is_ssl=True)
    cases = {
        aiohttp.ServerDisconnectedError(): "the provider closed the connection without answering",
        aiohttp.ClientConnectorError(key, socket.gaierror(-2, "Name or service not known")):  # type: ignore[arg-type]
            "the host name api.example could not be resolved",
        aiohttp.ClientProxyConnectionError(key, ConnectionRefusedError(111, "Connect call failed")):  # type: ignore[arg-type]
            "could not connect to the proxy api.example:443 (connection refused)",
        aiohttp.ClientPayloadError("Response payload is not completed"): "the connection closed before the answer was complete",
        aiohttp.ClientOSError(104, "Connection reset by peer"): "a network error occurred (connection reset by peer)",
    }
    for exc, words in cases.items():
        assert client_error_words(exc) == words


@pytest.mark.parametrize("method", ["HEAD", "GET"])
async def test_api_hello_answers_without_a_key_like_health(make_client: Any, fake: Any, method: str) -> None:
    client = await make_client(base_config(fake, APIKEY="secret-key"))
    response = await client.request(method, "/api/hello")
    assert response.status == 200
    if method == "GET":
        assert (await response.json())["status"] == "ok"
    assert (await client.request(method, "/api/config")).status == 401  # the rest of /api stays closed
