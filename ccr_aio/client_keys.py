"""Which of the configured client keys (`APIKEY`) a request carries."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from aiohttp import web

from .config import ClientKey

# The name of the named key a request was let in with (absent for a plain-string APIKEY).
CLIENT_KEY = web.RequestKey("client_key", str)


def matching_key(supplied: str, keys: Iterable[ClientKey]) -> ClientKey | None:
    """The key equal to `supplied`, or None. Every key is compared, each in constant time,
    and the loop never stops early: how long it takes says neither whether nor which key
    matched."""
    # Header bytes that are not UTF-8 arrive as surrogate escapes: compare the bytes as sent.
    given = supplied.encode("utf-8", "surrogateescape")
    found: ClientKey | None = None
    for key in keys:
        if hmac.compare_digest(given, key.key.encode()) and found is None:
            found = key
    return found
