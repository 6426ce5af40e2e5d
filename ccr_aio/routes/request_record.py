"""Exactly one record per /v1/messages request, and one log line for it.

`record_middleware` wraps every POST /v1/messages, just inside auth and outside the body budget
(so a body refused for its size or for a spent budget is recorded too): it starts the record
when the request arrives (before its body is read, so the duration counts the upload and a bad
body is recorded too), puts it on the
request for the parts below (`pipeline.record_hooks`), and finishes it in a `finally`, so
whatever ends the request — an answer, an error, a client that left, a shutdown — writes it
once. The status is what the client got: the HTTP status; for a stream that had started, the
status of the error event that ended it; 499 when the client left first; 529 when a shutdown
cut the request (the drain answers it so).
"""

from __future__ import annotations

import asyncio
import copy
import functools
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from ..client_keys import CLIENT_KEY
from ..drain import INFLIGHT, SHUTTING_DOWN
from ..errors import ApiError, error_type_for
from ..middlewares import REQUEST_ID
from ..pipeline.record_hooks import BODY_LOG, RECORD, RECORDER, BodyLog
from ..pipeline.sse_writer import CLIENT_GONE
from ..records import CLIENT_CLOSED, RecordBuilder, RequestRecord, is_error
from ..routing.sessions import session_id
from ..state import STATE

log = structlog.get_logger("ccr_aio.requests")
Outcome = tuple[int, BaseException | str | None]


@web.middleware
async def record_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "POST" and request.path == "/v1/messages":
        return await recorded(handler)(request)
    return await handler(request)


def recorded(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def record_request(request: web.Request) -> web.StreamResponse:
        recorder = request.app[RECORDER]
        record = recorder.start(request[REQUEST_ID], stream=False, client_key=request.get(CLIENT_KEY))
        request[RECORD] = record
        body_log = BodyLog() if request.app[STATE].current.settings.config.log_bodies else None
        if body_log is not None:
            request[BODY_LOG] = body_log
        outcome: Outcome = (500, "api_error: the request ended without an answer")
        try:
            response = await handler(request)
            outcome = record.outcome or (response.status, None)
            return response
        except ApiError as exc:
            outcome = (exc.status, exc)
            raise
        except web.HTTPException as exc:  # e.g. 413 from reading the body
            outcome = (exc.status, f"{error_type_for(exc.status)}: {exc.reason}")
            raise
        except asyncio.CancelledError:
            outcome = _cancelled(request)
            raise
        except (ConnectionResetError, web.RequestPayloadError):  # gone while sending or reading
            outcome = (CLIENT_CLOSED, CLIENT_GONE)
            raise
        except Exception as exc:  # the error middleware answers 500 and logs the traceback
            outcome = (500, exc)
            raise
        finally:
            _failed_call(record, *outcome)
            done = recorder.finish(record, *outcome)
            if done is not None:
                # Once the answer is out: rendering the line costs more than the whole record,
                # and a JSON answer is only sent after this handler returns.
                asyncio.get_running_loop().call_soon(log_record, done, body_log)

    return record_request


def described(request: web.Request, body: dict[str, Any]) -> None:
    """What the body tells the record before routing: a request refused by the router
    (unknown model, no route) is still recorded with its model, stream flag and session."""
    record = request[RECORD]
    request.app[RECORDER].set_stream(record, body.get("stream") is True)
    model = body.get("model")
    record.requested_model = model[:200] if isinstance(model, str) else None
    record.session = session_id(body, request.headers)
    if (body_log := request.get(BODY_LOG)) is not None:
        body_log.request = copy.deepcopy(body)  # as received: the router edits `body` in place


def _cancelled(request: web.Request) -> Outcome:
    """A cancelled handler: cut by a shutdown (the client gets a 529), or its client left."""
    if asyncio.current_task() in request.app[INFLIGHT].cut:
        return 529, f"overloaded_error: {SHUTTING_DOWN}"
    return CLIENT_CLOSED, CLIENT_GONE


def _failed_call(record: RecordBuilder, status: int, error: Any) -> None:
    """A request that failed before its first byte went out failed in its last provider
    call, unless that call already has its own failure noted."""
    tried = record.tried
    if tried and tried[-1]["status"] is None and record.first_byte_at is None and is_error(status):
        record.attempt_failed(status)


def log_record(record: RequestRecord, body_log: BodyLog | None = None) -> None:
    """One line per request: every field of the record (never a prompt or an answer, unless
    LOG_BODIES asked for them). The line's own `time` is the end; `request_id` is the id."""
    fields = record.to_dict()
    del fields["id"], fields["time"]
    if body_log is not None:
        fields.update(body_log.fields())
    log.info("request_completed", **fields)
