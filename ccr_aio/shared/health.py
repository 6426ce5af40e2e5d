"""The resilience `HealthStore` over a shared `Backend`: a key that got 429 in one worker (or
on one instance, with Redis) is cooling in all of them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict

from ..resilience.cooldown import CooldownPolicy, Failure, Health, after_failure, after_success
from ..resilience.targets import KeyRef, Subject, Target
from .backend import Backend

SPACE = "health"
TTL_S = 24 * 3600.0  # a record nobody touched for a day is forgotten (healthy again)


def subject_key(subject: Subject) -> str:
    # JSON, so any provider or model name round-trips.
    if isinstance(subject, Target):
        return json.dumps(["t", subject.provider, subject.model])
    return json.dumps(["k", subject.provider, subject.index])


def subject_of(key: str) -> Subject | None:
    try:
        kind, provider, tail = json.loads(key)
    except (ValueError, TypeError):
        return None
    if kind == "t" and isinstance(tail, str):
        return Target(str(provider), tail)
    if kind == "k" and isinstance(tail, int):
        return KeyRef(str(provider), tail)
    return None


def _encode(health: Health) -> bytes:
    return json.dumps(asdict(health)).encode()


def _decode(value: bytes | None) -> Health | None:
    if value is None:
        return None
    try:
        return Health(**json.loads(value))
    except (ValueError, TypeError):
        return None


class SharedHealthStore:
    def __init__(self, backend: Backend, policy: CooldownPolicy | None = None) -> None:
        self.backend, self.policy = backend, policy or CooldownPolicy()

    async def read(self, subjects: Iterable[Subject]) -> dict[Subject, Health]:
        by_key = {subject_key(s): s for s in subjects}
        found = await self.backend.get_many(SPACE, by_key)
        return {by_key[k]: h for k, v in found.items() if (h := _decode(v)) is not None}

    async def record_failure(self, subject: Subject, failure: Failure) -> Health:
        value = await self.backend.update(
            SPACE, subject_key(subject), lambda old: _encode(after_failure(_decode(old), failure, self.policy)),
            TTL_S)
        return _decode(value) or after_failure(None, failure, self.policy)

    async def record_success(self, subjects: Iterable[Subject]) -> None:
        by_key = {subject_key(s): s for s in subjects}
        found = await self.backend.get_many(SPACE, by_key)
        for key, value in found.items():
            health = after_success(_decode(value))
            if health is not None and _encode(health) != value:
                await self.backend.update(SPACE, key, lambda old: _encode(after_success(_decode(old)) or Health()),
                                          TTL_S)

    async def snapshot(self) -> dict[Subject, Health]:
        found = await self.backend.items(SPACE)
        pairs = ((subject_of(k), _decode(v)) for k, v in found.items())
        return {s: h for s, h in pairs if s is not None and h is not None}

    async def clear(self) -> None:
        await self.backend.clear(SPACE)
