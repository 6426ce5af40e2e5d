"""What is retried: the status/exception table, and mapping real client errors to kinds."""

from __future__ import annotations

import asyncio
import errno
import socket

import aiohttp
import pytest

from ccr_aio.resilience.classify import Outcome, classify, exception_kind

RETRYABLE = [408, 409, 500, 502, 503, 504, 529]
NEVER = [400, 402, 404, 405, 413, 415, 422, 451]


@pytest.mark.parametrize("status", RETRYABLE)
@pytest.mark.parametrize("pooled", [False, True])
def test_provider_trouble_moves_to_the_next_target_and_counts_against_it(status, pooled):
    verdict = classify(Outcome.http(status), pooled)
    assert (verdict.decision, verdict.effect) == ("retry_next_target", "count_failure")


@pytest.mark.parametrize("status", NEVER)
@pytest.mark.parametrize("pooled", [False, True])
def test_a_bad_request_is_never_retried(status, pooled):
    verdict = classify(Outcome.http(status), pooled)
    assert (verdict.decision, verdict.effect) == ("give_up", "none")


def test_429_cools_the_key_in_a_pool_else_the_target():
    pooled = classify(Outcome.http(429), pooled=True)
    assert (pooled.decision, pooled.effect) == ("retry_same_provider_next_key", "cool_key")
    single = classify(Outcome.http(429), pooled=False)
    assert (single.decision, single.effect) == ("retry_next_target", "cool_target")


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_is_disabled_only_when_the_pool_has_others(status):
    pooled = classify(Outcome.http(status), pooled=True)
    assert (pooled.decision, pooled.effect) == ("retry_same_provider_next_key", "disable_key")
    single = classify(Outcome.http(status), pooled=False)
    assert (single.decision, single.effect) == ("give_up", "none")


@pytest.mark.parametrize("kind", ["connection_refused", "connection_reset", "dns_failure",
                                  "timeout_before_headers", "connection_failed"])
def test_no_answer_at_all_moves_to_the_next_target(kind):
    verdict = classify(Outcome.failed(kind), pooled=True)
    assert (verdict.decision, verdict.effect) == ("retry_next_target", "count_failure")


@pytest.mark.parametrize("status", [None, 200, 302])
def test_a_success_is_not_classified(status):
    with pytest.raises(ValueError):
        classify(Outcome(status=status), pooled=False)


def test_reason_never_carries_provider_wording():
    assert Outcome.http(503).reason == "http 503"
    assert Outcome.failed("dns_failure").reason == "dns_failure"


async def test_a_real_refused_connection_is_recognised():
    with socket.socket() as probe:  # a port nobody listens on: bind, note it, close
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError) as caught:
            await session.post(f"http://127.0.0.1:{port}/v1/chat/completions", data=b"{}")
    assert exception_kind(caught.value) == "connection_refused"


async def test_a_real_timeout_before_headers_is_recognised(aiohttp_server):
    from aiohttp import web

    release = asyncio.Event()

    async def silent(request):
        await release.wait()  # never answers within the client's timeout
        return web.Response()

    app = web.Application()
    app.router.add_post("/", silent)
    server = await aiohttp_server(app, host="127.0.0.1")
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.05)) as session:
            with pytest.raises(asyncio.TimeoutError) as caught:
                await session.post(str(server.make_url("/")), data=b"{}")
        assert exception_kind(caught.value) == "timeout_before_headers"
    finally:
        release.set()


def test_client_wrapped_errors_map_by_their_cause():
    fields = aiohttp.client_reqrep.ConnectionKey._fields  # only shown in str(), unused here
    key = aiohttp.client_reqrep.ConnectionKey(*[None] * len(fields))
    dns = aiohttp.ClientConnectorDNSError(key, socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    assert exception_kind(dns) == "dns_failure"
    reset = aiohttp.ClientOSError(errno.ECONNRESET, "Connection reset by peer")
    assert exception_kind(reset) == "connection_reset"
    unreachable = aiohttp.ClientConnectorError(key, OSError(errno.EHOSTUNREACH, "No route to host"))
    assert exception_kind(unreachable) == "connection_failed"
    assert exception_kind(aiohttp.ServerTimeoutError("read timeout")) == "timeout_before_headers"


def test_plain_errors_and_causes():
    assert exception_kind(ConnectionRefusedError()) == "connection_refused"
    assert exception_kind(ConnectionResetError()) == "connection_reset"
    assert exception_kind(BrokenPipeError()) == "connection_reset"
    try:
        try:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        except socket.gaierror as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert exception_kind(outer) == "dns_failure"


def test_a_bug_is_not_an_outage():
    assert exception_kind(ValueError("bad")) is None
    assert exception_kind(KeyError("x")) is None
    looped = RuntimeError("a")
    looped.__context__ = RuntimeError("b")
    looped.__context__.__context__ = looped  # a cycle must not hang
    assert exception_kind(looped) is None
