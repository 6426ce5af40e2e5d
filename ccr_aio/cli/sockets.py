"""Listening sockets that outlive a restart, and the aiohttp site that serves them.

The server opens its listening sockets itself and hands aiohttp a duplicate of each. Stopping
the site closes only the duplicate, so during a restart the socket stays open: the kernel keeps
completing connections into the backlog while the old process drains and the new one starts,
and no client sees "connection refused". The sockets cross `execve` as inherited descriptors
named in the environment (with the PID, which exec keeps, so a stray variable is ignored);
the new process takes them only if they still listen on the address its config asks for.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web
from aiohttp.web_runner import BaseSite

FDS_ENV = "CCR_AIO_LISTEN_FDS"
PID_ENV = "CCR_AIO_LISTEN_PID"
BACKLOG = 1024


def _addresses(host: str, port: int) -> list[tuple[int, tuple[Any, ...]]]:
    infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    seen: list[tuple[int, tuple[Any, ...]]] = []
    for family, _, _, _, address in infos:
        if family in (socket.AF_INET, socket.AF_INET6) and (family, address[:2]) not in seen:
            seen.append((family, address[:2]))
    return seen


def open_listeners(host: str, port: int, backlog: int = BACKLOG) -> list[socket.socket]:
    """Bind and listen like asyncio's create_server(host, port); raises OSError."""
    sockets: list[socket.socket] = []
    try:
        for family, address in _addresses(host, port):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        close_all(sockets)
        raise
    return sockets


def inherited_listeners(host: str, port: int) -> list[socket.socket] | None:
    """The sockets a restarting predecessor passed on, if they listen where we should."""
    names = os.environ.pop(FDS_ENV, "")
    owner = os.environ.pop(PID_ENV, "")
    if not names or owner != str(os.getpid()):
        return None
    sockets: list[socket.socket] = []
    for name in names.split(","):
        try:
            sock = socket.socket(fileno=int(name))
        except (OSError, ValueError):
            continue
        sock.set_inheritable(False)
        sockets.append(sock)
    try:
        wanted = sorted((int(family), address) for family, address in _addresses(host, port))
        held = sorted((int(s.family), s.getsockname()[:2]) for s in sockets
                      if s.type == socket.SOCK_STREAM
                      and s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
    except OSError:
        held, wanted = [], [(0, ())]
    if held != wanted or len(held) != len(sockets):  # HOST or PORT changed: bind afresh
        close_all(sockets)
        return None
    return sockets


def pass_on_exec(sockets: Iterable[socket.socket], env: dict[str, str]) -> None:
    """Make `sockets` survive execve and name them in `env` for the next process."""
    fds = []
    for sock in sockets:
        sock.set_inheritable(True)
        fds.append(str(sock.fileno()))
    if fds:
        env[FDS_ENV] = ",".join(fds)
        env[PID_ENV] = str(os.getpid())


def close_all(sockets: Iterable[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


class ListenerSite(BaseSite):
    """Serves a duplicate of a listening socket with our own protocol factory; stop() closes
    the duplicate only, so the socket keeps queueing connections until the caller closes it."""

    __slots__ = ("_sock", "_factory", "_name")

    def __init__(self, runner: web.BaseRunner, sock: socket.socket,
                 factory: Callable[[], asyncio.Protocol]) -> None:
        super().__init__(runner, backlog=BACKLOG)
        self._sock, self._factory = sock, factory
        host, port = sock.getsockname()[:2]
        self._name = f"http://[{host}]:{port}" if sock.family == socket.AF_INET6 else f"http://{host}:{port}"

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await super().start()
        duplicate = self._sock.dup()
        duplicate.setblocking(False)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._factory, sock=duplicate, backlog=self._backlog)
