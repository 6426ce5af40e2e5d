"""The one place that talks to providers: headers, timeouts, proxy, and error mapping (into
the outcomes the retry rules of `resilience` read)."""

from __future__ import annotations

import asyncio
import codecs
import os
import socket
from collections.abc import AsyncIterator, Mapping

import aiohttp
from aiohttp import web

from ..errors import ApiError
from ..providers import Provider
from ..resilience import Outcome, exception_kind
from ..transformers.base import UpstreamOptions

# Never forwarded in passthrough mode: hop-by-hop, and framing/encoding aiohttp redoes itself.
_DROP_FROM_CLIENT = frozenset(
    {"host", "connection", "content-length", "transfer-encoding", "keep-alive", "accept-encoding",
     "upgrade", "te", "trailer", "proxy-authorization", "proxy-connection", "cookie", "origin", "referer"}
)
CONNECT_TIMEOUT_S = 30.0
ERROR_BODY_BYTES = 64 * 1024  # what of a provider's error answer is read and passed on
BODY_PIECE_BYTES = 256 * 1024
TRUNCATED = "…(truncated)"
HTTP = web.AppKey("http", aiohttp.ClientSession)  # the app's one connection pool to every provider


def provider_headers(provider: Provider, options: UpstreamOptions) -> dict[str, str]:
    """Bearer auth with the provider key, then transformer headers (None removes a header)."""
    headers: dict[str, str] = {"Content-Type": "application/json"}
    if provider.api_key:
        headers["Authorization"] = f"Bearer {provider.api_key}"
    return _apply(headers, options.headers)


def passthrough_headers(client_headers: Mapping[str, str], options: UpstreamOptions) -> dict[str, str]:
    headers = {k: v for k, v in client_headers.items() if k.lower() not in _DROP_FROM_CLIENT}
    headers["Content-Type"] = "application/json"
    return _apply(headers, options.headers)


def _apply(headers: dict[str, str], changes: Mapping[str, str | None]) -> dict[str, str]:
    for key, value in changes.items():
        for existing in [k for k in headers if k.lower() == key.lower()]:
            del headers[existing]
        if value:
            headers[key] = value
    return headers


def client_error_words(exc: aiohttp.ClientError) -> str:
    """What went wrong with a provider connection, in words: the user reads this, and aiohttp's
    own text (`<TransferEncodingError: 400, message='Not enough data ...'>`) says nothing to them."""
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the connection closed before the answer was complete"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the provider closed the connection without answering"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"the TLS certificate of {exc.host} was not accepted"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"the TLS handshake with {exc.host} failed"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, socket.gaierror):
            return f"the host name {exc.host} could not be resolved"
        where = f"{exc.host}:{exc.port}"
        if isinstance(exc, aiohttp.ClientProxyConnectionError):
            where = f"the proxy {where}"
        return f"could not connect to {where} ({_os_reason(exc.os_error)})"
    if isinstance(exc, aiohttp.ClientResponseError):
        return "the provider sent a malformed HTTP response"
    if isinstance(exc, aiohttp.InvalidURL):
        return f"the provider URL {exc.url} is not valid"
    if isinstance(exc, OSError):
        return f"a network error occurred ({_os_reason(exc)})"
    return "the connection failed"


def _os_reason(error: OSError) -> str:
    return os.strerror(error.errno).lower() if error.errno else "network error"


def _timeout(timeout_ms: int, stream: bool) -> aiohttp.ClientTimeout:
    seconds = timeout_ms / 1000
    if stream:
        # A stream may legitimately run for long; what must not happen is silence.
        return aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=seconds)
    return aiohttp.ClientTimeout(total=seconds, sock_connect=CONNECT_TIMEOUT_S)


class UpstreamFailed(ApiError):
    """A call that failed before any of its answer was used, with what the retry rules need:
    how it failed (`outcome`) and the provider's response headers (its retry-after)."""

    def __init__(self, status: int, message: str, outcome: Outcome,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, message)
        self.outcome = outcome
        self.response_headers: Mapping[str, str] = headers or {}


async def post_upstream(
    session: aiohttp.ClientSession,
    *,
    url: str,
    data: bytes,
    headers: Mapping[str, str],
    provider: str,
    model: str,
    stream: bool,
    timeout_ms: int,
    proxy: str | None = None,
    error_limit: int = ERROR_BODY_BYTES,
) -> aiohttp.ClientResponse:
    """POST to the provider and return its 2xx response (close it with `close_upstream`). No
    answer, or a non-2xx one, raises UpstreamFailed with the provider's words kept (the first
    `error_limit` bytes of them: an error page may be huge, and it is echoed to the client); a
    failure that is not the network's (a malformed URL...) raises a plain ApiError."""
    # Handed over whole, a big body is copied again by the socket transport (what the kernel
    # does not take at once); in pieces, each waits for the previous one to drain.
    big = len(data) > 4 * BODY_PIECE_BYTES
    if big:
        headers = {**headers, "Content-Length": str(len(data))}
    try:
        response = await session.post(
            url,
            data=in_pieces(data) if big else data,
            headers=headers,
            proxy=proxy,
            timeout=_timeout(timeout_ms, stream),
        )
    except asyncio.TimeoutError:
        raise UpstreamFailed(504, f"Provider {provider} ({model}) timed out after {timeout_ms} ms",
                             Outcome.failed("timeout_before_headers")) from None
    except aiohttp.ClientError as exc:
        message = f"Provider {provider} ({model}) is unreachable: {client_error_words(exc)}"
        # The peer closing before the headers carries no OSError to read the cause from.
        kind = "connection_reset" if isinstance(exc, aiohttp.ServerDisconnectedError) else exception_kind(exc)
        if kind is None:
            raise ApiError(502, message) from None
        raise UpstreamFailed(502, message, Outcome.failed(kind)) from None
    if response.status >= 400:
        try:
            text = await error_text(response, error_limit)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            text = response.reason or ""
        finally:
            close_upstream(response)
        raise UpstreamFailed(
            response.status, f"Error from provider({provider},{model}: {response.status}): {text}",
            Outcome.http(response.status), dict(response.headers),
        )
    return response


def close_upstream(response: aiohttp.ClientResponse) -> None:
    """A fully read body returns the connection to the pool; anything else (client gone,
    error mid-stream) must close it so the provider stops generating."""
    if response.content.at_eof():
        response.release()
    else:
        response.close()


async def error_text(response: aiohttp.ClientResponse, limit: int) -> str:
    """At most `limit` bytes of an error answer, decoded; "…(truncated)" marks a cut. The rest
    is never read: `close_upstream` closes the connection instead of draining it."""
    content = response.content
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        data = await content.read(limit + 1 - size)
        if not data:
            break
        parts.append(data)
        size += len(data)
    encoding = response.charset or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "utf-8"
    text = b"".join(parts)[:limit].decode(encoding, errors="replace")
    return text + TRUNCATED if size > limit else text


async def in_pieces(data: bytes) -> AsyncIterator[memoryview]:
    view = memoryview(data)
    for start in range(0, len(view), BODY_PIECE_BYTES):
        yield view[start : start + BODY_PIECE_BYTES]
