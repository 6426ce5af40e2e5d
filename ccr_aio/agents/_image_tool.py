"""The `analyzeImage` tool: its definition, the placeholders it refers to, and answering a call
by asking the image model."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..errors import ApiError
from ..logs import get_app_logger
from ..jsonutil import dumps
from ..routing.router import Route
from ..state import Snapshot
from ..transformers.base import Context
from ._calls import fetch_message
from .image_cache import ImageCache

TOOL_NAME = "analyzeImage"
VISION_MAX_TOKENS = 4096

ANALYZE_TOOL: dict[str, Any] = {
    "name": TOOL_NAME,
    "description": (
        "Look at images of this conversation, named by the ids in their [Image #<id>] placeholders, "
        "and report what the task asks for: text (OCR), UI elements and layout, errors on screen, "
        "diagrams, charts, objects, colors."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "imageId": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Ids of the images to look at, as in [Image #<id>]",
            },
            "task": {"type": "string", "description": "What to find out about the image(s); be specific"},
            "regions": {
                "type": "array",
                "description": "Optional areas to focus on",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "x": {"type": "number"},
                        "y": {"type": "number"},
                        "w": {"type": "number"},
                        "h": {"type": "number"},
                        "units": {"type": "string", "enum": ["px", "pct"]},
                    },
                    "required": ["x", "y", "w", "h"],
                },
            },
        },
        "required": ["imageId", "task"],
    },
}

SYSTEM_NOTE = (
    "You cannot see images. Every image in this conversation has been replaced by a placeholder "
    "[Image #<id>]. When you need to know what an image shows, call the analyzeImage tool with the "
    "id(s) from the placeholders in `imageId` and a precise `task`; its answer is your only way to "
    "learn an image's content. Do not guess what an image shows."
)

VISION_SYSTEM = (
    "You analyze images for another assistant that cannot see them. Do exactly the task you are "
    "given, about the attached image(s) only; be precise and complete (quote visible text verbatim), "
    "and say so plainly when something is not visible or not legible."
)


def placeholder(image_id: str) -> str:
    return f"[Image #{image_id}]"


@dataclass(frozen=True)
class Analyst:
    """What answering analyzeImage calls needs, for one client request."""

    request: web.Request
    snapshot: Snapshot
    vision: Route  # Router.image
    ctx: Context  # the client request's context
    cache: ImageCache
    ids: tuple[str, ...]  # images of this request, in order of appearance

    async def resolve(self, raw: Any) -> str | None:
        """An id as the model wrote it → a cached id. Tolerates `[Image #id]`, `#id`, and the
        `[Image #N]` numbers Claude Code writes next to pasted images (N-th image here)."""
        text = str(raw).strip().strip("[]").strip()
        if text.lower().startswith("image"):
            text = text[5:].strip()
        text = text.lstrip("#").strip()
        if await self.cache.fetch(text) is not None:
            return text
        if text.isdigit() and 1 <= int(text) <= len(self.ids):
            return self.ids[int(text) - 1]
        return None

    async def answer(self, calls: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """tool_result blocks for the calls, in order (the image model is asked concurrently)."""
        return list(await asyncio.gather(*(self.answer_one(call) for call in calls)))

    async def answer_one(self, call: Mapping[str, Any]) -> dict[str, Any]:
        args = call.get("input")
        if not isinstance(args, dict):
            args = {}
        wanted = args.get("imageId")
        wanted = wanted if isinstance(wanted, list) else [wanted] if wanted is not None else []
        resolved = [(raw, await self.resolve(raw)) for raw in wanted]
        found = list(dict.fromkeys(key for _, key in resolved if key))
        missing = [str(raw) for raw, key in resolved if not key]
        sources = [s for s in [await self.cache.fetch(key) for key in found] if s is not None]
        if not sources:
            known = ", ".join(placeholder(i) for i in self.ids) or "none"
            return _result(call, f"No image matches {missing or 'an empty imageId'}. Images here: {known}.", True)
        task = args.get("task") if isinstance(args.get("task"), str) and args["task"].strip() else None
        text = task or "Describe the image(s) in detail."
        if args.get("regions"):
            text += "\n\nFocus on these regions: " + dumps(args["regions"])
        body = {
            "model": self.vision.model,
            "max_tokens": VISION_MAX_TOKENS,
            "stream": False,
            "system": VISION_SYSTEM,
            "messages": [{"role": "user", "content": [*({"type": "image", "source": s} for s in sources), {"type": "text", "text": text}]}],
        }
        ctx = Context(
            request_id=self.ctx.request_id, provider=self.vision.provider.name, model=self.vision.model,
            client_model=self.vision.model, stream=False, session=self.ctx.session,
        )
        get_app_logger().info("image_agent_call", model=self.vision.label, images=found, missing=missing)
        try:
            message = await fetch_message(self.request, self.snapshot, self.vision, body, ctx)
        except ApiError as exc:
            return _result(call, f"The image model ({self.vision.label}) failed: {exc.message}", True)
        blocks: Sequence[Mapping[str, Any]] = message.get("content") or ()  # as the image model sent them
        answer = "\n".join(b.get("text") or "" for b in blocks if b.get("type") == "text").strip()
        if missing:
            answer = f"(No image matches {missing}; the others were analyzed.)\n{answer}"
        return _result(call, answer or "(The image model returned no text.)", False)


def _result(call: Mapping[str, Any], text: str, is_error: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": call.get("id") or "", "content": text}
    if is_error:
        block["is_error"] = True
    return block
