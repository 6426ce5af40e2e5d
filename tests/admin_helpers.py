"""Shared by the admin API tests: the config file of a test client, and a refused save."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ccr_aio import config_store


def config_path(client: Any) -> Path:
    """The file the server under test reads (set by `make_client`, in process or not)."""
    return client.config_path


async def refused(client: Any, body: Any, status: int = 400, **kwargs: Any) -> str:
    """POST `body` (a dict as JSON, or bytes as sent); expect `status` in the error shape with
    nothing written (file and backups as before). Returns the message."""
    path = config_path(client)
    before, backups = path.read_text(), config_store.backups(path)
    if isinstance(body, bytes):
        response = await client.post("/api/config", data=body, **kwargs)
    else:
        response = await client.post("/api/config", json=body, **kwargs)
    answer = await response.json()
    assert response.status == status and answer["type"] == "error", answer
    assert path.read_text() == before and config_store.backups(path) == backups
    return answer["error"]["message"]
