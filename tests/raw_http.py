"""HTTP/1.1 over a plain socket, for requests a client library would tidy up: odd request
targets, raw header bytes, several Host headers."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names; the last one wins
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def raw_request(port: int, target: str | bytes, headers: list[tuple[str, str | bytes]] | None = None,
                      method: str = "GET", body: bytes = b"", host: str | None = "127.0.0.1",
                      version: str = "1.1") -> RawResponse:
    """Send one request as written (`host=None` sends no Host header) and read the whole answer."""
    target = target.encode("latin-1") if isinstance(target, str) else target
    lines = [method.encode() + b" " + target + b" HTTP/" + version.encode()]
    if host is not None:
        lines.append(b"Host: " + host.encode("latin-1"))
    for name, value in headers or []:
        lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode("latin-1")))
    lines += [b"Connection: close", b"Content-Length: " + str(len(body)).encode()]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    if parsed.get("transfer-encoding") == "chunked":
        rest = _unchunk(rest)
    return RawResponse(int(status_line.split()[1]), parsed, rest)


def _unchunk(data: bytes) -> bytes:
    out, pos = b"", 0
    while True:
        end = data.index(b"\r\n", pos)
        size = int(data[pos:end].split(b";")[0], 16)
        if size == 0:
            return out
        out += data[end + 2:end + 2 + size]
        pos = end + 2 + size + 2
