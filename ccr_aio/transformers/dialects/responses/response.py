"""OpenAI Responses API JSON answer -> unified chat.completion ([FIX]).

Fixes over the reference: every function call is kept, reasoning items become `thinking`
(signed, see common.py), cached tokens are reported, `incomplete` finishes with
`length`, and a failed response is raised as an error with the provider's message.
"""

from __future__ import annotations

import time
from typing import Any, cast

from ....errors import ApiError
from ....shapes.unified import (
    Annotation,
    ContentPart,
    ImageUrl,
    ProviderBody,
    ToolCall,
    UnifiedCompletion,
    UnifiedMessage,
)
from ...base import Context
from ...shared import signatures
from ...shared.chunks import new_completion
from .common import (
    error_status,
    finish_for_incomplete,
    reasoning_signature,
    reasoning_text,
    unified_error,
    unified_usage,
    url_citation,
)


def responses_to_unified(body: ProviderBody, ctx: Context) -> UnifiedCompletion:
    """Convert a Responses `response` object; anything else (e.g. an already unified body) is
    returned unchanged."""
    output = body.get("output")
    if body.get("object") != "response" or not isinstance(output, list):
        return cast(UnifiedCompletion, body)
    if body.get("status") == "failed" or body.get("error"):
        error = body.get("error")
        if not isinstance(error, dict):
            error = {}
        unified = unified_error(error, "The provider reported a failed response")
        raise ApiError(error_status(error), f"Error from provider({ctx.provider},{ctx.model}): {unified['message']}")

    texts: list[str] = []
    images: list[ContentPart] = []
    annotations: list[Annotation] = []
    tool_calls: list[ToolCall] = []
    thoughts: list[str] = []
    signature: str | None = None
    for item in output:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            text = _message_parts(item, images, annotations)
            if text:
                texts.append(text)
        elif kind == "function_call":
            tool_calls.append(
                {
                    "id": item.get("call_id") or item.get("id") or f"call_{int(time.time() * 1000)}_{len(tool_calls)}",
                    "type": "function",
                    "function": {"name": item.get("name") or "", "arguments": item.get("arguments") or ""},
                }
            )
        elif kind == "reasoning":
            text = reasoning_text(item)
            if text:
                thoughts.append(text)
                # Claude Code replays only the first signed thinking block of a turn.
                signature = signature or reasoning_signature(item, ctx.provider)

    text = "\n\n".join(texts)
    message: UnifiedMessage = {"role": "assistant", "content": text or None}
    if images:
        message["content"] = [{"type": "text", "text": text}, *images]
    if tool_calls:
        message["tool_calls"] = tool_calls
    if thoughts:
        message["thinking"] = {"content": "\n\n".join(thoughts), "signature": signature or signatures.synthesize(ctx)}
    if annotations:
        message["annotations"] = annotations

    if body.get("status") == "incomplete":
        finish = finish_for_incomplete(body)
    else:
        finish = "tool_calls" if tool_calls else "stop"
    return new_completion(
        body.get("id") or "",
        body.get("created_at") or int(time.time()),
        body.get("model") or "",
        message,
        finish,
        unified_usage(body.get("usage")),
    )


def _message_parts(item: dict[str, Any], images: list[ContentPart], annotations: list[Annotation]) -> str:
    texts: list[str] = []
    for part in item.get("content") or ():
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "output_text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
            for annotation in part.get("annotations") or ():
                converted = url_citation(annotation)
                if converted is not None:
                    annotations.append(converted)
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            texts.append(part["refusal"])
        elif kind in ("output_image", "output_image_base64"):
            image = _image_part(part)
            if image is not None:
                images.append(image)
    return "".join(texts)


def _image_part(part: dict[str, Any]) -> ContentPart | None:
    media_type = part.get("mime_type") or part.get("media_type") or "image/png"
    b64 = part.get("b64_json") or part.get("image_base64")
    url = part.get("image_url") or part.get("url") or (f"data:{media_type};base64,{b64}" if b64 else None)
    if not url:
        return None
    image: ImageUrl = {"url": url}
    if b64:
        image["b64_json"] = b64
    return {"type": "image_url", "image_url": image, "media_type": media_type}
