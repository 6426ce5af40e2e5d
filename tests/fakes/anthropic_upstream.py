"""A fake provider that speaks the Anthropic Messages API (`POST /v1/messages`), as a preset's
first provider is used by `ccr-aio <preset>`: Claude Code talks to it directly.

Every request is recorded (path, headers, body); a JSON request gets one message, a streaming
one the same text as SSE events. Other paths answer 404 and are recorded too.

    python -m tests.fakes.anthropic_upstream --port 9002     (for trying the real claude)
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeAnthropic:
    text: str = "hello from the preset's provider"
    requests: list[Seen] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.requests.append(Seen(request.method, request.path, dict(request.headers), body))
        if request.method != "POST" or request.path != "/v1/messages" or not isinstance(body, dict):
            return web.json_response({"type": "error", "error": {"type": "not_found_error", "message": "no"}},
                                     status=404)
        model = body.get("model", "fake")
        if not body.get("stream"):
            return web.json_response(self.message(model))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in self.events(model):
            await response.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
        await response.write_eof()
        return response

    def message(self, model: str) -> dict[str, Any]:
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": self.text}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 7}}

    def events(self, model: str) -> list[dict[str, Any]]:
        start = {**self.message(model), "content": [], "stop_reason": None,
                 "usage": {"input_tokens": 5, "output_tokens": 0}}
        return [
            {"type": "message_start", "message": start},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": self.text}},
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
             "usage": {"output_tokens": 7}},
            {"type": "message_stop"},
        ]

    def messages(self) -> list[Seen]:
        return [r for r in self.requests if r.path == "/v1/messages" and r.method == "POST"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9002)
    args = parser.parse_args()
    fake = FakeAnthropic()

    @web.middleware
    async def show(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        seen = fake.requests[-1]
        auth = seen.headers.get("Authorization") or seen.headers.get("x-api-key") or ""
        print(f"{seen.method} {seen.path} -> {response.status}  auth={auth[:14]}...  "
              f"model={(seen.body or {}).get('model') if isinstance(seen.body, dict) else None}", flush=True)
        return response

    app = fake.app()
    app.middlewares.append(show)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
