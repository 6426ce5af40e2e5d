"""Fit a request to the routed model: its longest answer and its context window.

Claude Code sends `max_tokens: 32000` for every name it does not know, and assumes a 1M-token
window for them, so without this a 128k model only fails once the conversation is too long.
With the model's capabilities known (config or built-in table):

- `max_tokens` is lowered to the model's `max_output_tokens`, and to what the window leaves
  after the prompt (OpenAI-style servers count the answer against the window too);
- a prompt that leaves less than `MIN_ANSWER` tokens is refused before the provider is called,
  with Anthropic's own wording (`prompt is too long: N tokens > M maximum`): Claude Code then
  compacts the conversation and sends it again, whatever the provider would have said (some
  silently cut the prompt instead).

Tokens are counted (cl100k, cached per content piece) only when the cheap upper bound says the
prompt might not fit. The exchange fits the client's body afresh for each attempt: a fallback
model has its own window and longest answer.
"""

from __future__ import annotations

from typing import Any, cast

import structlog

from ..config import ModelCapabilities
from ..errors import ApiError
from ..shapes.anthropic import AnthropicRequest
from .tokens import TokenCounter, estimate_upper_bound

log = structlog.get_logger("ccr_aio.routing")
MIN_ANSWER = 4096  # a prompt must leave room for at least this much answer (or max_tokens if less)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def fit_to_model(
    request: AnthropicRequest, known: ModelCapabilities, tokens: TokenCounter, label: str
) -> AnthropicRequest:
    """`request` with `max_tokens` lowered to what the model can give (a copy when anything
    changes; `request` itself is left as it is); ApiError 400 when the prompt does not fit its
    window."""
    if not known.max_output_tokens and not known.context_window:
        return request
    body: dict[str, Any] = dict(request)
    asked = _int(body.get("max_tokens"))
    if asked is not None and known.max_output_tokens and asked > known.max_output_tokens:
        body["max_tokens"] = known.max_output_tokens
    if known.context_window:
        await _fit_window(body, known.context_window, tokens, label)
    allowed = _int(body.get("max_tokens"))
    if asked is not None and allowed is not None and allowed < asked:
        _fit_budget(body, allowed)
    return cast(AnthropicRequest, body)


async def _fit_window(body: dict[str, Any], window: int, tokens: TokenCounter, label: str) -> None:
    answer = _int(body.get("max_tokens")) or 0
    if estimate_upper_bound(body) + answer <= window:
        return
    prompt = await tokens.count_async(body)
    needed = min(MIN_ANSWER, answer) if answer else MIN_ANSWER
    if prompt > window - needed:
        log.info("prompt_too_long", model=label, tokens=prompt, window=window)
        raise ApiError(400, f"prompt is too long: {prompt} tokens > {window - needed} maximum")
    if answer > window - prompt:
        body["max_tokens"] = window - prompt


def _fit_budget(body: dict[str, Any], max_tokens: int) -> None:
    """A thinking budget must stay below `max_tokens` (Anthropic refuses it otherwise)."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict):
        return
    budget = _int(thinking.get("budget_tokens"))
    if budget is not None and budget >= max_tokens:
        body["thinking"] = {**thinking, "budget_tokens": max_tokens - 1}
