"""The record of one request: what happened to it, never what was said in it."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, TypedDict

ERROR_CHARS = 300
# nginx's "client closed request": the client left before the answer was complete (Claude
# Code's Esc, a dropped connection, a server stopping with the request in flight).
CLIENT_CLOSED = 499


class Attempted(TypedDict):
    """One provider call of a request, in order. `status` is the failure's status; None for
    the call that answered (or was still answering when the request ended)."""

    provider: str
    model: str
    status: int | None


@dataclass(frozen=True, slots=True)
class RequestRecord:
    id: str
    time: float  # epoch seconds when the request arrived
    session: str | None
    project: str | None
    client_key: str | None  # the name of the client key, when keys are named
    scenario: str | None
    requested_model: str | None
    provider: str | None  # of the last attempt; None when the request never reached one
    model: str | None
    attempts: int
    providers_tried: tuple[Attempted, ...]
    stream: bool
    status: int  # HTTP status, or the SSE error's status for a stream cut mid-way
    error: str | None  # "<type>: <first 300 chars of the message>"
    ttfb_ms: float | None  # until the first byte went to the client
    duration_ms: float
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    cost_usd: float | None  # None when the model has no price

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the API and the log line. (Not `asdict`: its deep copy of every
        value costs more than the rest of a request's record, once per request.)"""
        data = {name: getattr(self, name) for name in FIELDS}
        data["providers_tried"] = [dict(a) for a in self.providers_tried]
        return data


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(RequestRecord))


def is_error(status: int) -> bool:
    """What counts as an error in `errors` and error rates: a 4xx or 5xx, except a client
    that left (an interrupted turn is the user's choice, not a failure)."""
    return status >= 400 and status != CLIENT_CLOSED


def error_text(error: BaseException | str | None) -> str | None:
    """`<type>: <message>` with the message cut to ERROR_CHARS. An exception's type is its
    `error_type` (an API error's Anthropic type) or its class name; a string is taken as
    `<type>: <message>` already."""
    if error is None:
        return None
    if isinstance(error, BaseException):
        kind = getattr(error, "error_type", None) or type(error).__name__
        message = getattr(error, "message", None) or str(error)
    else:
        kind, sep, message = error.partition(": ")
        if not sep:
            kind, message = "error", error
    return f"{kind}: {str(message)[:ERROR_CHARS]}"
