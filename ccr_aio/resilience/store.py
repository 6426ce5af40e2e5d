"""Where key and target health lives, behind a small interface.

Today it is this process's memory. Later the same records are shared by worker processes
and, with Redis, by several machines — so the methods are coarse (one read per request plan,
one write per outcome) and async (a remote store must not block the event loop), and a write
carries the event rather than the new record: each store applies `cooldown.after_failure`
atomically on its side (a lock, or WATCH/MULTI), so two workers failing at once cannot lose
a count or double a cooldown. Records are plain values with epoch-float times, so they
serialize as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from .cooldown import CooldownPolicy, Failure, Health, after_failure, after_success
from .targets import Subject


class HealthStore(Protocol):
    async def read(self, subjects: Iterable[Subject]) -> dict[Subject, Health]:
        """The records of those subjects that have one; a missing one is healthy."""
        ...

    async def record_failure(self, subject: Subject, failure: Failure) -> Health:
        """Apply a failure to the subject's record; returns the new record."""
        ...

    async def record_success(self, subjects: Iterable[Subject]) -> None:
        """A call through these (a target and its key) succeeded: reset their cooldowns."""
        ...

    async def snapshot(self) -> dict[Subject, Health]:
        """Every record, for the health report."""
        ...

    async def clear(self) -> None:
        """Forget everything: on a config reload a disabled key may have been replaced, and
        key indexes may now point at other keys."""
        ...


class MemoryHealthStore:
    """One process's records. Bounded by what the config names (targets and pooled keys), and
    emptied on reload, so it needs no eviction."""

    def __init__(self, policy: CooldownPolicy | None = None) -> None:
        self.policy = policy or CooldownPolicy()
        self._records: dict[Subject, Health] = {}

    async def read(self, subjects: Iterable[Subject]) -> dict[Subject, Health]:
        records = self._records
        if not records:  # the usual case: nothing has ever failed
            return {}
        return {s: records[s] for s in subjects if s in records}

    async def record_failure(self, subject: Subject, failure: Failure) -> Health:
        # No await between the read and the write: atomic on the event loop.
        health = after_failure(self._records.get(subject), failure, self.policy)
        self._records[subject] = health
        return health

    async def record_success(self, subjects: Iterable[Subject]) -> None:
        records = self._records
        if not records:
            return
        for subject in subjects:
            health = after_success(records.get(subject))
            if health is not None:
                records[subject] = health

    async def snapshot(self) -> dict[Subject, Health]:
        return dict(self._records)

    async def clear(self) -> None:
        self._records.clear()
