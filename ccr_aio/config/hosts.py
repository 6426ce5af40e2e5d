"""Host names: reading the name out of a `Host` header or an `ALLOWED_HOSTS` entry, and which
names and addresses are this machine's own.

A web page on a domain that the attacker re-points at 127.0.0.1 (DNS rebinding) reaches the
server with its own domain in `Host`; a client that connects by address sends the address. So
a name decides, a port never does (a port-forward or a reverse proxy changes it).
"""

from __future__ import annotations

import functools
import ipaddress
import re

_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")
_PORT = re.compile(r"^[0-9]{1,5}$")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def split_authority(authority: str) -> tuple[str, str] | None:
    """`name[:port]` or `[v6][:port]` -> (lower-cased name without brackets or trailing dot,
    port text); None when it is not one."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None
        name, rest = authority[1:end], authority[end + 1:]
        if _ip(name) is None or (rest and not rest.startswith(":")):
            return None
        port = rest[1:]
    else:
        name, _, port = authority.partition(":")
        if ":" in port:
            return None
    if port and not (_PORT.match(port) and int(port) <= 65535):
        return None
    name = name.removesuffix(".")
    if _ip(name) is None and not _NAME.match(name):
        return None
    return name, port


def host_name(authority: str) -> str | None:
    """The name in a `Host` header (or an Origin's host[:port]); None when it is malformed."""
    parts = split_authority(authority)
    return parts[0] if parts else None


def is_ip(name: str) -> bool:
    return _ip(name) is not None


def is_loopback_name(name: str) -> bool:
    """`localhost`, `*.localhost` (browsers resolve those to loopback themselves) or a
    loopback address."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _ip(name)
    return address is not None and address.is_loopback


def is_loopback_address(address: str | None) -> bool:
    """A peer address (`request.remote`) that is this machine; IPv4-mapped IPv6 counts."""
    ip = _ip(address or "")
    return ip is not None and ip.is_loopback


@functools.lru_cache(maxsize=256)  # the same few Host names and peers on every request
def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])  # fe80::1%eth0: the zone is no part of it
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip
