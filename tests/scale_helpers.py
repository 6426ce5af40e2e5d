"""The state that must be shared across workers and instances, as scenario steps: each step
either leaves state behind (through one process) or checks it (through another).

Steps talk to a URL with the `anthropic` SDK (or plain HTTP for the admin API), optionally
with extra headers (the session header that steers nginx), and read what the one fake
provider received.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import anthropic

from ccr_aio.agents.image_cache import image_id
from tests.fakes.openai_upstream import completion, error_reply, json_reply

KEYS = ["sk-scale-key-one-0000000", "sk-scale-key-two-0000000"]
MODELS = ["main-m", "vision-m", "long-m"]
THRESHOLD = 30_000
PNG_STORED = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkstored"
PNG_OTHER = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAFklEQVR42mNkother"


def config(fake: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Providers": [{"name": "fake", "api_base_url": fake.url, "api_key": KEYS, "models": MODELS}],
        "Router": {"default": "fake,main-m", "image": "fake,vision-m", "longContext": "fake,long-m",
                   "longContextThreshold": THRESHOLD},
        **extra,
    }


def client(url: str, headers: dict[str, str] | None = None) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key="any", max_retries=0, default_headers=headers or {})


def _image(data: str) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}


def _earlier_image(data: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": [{"type": "text", "text": "Here is a screenshot"}, _image(data)]},
        {"role": "assistant", "content": [{"type": "text", "text": "Got it."}]},
        {"role": "user", "content": "What does the error say?"},
    ]


def _metadata(session: str) -> dict[str, str]:
    return {"user_id": f"user_scale_account__session_{session}"}


async def store_image(url: str, fake: Any, headers: dict[str, str] | None = None, data: str = PNG_STORED) -> None:
    """A conversation with an image: the process that serves it stores the image."""
    fake.queue(json_reply(completion("noted")))
    message = await client(url, headers).messages.create(
        model="claude-sonnet-4", max_tokens=50, messages=_earlier_image(data))  # type: ignore[arg-type]
    assert message.content[0].text == "noted"  # type: ignore[union-attr]


async def analyze_stored_image(url: str, fake: Any, headers: dict[str, str] | None = None,
                               data: str = PNG_STORED) -> None:
    """Another conversation (with another image) whose model asks for the stored image by id:
    the process serving it must find the image, wherever it was stored."""
    wanted = image_id(_image(data)["source"])
    call = {"id": "call_img", "type": "function",
            "function": {"name": "analyzeImage", "arguments": json.dumps({"imageId": [wanted], "task": "Read it"})}}
    fake.queue(json_reply(completion(None, tool_calls=[call], finish="tool_calls")),
               json_reply(completion("disk full")), json_reply(completion("The disk is full.")))
    seen = len(fake.requests)
    message = await client(url, headers).messages.create(
        model="claude-sonnet-4", max_tokens=50, messages=_earlier_image(PNG_OTHER))  # type: ignore[arg-type]
    assert message.content[0].text == "The disk is full."  # type: ignore[union-attr]
    vision = [r.body for r in fake.requests[seen:] if r.body["model"] == "vision-m"]
    assert len(vision) == 1, "the image model was not asked: the stored id did not resolve"
    assert data in json.dumps(vision[0]["messages"])


async def record_long_turn(url: str, fake: Any, session: str, headers: dict[str, str] | None = None) -> None:
    """A turn whose prompt was long (40k tokens, says the provider)."""
    big = completion("ok")
    big["usage"] = {"prompt_tokens": 40_000, "completion_tokens": 3}
    fake.queue(json_reply(big))
    await client(url, headers).messages.create(
        model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "hi"}], metadata=_metadata(session))


async def routed_after_long_turn(url: str, fake: Any, session: str, headers: dict[str, str] | None = None) -> str:
    """The model a 25k-token request of `session` goes to: long-m when the previous turn is known."""
    fake.queue(json_reply(completion("ok")))
    await client(url, headers).messages.create(
        model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "word " * 25_000}],
        metadata=_metadata(session))
    return str(fake.requests[-1].body["model"])


async def rate_limit_one_key(url: str, fake: Any, headers: dict[str, str] | None = None) -> None:
    """One key gets a 429 (retry-after 60 s); the request is served with the other key."""
    fake.queue(error_reply(429, "slow down", {"retry-after": "60"}), json_reply(completion("ok")))
    message = await client(url, headers).messages.create(
        model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "ok"  # type: ignore[union-attr]


async def cooling_keys(url: str, headers: dict[str, str] | None = None) -> list[int]:
    """The indexes of the fake provider's keys that the serving process sees cooling."""
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/api/providers/health", headers=headers or {}) as response:
            assert response.status == 200
            report = await response.json()
    keys = next(p["keys"] for p in report["providers"] if p["name"] == "fake")
    return [k["index"] for k in keys if k["state"] == "cooling"]
