"""Pieces shared by the Responses API request, stream and JSON conversions:
usage, errors, annotations, and the thinking signature that carries a reasoning item.

Signatures. A reasoning item becomes a thinking block whose signature Claude Code later sends
back verbatim. When the item has `encrypted_content`, the signature is that content tagged with
its source (see shared/signatures.py: `ccr_openai-responses/<provider>:encrypted:<content>`), so the next
request to the same provider can replay the item statelessly (`{type:"reasoning", summary,
encrypted_content}`, as Codex does). The provider is part of the source because another
provider (or account) cannot decrypt it, and a bad blob is a 400 on every later turn. Without
encrypted content the signature is the item id (`rs_…`, as the reference sends it); an id alone
is never replayed: it only resolves with `store` on and with the item that followed it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ....shapes.unified import Annotation, UnifiedError, Usage

from ...shared import signatures

_ENCRYPTED = "encrypted"

# Responses error codes -> the HTTP status the same failure gets as a plain error response.
_CODE_STATUS = {
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "server_error": 500,
    "internal_error": 500,
    "server_is_overloaded": 529,
    "slow_down": 529,
    "invalid_prompt": 400,
    "invalid_request_error": 400,
    "context_length_exceeded": 400,
    "invalid_image": 400,
    "invalid_image_url": 400,
    "image_too_large": 400,
    "unsupported_image_media_type": 400,
    "vector_store_timeout": 504,
}


def _source(provider: str) -> str:
    return f"openai-responses/{provider}"


def reasoning_signature(item: Mapping[str, Any], provider: str) -> str | None:
    """The signature for a finished reasoning item: encrypted content for this provider, else its id."""
    encrypted = item.get("encrypted_content")
    if isinstance(encrypted, str) and encrypted:
        return signatures.tag(_source(provider), encrypted, _ENCRYPTED)
    item_id = item.get("id")
    return item_id if isinstance(item_id, str) and item_id else None


def encrypted_reasoning(signature: Any, provider: str) -> str | None:
    """The encrypted content a signature carries, if this provider minted it."""
    own = signatures.untag(_source(provider), signature)
    return own[0] if own is not None and own[1] == _ENCRYPTED else None


def unified_usage(usage: Any) -> Usage | None:
    """Responses usage -> unified (OpenAI chat) usage."""
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("input_tokens") or 0
    completion = usage.get("output_tokens") or 0
    result: Usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": usage.get("total_tokens") or prompt + completion,
    }
    cached = (usage.get("input_tokens_details") or {}).get("cached_tokens")
    if cached:
        result["prompt_tokens_details"] = {"cached_tokens": cached}
    reasoning = (usage.get("output_tokens_details") or {}).get("reasoning_tokens")
    if reasoning:
        result["output_tokens_details"] = {"reasoning_tokens": reasoning}
    return result


def error_status(error: Mapping[str, Any]) -> int:
    for key in ("status", "code", "type"):
        value = error.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 400 <= value < 600:
            return value
        if isinstance(value, str):
            if value.isdigit() and 400 <= int(value) < 600:
                return int(value)
            if value in _CODE_STATUS:
                return _CODE_STATUS[value]
    return 500


def unified_error(error: Any, fallback: str) -> UnifiedError:
    """An upstream error object (from `error` or `response.failed`) -> the unified error body,
    whose `status` the Anthropic side turns into the error type."""
    if not isinstance(error, dict):
        error = {"message": str(error) if error else fallback}
    message = error.get("message")
    if not isinstance(message, str) or not message:
        message = fallback
    body: UnifiedError = {"message": message, "type": "api_error", "status": error_status(error)}
    if error.get("code") is not None:
        body["code"] = error["code"]
    return body


def finish_for_incomplete(response: Mapping[str, Any]) -> str:
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    return "content_filter" if reason == "content_filter" else "length"


def url_citation(annotation: Any) -> Annotation | None:
    """A Responses `url_citation` annotation -> the unified annotation; others are dropped."""
    if not isinstance(annotation, dict) or annotation.get("type") != "url_citation":
        return None
    return {
        "type": "url_citation",
        "url_citation": {
            "url": annotation.get("url") or "",
            "title": annotation.get("title") or "",
            "content": "",
            "start_index": annotation.get("start_index"),
            "end_index": annotation.get("end_index"),
        },
    }


def reasoning_text(item: Mapping[str, Any]) -> str:
    """The readable text of a reasoning item: its summary parts, else its raw reasoning text
    (open-weight models served over the Responses API send that instead)."""
    for key, kind in (("summary", "summary_text"), ("content", "reasoning_text")):
        parts = item.get(key)
        if isinstance(parts, list):
            texts = [p["text"] for p in parts if isinstance(p, dict) and p.get("type") == kind and p.get("text")]
            if texts:
                return "\n\n".join(texts)
    return ""
