"""Fallback chains and key pools on the request path: the rules of `resilience` bound to the
config (providers, key pools, the `fallback` section) and to the app (one health store and
key pool per process, kept across reloads).

`Upstreams` is what a call needs from one config version, computed once per snapshot so a
request derives nothing from the config; `Resilience` is the per-app state. The exchange
(`exchange.py`) runs the attempt loop with them; what a request's attempts were reaches the
client as `x-ccr-route` / `x-ccr-attempts` (noted on the request, added by the app to every
`/v1/messages` answer) and the app log as one line per attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from aiohttp import web

from ..logs import get_app_logger
from ..providers import Provider
from ..resilience import (
    AttemptRecord, Attempts, HealthStore, KeyPool, MemoryHealthStore, ProviderPool, Target,
    build_plan, fallback_targets,
)
from ..resilience.targets import Attempt
from ..routing.router import Route
from ..settings import Settings
from ..transformers.base import Transformer

# Routes whose scenario has no `fallback` key of its own use another's.
FALLBACK_SCENARIO = {"imageAgent": "image"}  # the image agent's calls go to Router.image
ROUTE_HEADER = "x-ccr-route"
ATTEMPTS_HEADER = "x-ccr-attempts"


@dataclass
class Resilience:
    """One per app: the health of every target and pooled key, and which key each session
    uses. A config reload clears the health (key indexes may now name other keys)."""

    store: HealthStore = field(default_factory=MemoryHealthStore)
    keys: KeyPool = field(default_factory=KeyPool)
    clock: Callable[[], float] = time.time  # epoch seconds; tests set their own


RESILIENCE = web.AppKey("resilience", Resilience)


@dataclass(frozen=True)
class RouteNote:
    """What a request's upstream calls came to: the target that answered (or was tried last)
    and how many attempts it took."""

    label: str | None
    attempts: int

    def headers(self) -> dict[str, str]:
        headers = {ATTEMPTS_HEADER: str(self.attempts)}
        if self.label:
            headers[ROUTE_HEADER] = self.label
        return headers


ROUTE_NOTE = web.RequestKey("route_note", RouteNote)
NO_CALL = RouteNote(None, 0)


@dataclass(frozen=True)
class Upstreams:
    """What an upstream call needs from one config version."""

    settings: Settings
    endpoint: Transformer  # the client-facing endpoint transformer
    providers: Mapping[str, Provider]  # keyed by lower-cased name
    fallback: Mapping[str, tuple[str, ...]]  # entries in the configured spelling
    key_counts: Mapping[str, int]  # providers with a key pool (2+ keys) → its size
    pools: tuple[ProviderPool, ...]  # every provider, for the health report

    @classmethod
    def build(cls, settings: Settings, endpoint: Transformer, providers: Mapping[str, Provider]) -> Upstreams:
        return cls(
            settings=settings,
            endpoint=endpoint,
            providers=providers,
            fallback=settings.config.fallback,
            key_counts={p.name: len(p.api_keys) for p in providers.values() if len(p.api_keys) > 1},
            pools=tuple(ProviderPool(p.name, p.models, max(1, len(p.api_keys))) for p in providers.values()),
        )


async def plan_attempts(route: Route, upstreams: Upstreams, resilience: Resilience) -> Attempts:
    """The request's attempts: its route, then its fallback list, each with its usable keys
    (the session's key first), within a budget of API_TIMEOUT_MS."""
    chosen = Target(route.provider.name, route.model)
    scenario = FALLBACK_SCENARIO.get(route.scenario, route.scenario)
    targets = fallback_targets(chosen, scenario, upstreams.fallback) if upstreams.fallback else [chosen]
    plan = await build_plan(
        targets, upstreams.key_counts, resilience.store, resilience.keys, session=route.session,
        now=resilience.clock(), budget_s=upstreams.settings.api_timeout_ms / 1000,
    )
    return Attempts(plan, resilience.store, resilience.keys, clock=resilience.clock)


def attempt_route(attempt: Attempt, route: Route, upstreams: Upstreams) -> Route:
    """The route one attempt calls: the request's own or a fallback target, with the attempt's
    key of a pool. Unchanged (no copy) in the usual case: the chosen target, no pool."""
    target = attempt.target
    if target.provider == route.provider.name and target.model == route.model:
        provider = route.provider
        if attempt.key_index is None:
            return route
    else:
        provider = upstreams.providers[target.provider.lower()]
    if attempt.key_index is not None:
        provider = provider.with_key(attempt.key_index)
    return replace(route, provider=provider, model=target.model)


def log_attempt(record: AttemptRecord, number: int, status: int | None) -> None:
    """One app-log line per attempt. The key appears by its index in the pool, never itself.

    Written on the event loop's next turn: a log line costs about as much as the rest of a
    small request's overhead, and the answer should not wait for it (a JSON answer is written
    first; a stream's line is written while the provider is still generating). The request's
    log context (its request id) goes with it."""
    outcome, verdict = record.outcome, record.verdict
    fields = {
        "attempt": number,
        "provider": record.attempt.target.provider,
        "model": record.attempt.target.model,
        "key_index": record.attempt.key_index,
        "status": outcome.status if outcome is not None else status,
        "reason": outcome.reason if outcome is not None else "ok",
        "next": verdict.decision if verdict is not None else None,
        "ms": round(record.elapsed_s * 1000, 1),
    }
    asyncio.get_running_loop().call_soon(_write_attempt, fields)


def _write_attempt(fields: dict[str, object]) -> None:
    get_app_logger().info("upstream_attempt", **fields)


def note_route(request: web.Request, attempts: Attempts, tried: Target | None) -> None:
    """Remember what the request's calls came to, for its response headers. The first call
    of a request is the one reported (the image agent makes more: the main model's first
    round comes first)."""
    if ROUTE_NOTE not in request:
        request[ROUTE_NOTE] = RouteNote(tried.label if tried else None, len(attempts.history))


def route_headers(request: web.Request) -> dict[str, str]:
    note: RouteNote = request.get(ROUTE_NOTE, NO_CALL)  # aiohttp types `get` with a default as Any
    return note.headers()
