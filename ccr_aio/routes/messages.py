"""POST /v1/messages and /v1/messages/count_tokens: parse → route → transform → send → stream back."""

from __future__ import annotations

from functools import partial
from typing import cast

from aiohttp import web

from ..agents import image as image_agent
from ..agents.image_cache import IMAGES
from ..inputs.messages_request import validate_messages_request
from ..logs import get_app_logger
from ..middlewares import REQUEST_ID
from ..pipeline.exchange import exchange, passthrough_usage
from ..pipeline.record_hooks import RECORD, bytes_answer, json_answer, routed
from ..pipeline.sse import whole_anthropic_events
from ..pipeline.sse_writer import SseWriter
from ..routing.prompt import rewrite_system_prompt
from ..routing.router import Route, decide
from ..routing.sessions import SESSIONS
from ..routing.tokens import TOKENS
from ..shapes.anthropic import AnthropicRequest
from ..state import STATE, Snapshot
from ..transformers.base import Context
from .json_body import read_json_body, read_json_object
from .request_record import described

routes = web.RouteTableDef()


@routes.post("/v1/messages")
async def create_message(request: web.Request) -> web.StreamResponse:
    snapshot = request.app[STATE].current
    body, size = await read_json_body(request)
    described(request, body)
    validate_messages_request(body)
    route = await decide(body, request.headers, snapshot.routing, request.app[SESSIONS], request.app[TOKENS], size)
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
        if vision and ids:
            return await image_agent.handle(request, snapshot, route, vision, body, ctx, ids)
    # Validated above as far as routing needs; the conversions read the rest defensively.
    return await forward(request, snapshot, route, cast(AnthropicRequest, body), ctx)


async def forward(
    request: web.Request, snapshot: Snapshot, route: Route, body: AnthropicRequest, ctx: Context
) -> web.StreamResponse:
    """Send the request (to the route, or a fallback) and stream the answer back in the form
    the client asked for."""
    sessions = request.app[SESSIONS]
    # The usage is in the shared store before the answer ends: the session's next turn may
    # reach another worker (`settled`).
    settled = partial(sessions.settled, ctx.session)
    writer = SseWriter(request, ctx.request_id, partial(sessions.record_usage, ctx.session), settled) if ctx.stream else None
    ping = writer.ping if writer else None  # the exchange pings between whole events only
    before_read = writer.flush if writer else None
    async with exchange(request, snapshot.upstreams, route, body, ctx, before_read, ping) as answer:
        if answer.bypass:
            if answer.is_sse and writer:
                return await writer.send(whole_anthropic_events(answer.raw, answer.route.label, answer.max_line), raw=True)
            data = await answer.body()
            usage = passthrough_usage(data)
            sessions.record_usage(ctx.session, usage)
            await settled()
            return bytes_answer(request, data, usage, status=answer.upstream.status,
                                content_type=answer.upstream.content_type)
        if writer:
            return await writer.send(await answer.events())
        message = await answer.message()
        sessions.record_usage(ctx.session, message.get("usage"))
        await settled()
        return json_answer(request, message)


@routes.post("/v1/messages/count_tokens")
async def count_tokens(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    validate_messages_request(body, model_required=False)
    return web.json_response({"input_tokens": await request.app[TOKENS].count_async(body)})
