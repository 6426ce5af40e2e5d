"""Where the request path feeds the request's record (a `records.RecordBuilder`).

The route handler starts the record and keeps it on the request (`RECORD`); the parts below
find it there, so no signature has to carry it: the exchange notes each provider call
(`provider_call`), the SSE writer the events it sends and the first byte, and `json_answer`
a whole message. A request made without a record (a test calling a part directly) simply
records nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..errors import ERROR_TYPES
from ..jsonutil import dumps, loads
from ..records import RecordBuilder, Recorder
from ..routing.router import Route

RECORDER = web.AppKey("recorder", Recorder)
RECORD = web.RequestKey("record", RecordBuilder)
MAX_LOGGED_BYTES = 256 * 1024  # of one answer, with LOG_BODIES


class BodyLog:
    """`LOG_BODIES` (debugging only): the request body and the answer as sent, for one log
    line at the end (the log's redaction masks keys in them)."""

    def __init__(self) -> None:
        self.request: Any = None
        self.answer: list[bytes] = []
        self.size = 0

    def sent(self, data: bytes) -> None:
        room = MAX_LOGGED_BYTES - self.size
        if room > 0:
            self.answer.append(data[:room])
        self.size += len(data)

    def fields(self) -> dict[str, Any]:
        answer = b"".join(self.answer).decode("utf-8", "replace")
        if self.size > MAX_LOGGED_BYTES:
            answer += f"... ({self.size} bytes in all)"
        return {"request_body": self.request, "answer_body": answer}


BODY_LOG = web.RequestKey("body_log", BodyLog)
# Anthropic error type -> HTTP status, for an `error` event in a stream (which has none).
_STATUS_OF_TYPE: dict[str, int] = {kind: status for status, kind in sorted(ERROR_TYPES.items(), reverse=True)}


def record_of(request: web.Request) -> RecordBuilder | None:
    return request.get(RECORD)


def routed(record: RecordBuilder, route: Route) -> None:
    """The router's choice; the provider calls (`provider_call`) may move on from it."""
    record.scenario = route.scenario
    record.session = route.session or record.session
    record.project = route.project
    record.provider, record.model = route.provider.name, route.model
    record.pricing = route.provider.pricing


def provider_call(request: web.Request, route: Route) -> RecordBuilder | None:
    """A call to `route`'s provider starts; returns the record to note its failure on. The
    image agent's calls to its image model are its tool work, not an attempt at the answer."""
    record: RecordBuilder | None = request.get(RECORD)
    if record is None or route.scenario == "imageAgent":
        return None
    record.attempt(route.provider.name, route.model, route.provider.pricing)
    return record


def json_answer(request: web.Request, message: Mapping[str, Any]) -> web.Response:
    """A whole Anthropic message as the response; the record takes its usage."""
    data = dumps(message).encode()
    return bytes_answer(request, data, message.get("usage"), status=200, content_type="application/json")


def bytes_answer(request: web.Request, data: bytes, usage: Any, *, status: int,
                 content_type: str) -> web.Response:
    """A passthrough answer relayed as the provider sent it, with the `usage` it carries."""
    record = request.get(RECORD)
    if record is not None:
        record.usage.update(usage)
        record.first_byte()
    if (body_log := request.get(BODY_LOG)) is not None:
        body_log.sent(data)
    return web.Response(body=data, status=status, content_type=content_type)


def stream_error(event: Any) -> tuple[int, str]:
    """(status, "<type>: <message>") of an Anthropic `error` event."""
    error = event.get("error") if isinstance(event, dict) else None
    error = error if isinstance(error, dict) else {}
    kind = str(error.get("type") or "api_error")
    return _STATUS_OF_TYPE.get(kind, 500), f"{kind}: {error.get('message') or ''}"


def raw_stream_error(data: bytes) -> tuple[int, str] | None:
    """The first `error` event in passthrough SSE bytes, if they hold one."""
    for line in data.split(b"\n"):
        if line.startswith(b"data:") and b'"error"' in line:
            try:
                event = loads(line[5:])
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("type") == "error":
                return stream_error(event)
    return None
