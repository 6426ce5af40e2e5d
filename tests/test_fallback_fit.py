"""Context windows meet fallback chains: every attempt is fitted to its own model. A fallback
model gets its own longest answer (not the routed model's), one whose window the prompt does not
fit is passed over without a call, and the routed model's "prompt is too long" is the answer
(Claude Code compacts on it) rather than a reason to fall back."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.conftest import sdk
from tests.fakes.openai_upstream import error_reply
from tests.fallback_helpers import USER, ask, route_of, text_of, two_providers

LONG_CALL = 30  # an explicit timeout lets the SDK send a large max_tokens without streaming


def words(count: int) -> str:
    return "word" + " word" * (count - 1)  # one cl100k token each


@pytest.fixture
async def pair(make_fake: Any) -> tuple[Any, Any]:
    return await make_fake(), await make_fake()


def fitted_config(primary: Any, backup: Any, fallback: list[str], **capabilities: Any) -> dict[str, Any]:
    """`two_providers`, the backup also serving `b-small`, with `capabilities` per model."""
    config = two_providers(primary, backup, keys="sk-single-primary-key", fallback={"default": fallback})
    config["Providers"][1]["models"] = ["b-model", "b-small"]
    for index, name in ((0, "p-model"), (1, "b-model"), (1, "b-small")):
        if name in capabilities:
            config["Providers"][index].setdefault("capabilities", {})[name] = capabilities[name]
    return config


async def test_each_attempt_gets_its_own_models_longest_answer(make_client: Any, pair: Any) -> None:
    primary, backup = pair
    primary.default = error_reply(503, "primary is down")
    config = fitted_config(primary, backup, ["backup,b-model"],
                           **{"p-model": {"max_output_tokens": 500}, "b-model": {"max_output_tokens": 2000}})
    client = await make_client(config)
    message = await sdk(client).messages.create(model="claude-sonnet-4", max_tokens=8000, messages=USER,
                                                timeout=LONG_CALL)
    assert message.content[0].text == "Hello from fake"
    assert primary.requests[-1].body["max_tokens"] == 500
    assert backup.requests[-1].body["max_tokens"] == 2000  # the client's ask, capped by b-model alone


async def test_a_fallback_model_too_small_for_the_prompt_is_passed_over(make_client: Any, pair: Any) -> None:
    primary, backup = pair
    primary.default = error_reply(503, "primary is down")
    config = fitted_config(primary, backup, ["backup,b-small", "backup,b-model"],
                           **{"b-small": {"context_window": 10_000}})
    client = await make_client(config)
    response, message = await ask(client, messages=[{"role": "user", "content": words(9500)}], max_tokens=1000)
    assert response.status == 200 and text_of(message) == "Hello from fake"
    assert route_of(response) == ("backup,b-model", 2)  # the passed-over model is no attempt
    assert backup.models() == ["b-model"]


async def test_the_routed_models_refusal_does_not_fall_back(make_client: Any, pair: Any) -> None:
    primary, backup = pair
    config = fitted_config(primary, backup, ["backup,b-model"], **{"p-model": {"context_window": 10_000}})
    client = await make_client(config)
    with pytest.raises(anthropic.BadRequestError) as refused:
        await sdk(client).messages.create(model="claude-sonnet-4", max_tokens=1000,
                                          messages=[{"role": "user", "content": words(9500)}])
    assert refused.value.body["error"]["message"] == "prompt is too long: 9500 tokens > 9000 maximum"  # type: ignore[index]
    assert primary.requests == [] and backup.requests == []


async def test_when_every_fallback_is_too_small_the_routed_models_error_comes_back(make_client: Any, pair: Any) -> None:
    primary, backup = pair
    primary.default = error_reply(503, "primary is down")
    config = fitted_config(primary, backup, ["backup,b-small"], **{"b-small": {"context_window": 10_000}})
    client = await make_client(config)
    response, body = await ask(client, messages=[{"role": "user", "content": words(9500)}], max_tokens=1000)
    # The primary's own failure is what the client sees; the too-small model made no call.
    assert response.status == 503 and "primary is down" in body["error"]["message"]
    assert route_of(response) == ("primary,p-model", 1)
    assert backup.requests == []
