"""Google OAuth access tokens for the Vertex transformers (`vertex-gemini`, `vertex-claude`, `vertex-openai`).

Credentials are a service-account JSON key (JWT-bearer grant, RS256-signed with `cryptography`)
or a gcloud `authorized_user` file (refresh-token grant). They come from the transformer options
(`credentials`/`keyFile`: a path or the parsed key; or inline `client_email` + `private_key`),
then `GOOGLE_APPLICATION_CREDENTIALS`, then gcloud's application-default file.

A token is reused until 60 s before it expires. One refresh runs at a time (asyncio.Lock); while it
runs, requests keep using the old token if it is still valid. File reading and RSA signing run
in a thread, the token POST goes through aiohttp, so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from .errors import ApiError
from .settings import ConfigError

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
REFRESH_MARGIN_S = 60
TOKEN_LIFETIME_S = 3600
_TIMEOUT = aiohttp.ClientTimeout(total=30)
_HELP = (
    "Vertex AI needs Google credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, "
    "or give the transformer the option {\"credentials\": \"/path/key.json\"}"
)


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_assertion(info: dict[str, Any], now: int) -> str:
    """The JWT-bearer assertion for a service-account key (blocking: RSA signing)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):  # RS256 signs with RSA only
        raise TypeError(f"an RS256 signature needs an RSA key, not {type(key).__name__}")
    header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
    if info.get("private_key_id"):
        header["kid"] = info["private_key_id"]
    claims = {
        "iss": info["client_email"],
        "scope": SCOPE,
        "aud": info.get("token_uri") or GOOGLE_TOKEN_URI,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_S,
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _read_key_file(path: str) -> dict[str, Any]:
    try:
        info = json.loads(Path(path).expanduser().read_text())
    except OSError as exc:
        raise ApiError(500, f"Cannot read Google credentials file {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise ApiError(500, f"Google credentials file {path} is not valid JSON") from None
    if not isinstance(info, dict):
        raise ApiError(500, f"Google credentials file {path} is not a JSON object")
    return info


def _inline_info(options: dict[str, Any]) -> dict[str, Any] | None:
    """Inline service-account fields; `\\n` escapes in the key (env vars, JSON strings) become newlines."""
    email, key = options.get("client_email"), options.get("private_key")
    if not email or not key:
        return None
    info = {k: v for k, v in options.items() if k in ("project_id", "private_key_id", "token_uri")}
    return {**info, "type": "service_account", "client_email": email, "private_key": str(key).replace("\\n", "\n")}


def _source(options: dict[str, Any]) -> Any:
    return options.get("credentials") or options.get("keyFile") or options.get("key_file")


def _default_adc_path() -> str | None:
    path = Path.home() / ".config" / "gcloud" / "application_default_credentials.json"
    return str(path) if path.is_file() else None


class GoogleAuth:
    """Access tokens for one set of credentials, cached across requests."""

    def __init__(self, options: dict[str, Any] | None = None, clock: Callable[[], float] = time.time) -> None:
        options = options or {}
        source = _source(options)
        self._info: dict[str, Any] | None = source if isinstance(source, dict) else _inline_info(options)
        self._path: str | None = source if isinstance(source, str) else None
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0  # tokens fetched: observable for tests and logs

    @classmethod
    def require_inline(cls, options: dict[str, Any], name: str) -> GoogleAuth:
        """Construction for transformers that must have credentials at start-up (vertex-openai):
        from their options or from GOOGLE_APPLICATION_CREDENTIALS."""
        has_options = _inline_info(options) is not None or isinstance(_source(options), (str, dict))
        if not has_options and not os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
            raise ConfigError(
                f"transformer '{name}' needs options {{\"client_email\", \"private_key\"}} "
                "or {\"credentials\": \"/path/key.json\"}, or GOOGLE_APPLICATION_CREDENTIALS set"
            )
        return cls(options)

    async def info(self) -> dict[str, Any] | None:
        """The credentials JSON, loaded once; None when there are none at all."""
        if self._info is None:
            path = self._path or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") or _default_adc_path()
            if path:
                self._info = await asyncio.to_thread(_read_key_file, path)
        return self._info

    async def project_id(self) -> str | None:
        info = await self.info()
        project = (info or {}).get("project_id") or (info or {}).get("quota_project_id")
        return project if isinstance(project, str) and project else None

    async def token(self) -> str:
        token = self._token
        now = self._clock()
        if token is not None and now < token.expires_at - REFRESH_MARGIN_S:
            return token.value
        if token is not None and now < token.expires_at and self._lock.locked():
            return token.value  # another request is refreshing; this one is still good
        async with self._lock:
            token = self._token
            if token is not None and self._clock() < token.expires_at - REFRESH_MARGIN_S:
                return token.value
            try:
                self._token = await self._fetch()
            except ApiError:
                if token is not None and self._clock() < token.expires_at:
                    return token.value  # a failed early refresh: the current token still works
                raise
            return self._token.value

    async def _fetch(self) -> _Token:
        info = await self.info()
        if info is None:
            raise ApiError(500, _HELP)
        kind = info.get("type") or "service_account"
        if kind == "service_account":
            if not info.get("client_email") or not info.get("private_key"):
                raise ApiError(500, "Google service-account key lacks client_email or private_key")
            try:
                assertion = await asyncio.to_thread(sign_assertion, info, int(self._clock()))
            except (ValueError, TypeError) as exc:
                raise ApiError(500, f"Google service-account private_key is unusable: {exc}") from None
            form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
        elif kind == "authorized_user":
            form = {
                "grant_type": "refresh_token",
                "client_id": info.get("client_id") or "",
                "client_secret": info.get("client_secret") or "",
                "refresh_token": info.get("refresh_token") or "",
            }
        else:
            raise ApiError(500, f"Unsupported Google credentials type '{kind}'. {_HELP}")
        return await self._post(info.get("token_uri") or GOOGLE_TOKEN_URI, form)

    async def _post(self, uri: str, form: dict[str, str]) -> _Token:
        started = self._clock()
        try:
            async with aiohttp.ClientSession(timeout=_TIMEOUT, trust_env=True) as session:
                async with session.post(uri, data=form) as response:
                    text = await response.text()
                    status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise ApiError(500, f"Google OAuth token request to {uri} failed: {exc!r}") from None
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if status >= 400 or not isinstance(body, dict) or not body.get("access_token"):
            raise ApiError(500, f"Google OAuth token request failed ({status}): {text[:500]}")
        self.fetches += 1
        expires_in = body.get("expires_in")
        lifetime = expires_in if isinstance(expires_in, (int, float)) and expires_in > 0 else TOKEN_LIFETIME_S
        return _Token(str(body["access_token"]), started + lifetime)


# -- Vertex AI project, location and URL -------------------------------------------------------


async def vertex_project(auth: GoogleAuth, options: dict[str, Any]) -> str:
    """Options, then GOOGLE_CLOUD_PROJECT, then the key file's project_id."""
    project = options.get("project") or options.get("project_id") or os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        project = await auth.project_id()
    if not project:
        raise ApiError(
            500,
            "Vertex AI needs a project id: set GOOGLE_CLOUD_PROJECT, give the transformer the option "
            "{\"project\": \"<id>\"}, or use a service-account key file (GOOGLE_APPLICATION_CREDENTIALS) with project_id",
        )
    return str(project)


def vertex_location(options: dict[str, Any], default: str) -> str:
    return str(options.get("location") or os.environ.get("GOOGLE_CLOUD_LOCATION") or default)


def vertex_url(
    base: str, *, project: str, location: str, publisher: str, model: str, action: str, version: str = "v1"
) -> str:
    """`<base>/<version>/projects/<p>/locations/<l>/publishers/<publisher>/models/<model>:<action>`.

    A base that is not an http(s) URL (a placeholder) means Google's regional host. A base whose
    path already ends in a version or in `/models` keeps that path, so proxies and full URLs work."""
    if not base.startswith(("http://", "https://")):
        base = "https://aiplatform.googleapis.com" if location == "global" else f"https://{location}-aiplatform.googleapis.com"
    base = base.rstrip("/")
    tail = base.rsplit("/", 1)[-1]
    if tail != "models":
        if tail not in ("v1", "v1beta1"):
            base += f"/{version}"
        base += f"/projects/{project}/locations/{location}/publishers/{publisher}/models"
    return f"{base}/{model}:{action}"
