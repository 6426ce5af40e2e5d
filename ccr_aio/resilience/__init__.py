"""Resilience: fallback chains, key pools and cooldowns, so one provider's failure does not
reach Claude Code.

Why this shape
- The rules are pure and separate, each testable without HTTP: `classify` (what is retried
  and what a failure does to health), `retry_after` (how long the provider asked us to wait),
  `cooldown` (the state machine of one key or one `provider,model`), `keys` (which key a
  session uses), `plan` (the ordered attempts of one request), `attempts` (the bookkeeping of
  the loop that makes them, and the final error), `report` (the health endpoint's body).
- Shared state — the health records — sits behind `store.HealthStore`, a small async Protocol
  with coarse methods and epoch-float times, so it can move to shared memory between worker
  processes or to Redis without touching the rules: a store applies `cooldown.after_failure`
  atomically on its side. The key pool's session → key map stays per process: losing it only
  costs a prompt-cache miss.
- The package sits low in the layers: it imports the standard library, `errors` and itself,
  never settings, routes, pipeline or transformers. What it needs from the config comes in as
  plain values (`Target`, key counts, `ProviderPool`, the `fallback` mapping).

How the request path uses it (the upstream exchange)
1. Once per app: a `MemoryHealthStore` and a `KeyPool`, kept across config reloads; a reload
   calls `store.clear()` (disabled keys come back, key indexes may have changed).
2. Per request: `targets = fallback_targets(chosen, scenario, config.fallback)`, then
   `plan = await build_plan(targets, key_counts, store, keys, session=..., now=time.time(),
   budget_s=API_TIMEOUT_MS / 1000)`.
3. `for attempt in Attempts(plan, store, keys)`: open the call with `attempt.key_index`'s key
   and a timeout within `remaining_s()`; a failure before the first byte reaches the client
   → `await failed(attempt, outcome, error, headers)` and the loop goes on (or stops: a 400
   is never retried); a success → `await succeeded(attempt)` and stream. A streaming request
   waits for the provider's first chunk before committing to it; once any event is written to
   the client a failure ends the stream as today (SSE `error`, no retry).
4. All failed → `raise attempts.final_error()` (its `headers` carry `retry-after`). Every
   answer gets `x-ccr-route` (the target of the last attempt) and `x-ccr-attempts`
   (`len(attempts.history)`); each `AttemptRecord` is one app-log line.
5. `GET /api/providers/health` → `health_report(store, providers, time.time())`.
"""

from .attempts import AttemptRecord, Attempts, AttemptsFailed
from .classify import Decision, ExceptionKind, Outcome, Verdict, classify, exception_kind
from .cooldown import CooldownPolicy, Failure, Health
from .keys import KeyPool
from .plan import Plan, build_plan, fallback_targets, max_attempts
from .report import health_report
from .retry_after import retry_delay
from .store import HealthStore, MemoryHealthStore
from .targets import SCENARIOS, Attempt, KeyRef, ProviderPool, Scenario, Target

__all__ = [
    "SCENARIOS", "Attempt", "AttemptRecord", "Attempts", "AttemptsFailed", "CooldownPolicy",
    "Decision", "ExceptionKind", "Failure", "Health", "HealthStore", "KeyPool", "KeyRef",
    "MemoryHealthStore", "Outcome", "Plan", "ProviderPool", "Scenario", "Target", "Verdict",
    "build_plan", "classify", "exception_kind", "fallback_targets", "health_report",
    "max_attempts", "retry_delay",
]
