"""A settable clock and scripted providers, to drive the resilience loop without HTTP or sleeping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ccr_aio.errors import ApiError
from ccr_aio.resilience import (
    Attempt, Attempts, KeyPool, MemoryHealthStore, Outcome, Target, build_plan, fallback_targets,
)

T0 = 1_700_000_000.0  # an epoch time, like the ones the real clock gives


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Reply:
    """What a scripted provider does for one call: answer (status None) or fail."""

    status: int | None = None
    exception: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    message: str = ""
    takes_s: float = 0.0

    def outcome(self) -> Outcome:
        if self.exception:
            return Outcome.failed(self.exception)  # type: ignore[arg-type]
        return Outcome.http(self.status or 0)

    def error(self, attempt: Attempt) -> ApiError:
        if self.exception:
            return ApiError(502, self.message or f"Provider {attempt.target.label} is unreachable")
        text = self.message or f"Error from provider({attempt.target.label}: {self.status}): boom"
        return ApiError(self.status or 500, text)


OK = Reply()


class Providers:
    """Per (label, key index) a queue of replies (then `OK`), and a log of every call made —
    what the fake upstreams' request logs are to the end-to-end tests."""

    def __init__(self, clock: FakeClock, script: Mapping[tuple[str, int | None], Sequence[Reply]] | None = None):
        self.clock = clock
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.calls: list[tuple[str, int | None]] = []

    def always(self, label: str, reply: Reply, key: int | None = None, times: int = 1000) -> None:
        self.script[(label, key)] = [reply] * times

    def call(self, attempt: Attempt) -> Reply:
        slot = (attempt.target.label, attempt.key_index)
        self.calls.append(slot)
        queue = self.script.get(slot) or []
        reply = queue.pop(0) if queue else OK
        self.clock.advance(reply.takes_s)
        return reply


@dataclass
class Setup:
    clock: FakeClock
    providers: Providers
    store: MemoryHealthStore = field(default_factory=MemoryHealthStore)
    keys: KeyPool = field(default_factory=KeyPool)
    key_counts: dict[str, int] = field(default_factory=dict)
    fallback: dict[str, list[str]] = field(default_factory=dict)

    async def request(self, chosen: str, scenario: str = "default", session: str | None = None,
                      budget_s: float = 600.0) -> tuple[Attempt | None, Attempts]:
        """One request through the loop as the exchange will run it; returns what answered
        (None when all failed) and the loop's record."""
        target = Target.parse(chosen)
        assert target is not None
        targets = fallback_targets(target, scenario, self.fallback)
        plan = await build_plan(targets, self.key_counts, self.store, self.keys,
                                session=session, now=self.clock(), budget_s=budget_s)
        attempts = Attempts(plan, self.store, self.keys, clock=self.clock)
        for attempt in attempts:
            reply = self.providers.call(attempt)
            if reply.status is None and reply.exception is None:
                await attempts.succeeded(attempt)
                return attempt, attempts
            await attempts.failed(attempt, reply.outcome(), reply.error(attempt), reply.headers)
        return None, attempts


def make_setup(**kwargs) -> Setup:
    clock = FakeClock()
    return Setup(clock, Providers(clock), **kwargs)
