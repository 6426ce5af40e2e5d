"""A fake Google OAuth token endpoint plus a fake Vertex AI, in one aiohttp app.

- `POST /token`: the JWT-bearer grant. The assertion's RS256 signature is verified with the
  public key of a throwaway RSA key (`service_account_key`), and its claims are checked.
  Tokens are `tok-<n>`, valid for `expires_in` seconds.
- `POST /v1/projects/{p}/locations/{l}/publishers/google/models/{m}:{action}`: Gemini (the
  `GeminiScript` of the Gemini fake).
- `POST /v1/projects/{p}/locations/{l}/publishers/anthropic/models/{m}:rawPredict|streamRawPredict`:
  Anthropic Messages, scripted as a list of events (a JSON request gets `message`).
Both Vertex routes require `Authorization: Bearer <a token this endpoint issued>`.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.gemini_upstream import GeminiRequest, GeminiScript

SCOPE = "https://www.googleapis.com/auth/cloud-platform"


_PRIVATE_KEYS: list[Any] = []


def service_account_key(token_uri: str, project_id: str | None = "proj-1") -> tuple[dict[str, Any], Any]:
    """A service-account key file dict and its public key. The throwaway RSA key is generated on
    first use and reused by later tests (generation is the slow part)."""
    if not _PRIVATE_KEYS:
        _PRIVATE_KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    private = _PRIVATE_KEYS[0]
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "private_key_id": "kid-1",
        "private_key": pem,
        "client_email": "ccr@proj-1.iam.gserviceaccount.com",
        "token_uri": token_uri,
    }
    if project_id:
        info["project_id"] = project_id
    return info, private.public_key()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class ClaudeReply:
    events: list[dict[str, Any]] = field(default_factory=list)
    message: dict[str, Any] | None = None
    status: int = 200


class FakeVertex:
    def __init__(self, public_key: Any = None, expires_in: int = 3600) -> None:
        self.public_key = public_key
        self.expires_in = expires_in
        self.token_uri = ""
        self.issued: list[str] = []
        self.assertions: list[dict[str, Any]] = []
        self.gemini = GeminiScript()
        self.claude: deque[ClaudeReply] = deque()
        self.claude_requests: list[GeminiRequest] = []
        self.gate: asyncio.Event | None = None  # when set, /token waits for it (refresh in flight)
        self.token_started = asyncio.Event()
        self.token_status = 200

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self.token)
        app.router.add_post(
            "/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model_action}", self.predict
        )
        return app

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.token_started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.token_status != 200:
            return web.json_response({"error": "invalid_grant", "error_description": "Invalid JWT"}, status=self.token_status)
        if form.get("grant_type") == "refresh_token" and form.get("refresh_token") == "rt-1":
            return self._issue()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        header_b64, claims_b64, signature_b64 = str(form["assertion"]).split(".")
        self.public_key.verify(
            _b64decode(signature_b64), f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )  # raises (-> 500) on a bad signature
        header, claims = json.loads(_b64decode(header_b64)), json.loads(_b64decode(claims_b64))
        assert header["alg"] == "RS256" and claims["aud"] == self.token_uri and claims["scope"] == SCOPE
        assert claims["exp"] - claims["iat"] == 3600
        self.assertions.append(claims)
        return self._issue()

    def _issue(self) -> web.Response:
        token = f"tok-{len(self.issued) + 1}"
        self.issued.append(token)
        return web.json_response({"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"})

    async def predict(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.issued:
            return web.json_response({"error": {"code": 401, "message": "bad token", "status": "UNAUTHENTICATED"}}, status=401)
        if request.match_info["publisher"] == "google":
            return await self.gemini.answer(request, request.match_info["model_action"])
        model, _, action = request.match_info["model_action"].partition(":")
        body = await request.json()
        self.claude_requests.append(GeminiRequest(request.path, model, action, dict(request.query), dict(request.headers), body))
        reply = self.claude.popleft()
        if action == "rawPredict":
            return web.json_response(reply.message, status=reply.status)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        for event in reply.events:
            await response.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
        await response.write_eof()
        return response


async def start_vertex(aiohttp_server: Any, tmp_path: Path, expires_in: int = 3600, project_id: str | None = "proj-1") -> tuple[FakeVertex, Path]:
    """Start a FakeVertex on 127.0.0.1 and write a key file whose token_uri points at it."""
    fake = FakeVertex(expires_in=expires_in)
    server = await aiohttp_server(fake.app(), host="127.0.0.1")
    fake.server = server  # type: ignore[attr-defined]
    fake.token_uri = str(server.make_url("/token"))
    info, fake.public_key = service_account_key(fake.token_uri, project_id)
    path = tmp_path / "sa-key.json"
    path.write_text(json.dumps(info))
    return fake, path
