"""The cooldown state machine of one key or one target, as pure functions over a record.

A key that got 429 cools down for the provider's retry-after, else 30 s, doubling on each
repeat up to 10 min; a key that got 401/403 is disabled until the config is reloaded. A
target (`provider,model`) is skipped after 3 consecutive retryable failures for 30 s,
doubling, capped at 10 min — after that cooldown one more failure is enough to re-open it
(the breaker's half-open probe); a 429 on a target without a key pool cools it at once.
Success resets everything but the last error, which stays visible in the health report.

Pure so that every store (in-process, shared memory, Redis) applies the exact same rules:
read the record, compute the next one, write it back atomically. All times are epoch floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from .targets import SubjectState

# What happened, as far as health is concerned: the breaker counts "failed"; "rate_limited"
# cools at once; "rejected" (a bad key) disables.
FailureKind = Literal["failed", "rate_limited", "rejected"]


@dataclass(frozen=True)
class CooldownPolicy:
    base_s: float = 30.0
    cap_s: float = 600.0
    failures_to_trip: int = 3
    # A provider's own retry-after is trusted up to this: long enough for an hourly quota,
    # short enough that a misread header cannot shelve a key for days.
    max_retry_after_s: float = 3600.0

    def backoff(self, strikes: int) -> float:
        """30 s, 60 s, 120 s ... for the 1st, 2nd, 3rd cooldown in a row, capped."""
        return min(self.cap_s, self.base_s * 2.0 ** max(0, min(strikes - 1, 32)))


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    reason: str                      # "http 429", "connection_refused" — never provider wording
    at: float                        # epoch seconds
    retry_after: float | None = None  # seconds the provider asked for, if it said


@dataclass(frozen=True)
class Health:
    """One key's or target's record. The default value is "healthy, never failed"."""

    until: float = 0.0               # skipped before this epoch time
    disabled: bool = False
    consecutive_failures: int = 0
    strikes: int = 0                 # cooldowns since the last success: the backoff exponent
    last_error: str | None = None
    last_error_at: float | None = None

    def ready_at(self) -> float:
        """When this may be used again: the past when ready now, infinity when disabled."""
        return math.inf if self.disabled else self.until

    def state(self, now: float) -> SubjectState:
        if self.disabled:
            return "disabled"
        return "cooling" if self.until > now else "ok"


HEALTHY = Health()


def after_failure(health: Health | None, failure: Failure, policy: CooldownPolicy) -> Health:
    health = health or HEALTHY
    failures = health.consecutive_failures + 1
    noted = replace(health, consecutive_failures=failures, last_error=failure.reason,
                    last_error_at=failure.at)
    if failure.kind == "rejected":
        return replace(noted, disabled=True)
    asked = None if failure.retry_after is None else min(failure.retry_after, policy.max_retry_after_s)
    if failure.at < health.until:
        # Already cooling: this call started before the cooldown did (concurrent requests).
        # Escalating here would turn one burst of 16 failures into a 10-minute ban; only a
        # longer wait the provider asked for is taken.
        if asked is not None:
            return replace(noted, until=max(health.until, failure.at + asked))
        return noted
    if failure.kind == "failed" and failures < policy.failures_to_trip:
        return noted
    strikes = health.strikes + 1
    delay = asked if asked is not None else policy.backoff(strikes)
    return replace(noted, strikes=strikes, until=failure.at + delay)


def after_success(health: Health | None) -> Health | None:
    """The record after a success; None when nothing changes (the common case, so a store can
    skip the write on the hot path)."""
    if health is None or health == replace(HEALTHY, last_error=health.last_error,
                                           last_error_at=health.last_error_at):
        return None
    return replace(HEALTHY, last_error=health.last_error, last_error_at=health.last_error_at)
