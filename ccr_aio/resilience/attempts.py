"""One request's attempts loop, minus the HTTP: what to try next after an outcome, what the
outcome does to shared health, when to stop, and the error the client gets at the end.

The exchange drives it like this (only before the first byte reaches the client):

    attempts = Attempts(plan, store, keys)
    for attempt in attempts:
        try: response = <open the upstream call for attempt, timeout ≤ attempts.remaining_s()>
        except <failure>: await attempts.failed(attempt, outcome, error, headers); continue
        await attempts.succeeded(attempt); return <stream the response>
    raise attempts.final_error()
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from ..errors import ApiError
from .classify import Outcome, Verdict, classify
from .cooldown import Failure, FailureKind
from .keys import KeyPool
from .plan import Plan
from .retry_after import retry_delay
from .store import HealthStore
from .targets import Attempt, KeyRef, Subject, Target

PASSED_THROUGH = ("retry-after", "retry-after-ms")  # what Claude Code's SDK honours


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt, for the app log (never a key, only its index) and the final message."""

    attempt: Attempt
    outcome: Outcome | None    # None: it succeeded
    verdict: Verdict | None
    elapsed_s: float
    error: ApiError | None = None
    headers: Mapping[str, str] | None = None


class AttemptsFailed(ApiError):
    """The last provider's error, with the `retry-after` it sent for the client to honour."""

    def __init__(self, status: int, message: str, error_type: str | None,
                 headers: Mapping[str, str]) -> None:
        super().__init__(status, message, error_type, headers)


class Attempts:
    def __init__(self, plan: Plan, store: HealthStore, keys: KeyPool,
                 clock: Callable[[], float] = time.time) -> None:
        self.plan = plan
        self.store = store
        self.keys = keys
        self.clock = clock
        self.history: list[AttemptRecord] = []
        self.out_of_time = False
        self._stopped = False
        self._dropped: set[Subject] = set()  # targets and keys this request is done with
        self._started_at = 0.0

    def __iter__(self) -> Iterator[Attempt]:
        for attempt in self.plan.attempts:
            if self._stopped:
                return
            if attempt.target in self._dropped or attempt.key in self._dropped:
                continue
            if self.history and self.clock() >= self.plan.deadline:
                self.out_of_time = True  # the first attempt always runs; later ones only in time
                return
            self._started_at = self.clock()
            yield attempt

    def remaining_s(self) -> float:
        """Time left in the request's budget, to bound the next attempt's own timeout."""
        return max(0.0, self.plan.deadline - self.clock())

    async def succeeded(self, attempt: Attempt) -> None:
        self._note(attempt, None, None)
        subjects: list[Subject] = [attempt.target]
        if attempt.key is not None:
            subjects.append(attempt.key)
            if self.plan.session is not None:
                self.keys.stick(attempt.target.provider, self.plan.session, attempt.key.index)
        await self.store.record_success(subjects)

    async def failed(self, attempt: Attempt, outcome: Outcome, error: ApiError,
                     headers: Mapping[str, str] | None = None) -> Verdict:
        """Record a failed attempt; the verdict says what happens next (the loop acts on it)."""
        now = self.clock()
        verdict = classify(outcome, pooled=attempt.key is not None)
        self._note(attempt, outcome, verdict, error, headers)
        change = _health_change(attempt, verdict)
        if change is not None:
            subject, kind = change
            delay = retry_delay(headers, now) if headers else None
            await self.store.record_failure(subject, Failure(kind, outcome.reason, now, delay))
        if verdict.decision == "give_up":
            self._stopped = True
        elif verdict.decision == "retry_next_target":
            self._dropped.add(attempt.target)
        elif attempt.key is not None:
            self._dropped.add(attempt.key)  # also for other models of the same provider
        return verdict

    def final_error(self) -> AttemptsFailed:
        """The last provider's status and wording (verbatim after a single attempt, so Claude
        Code still recognises it), its retry-after, and which targets were tried."""
        failures = [r for r in self.history if r.error is not None]
        if not failures:
            raise RuntimeError("final_error() before any attempt failed")
        last = failures[-1]
        error = last.error
        assert error is not None
        message = error.message
        if len(self.history) > 1 or self.out_of_time:
            message = f"{message} [tried: {describe_tried(self.history)}"
            message += "; time budget used up]" if self.out_of_time else "]"
        headers = {name: value for name, value in (last.headers or {}).items()
                   if name.lower() in PASSED_THROUGH}
        return AttemptsFailed(error.status, message, error.error_type, headers)

    def _note(self, attempt: Attempt, outcome: Outcome | None, verdict: Verdict | None,
              error: ApiError | None = None, headers: Mapping[str, str] | None = None) -> None:
        elapsed = max(0.0, self.clock() - self._started_at)
        self.history.append(AttemptRecord(attempt, outcome, verdict, elapsed, error, headers))


def _health_change(attempt: Attempt, verdict: Verdict) -> tuple[Subject, FailureKind] | None:
    key: KeyRef | None = attempt.key
    effect = verdict.effect
    if effect == "cool_key" and key is not None:
        return key, "rate_limited"
    if effect == "disable_key" and key is not None:
        return key, "rejected"
    if effect == "count_failure":
        return attempt.target, "failed"
    if effect == "cool_target":
        return attempt.target, "rate_limited"
    return None


def describe_tried(history: list[AttemptRecord]) -> str:
    """"a,m1 (keys #0, #1); b,m2" — targets in the order tried, with the pooled keys used."""
    keys_by_target: dict[Target, list[int]] = {}
    for record in history:
        used = keys_by_target.setdefault(record.attempt.target, [])
        if record.attempt.key_index is not None:
            used.append(record.attempt.key_index)
    parts = []
    for target, used in keys_by_target.items():
        if not used:
            parts.append(target.label)
        else:
            noun = "key" if len(used) == 1 else "keys"
            parts.append(f"{target.label} ({noun} {', '.join(f'#{i}' for i in used)})")
    return "; ".join(parts)
