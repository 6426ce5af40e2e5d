"""Downloading a preset: http(s) only, at most 5 redirects (which stay http(s)), 60 s, 50 MB.

[FIX] CCR downloaded with no timeout, no size cap and no scheme check, and left temp files
behind; here the bytes stay in memory (capped), so nothing is left on disk on any path.
GitHub repositories are fetched as their archive ZIP from `GITHUB_ARCHIVE_BASE` (default
https://github.com), so tests and mirrors can point it elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp

from .store import PresetError

MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024
TIMEOUT_S = 60.0
MAX_REDIRECTS = 5
_REPO = re.compile(r"^(?:(?:https?://)?(?:www\.)?github\.com/|git@github\.com:)?"
                   r"([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9._-]+?)(?:\.git)?/?$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,200}$")


def too_large(limit: int | None = None) -> PresetError:
    return PresetError(413, f"The preset file is larger than {(limit or MAX_DOWNLOAD_BYTES) / (1024 * 1024):g} MB")


def check_url(url: object) -> str:
    if not isinstance(url, str) or urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).hostname:
        raise PresetError(400, "Only http:// and https:// URLs can be installed from")
    return url


async def download(url: str, *, limit: int | None = None, timeout: float | None = None,
                   proxy: str | None = None) -> bytes:
    """The body at `url`; 502 when it cannot be had, 413 when it is over `limit`."""
    check_url(url)
    limit = limit or MAX_DOWNLOAD_BYTES
    timeout = timeout or TIMEOUT_S
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), trust_env=False) as session:
            async with session.get(url, max_redirects=MAX_REDIRECTS, proxy=proxy) as response:
                if not 200 <= response.status < 300:
                    raise PresetError(502, f"Failed to download preset: the server answered "
                                           f"{response.status} {response.reason or ''}".rstrip())
                if response.content_length is not None and response.content_length > limit:
                    raise too_large(limit)
                body = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > limit:
                        raise too_large(limit)
                return bytes(body)
    except aiohttp.TooManyRedirects:
        raise PresetError(502, f"Failed to download preset: more than {MAX_REDIRECTS} redirects") from None
    except asyncio.TimeoutError:
        raise PresetError(502, f"Failed to download preset: no complete answer within {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise PresetError(502, f"Failed to download preset: {type(exc).__name__}: {exc}"[:400]) from None


def github_archive_url(repo: object, ref: object = None, env: Mapping[str, str] = os.environ) -> tuple[str, str]:
    """(archive URL, repository name) for `owner/repo`, `https://github.com/owner/repo[.git]`
    or `git@github.com:owner/repo.git`, at `ref` (a branch; default main)."""
    match = _REPO.match(repo.strip()) if isinstance(repo, str) else None
    if match is None:
        raise PresetError(400, "Invalid GitHub repository: use owner/repo or https://github.com/owner/repo")
    ref = ref or "main"
    if not isinstance(ref, str) or not _REF.match(ref) or ".." in ref:
        raise PresetError(400, "Invalid ref: a branch name")
    base = (env.get("GITHUB_ARCHIVE_BASE") or "https://github.com").rstrip("/")
    owner, name = match.groups()
    return f"{base}/{owner}/{name}/archive/refs/heads/{ref}.zip", name
