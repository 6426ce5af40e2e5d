"""POST /v1/messages and /v1/messages/count_tokens: parse → route → transform → send → stream back."""

from __future__ import annotations

from functools import partial
from typing import Any

from aiohttp import web

from ..agents import image as image_agent
from ..agents.image_cache import IMAGES
from ..errors import ApiError
from ..logs import get_app_logger
from ..middlewares import REQUEST_ID
from ..pipeline.chain import Prepared, prepare_request
from ..pipeline.exchange import exchange, passthrough_usage
from ..pipeline.record_hooks import RECORD, bytes_answer, json_answer, routed
from ..pipeline.sse_writer import SseWriter
from ..routing.prompt import rewrite_system_prompt
from ..routing.router import Route, decide
from ..routing.sessions import SESSIONS
from ..routing.tokens import TOKENS
from ..state import STATE, Snapshot
from ..transformers.base import Context
from .json_body import parse_json_object, read_json_object
from .request_record import described, recorded

routes = web.RouteTableDef()


def validate_messages_body(body: dict[str, Any]) -> None:
    if "messages" not in body:
        raise ApiError(400, "messages is required")
    if not isinstance(body["messages"], list):
        raise ApiError(400, "messages must be an array")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model is required")


@routes.post("/v1/messages")
@recorded
async def create_message(request: web.Request) -> web.StreamResponse:
    snapshot = request.app[STATE].current
    raw = await request.read()
    body = parse_json_object(raw)
    described(request, body, raw)
    validate_messages_body(body)
    route = await decide(body, request.headers, snapshot.routing, request.app[SESSIONS], request.app[TOKENS], len(raw))
    routed(request[RECORD], route)
    rewrite_system_prompt(body, snapshot.system_prompt)
    ctx = Context(
        request_id=request[REQUEST_ID],
        provider=route.provider.name,
        model=route.model,
        client_model=body["model"],
        stream=body.get("stream") is True,
        input_tokens=route.token_count or 0,
        session=route.session,
    )
    get_app_logger().info(
        "route", scenario=route.scenario, model=route.label, requested=body["model"],
        tokens=route.token_count, session=route.session, project=route.project,
    )
    if snapshot.settings.config.router.image:
        vision = image_agent.applies(route, snapshot)
        ids = image_agent.prepare(body, request.app[IMAGES]) if vision else None
        if ids:
            return await image_agent.handle(request, snapshot, route, vision, body, ctx, ids)
    prepared = await prepare_request(snapshot.endpoint, route.provider, route.model, body, ctx)
    return await forward(request, snapshot, route, prepared, ctx)


async def forward(
    request: web.Request, snapshot: Snapshot, route: Route, prepared: Prepared, ctx: Context
) -> web.StreamResponse:
    """Send the prepared request and stream the answer back in the form the client asked for."""
    sessions = request.app[SESSIONS]
    writer = SseWriter(request, ctx.request_id, partial(sessions.record_usage, ctx.session)) if ctx.stream else None
    # Pings only between whole events: a passthrough read may end mid-event.
    ping = writer.ping if writer and not prepared.bypass else None
    before_read = writer.flush if writer else None
    async with exchange(
        request, snapshot.settings, snapshot.endpoint, route, prepared, ctx, before_read, ping
    ) as answer:
        if prepared.bypass:
            if answer.is_sse and writer:
                return await writer.send(answer.raw, raw=True)
            data = await answer.body()
            usage = passthrough_usage(data)
            sessions.record_usage(ctx.session, usage)
            return bytes_answer(request, data, usage, status=answer.upstream.status,
                                content_type=answer.upstream.content_type)
        if writer:
            return await writer.send(await answer.events())
        message = await answer.message()
        sessions.record_usage(ctx.session, message.get("usage"))
        return json_answer(request, message)


@routes.post("/v1/messages/count_tokens")
async def count_tokens(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    validate_messages_body({**body, "model": body.get("model") or "-"})
    return web.json_response({"input_tokens": await request.app[TOKENS].count_async(body)})
