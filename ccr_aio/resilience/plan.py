"""The attempt list of one request: which targets, with which keys, in what order.

The list is the chosen `provider,model`, then `fallback["provider,model"]` when that entry
exists (even empty: a way to say "no fallback for this one"), else `fallback[scenario]`. Each
target is expanded by its provider's usable keys (the session's key first); cooling targets
and keys are left out — but when everything is cooling, the one that recovers soonest is
tried anyway, because a call that may well succeed beats an error made up without one.
Bounded twice: at most len(fallback) + the largest pool attempts, and a time budget (the
deadline) after which no new attempt starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .keys import KeyPool, soonest
from .store import HealthStore
from .targets import Attempt, KeyRef, Subject, Target


@dataclass(frozen=True)
class Plan:
    attempts: tuple[Attempt, ...]   # never empty
    deadline: float                 # epoch: no new attempt starts after it
    session: str | None = None
    skipped: tuple[Target, ...] = ()  # targets left out because they were cooling


def fallback_targets(chosen: Target, scenario: str, fallback: Mapping[str, Sequence[str]]) -> list[Target]:
    """`chosen`, then its fallback list; duplicates (and `chosen` itself) are dropped, as are
    entries that are not `provider,model` (the config model rejects those at load)."""
    entries = _by_label(fallback, chosen.label)
    if entries is None:
        entries = fallback.get(scenario) or ()
    targets = [chosen]
    seen = {chosen.label.casefold()}
    for entry in entries:
        target = Target.parse(entry) if isinstance(entry, str) else None
        if target is not None and target.label.casefold() not in seen:
            seen.add(target.label.casefold())
            targets.append(target)
    return targets


def max_attempts(targets: Sequence[Target], key_counts: Mapping[str, int]) -> int:
    """The bound: one attempt per fallback target, plus the largest key pool among them (all
    the primary's keys when it is the pooled one)."""
    largest_pool = max((key_counts.get(t.provider, 1) for t in targets), default=1)
    return len(targets) - 1 + max(1, largest_pool)


async def build_plan(
    targets: Sequence[Target],
    key_counts: Mapping[str, int],
    store: HealthStore,
    keys: KeyPool,
    *,
    session: str | None,
    now: float,
    budget_s: float,
) -> Plan:
    """The attempts for `targets` (from `fallback_targets`); `key_counts` maps a provider name
    to the size of its `api_key` list (a provider missing from it has one key)."""
    if not targets:
        raise ValueError("a plan needs at least the chosen target")
    records = await store.read(_subjects(targets, key_counts))

    def ready_at(subject: Subject) -> float:
        record = records.get(subject)
        return record.ready_at() if record is not None else 0.0

    groups: list[list[Attempt]] = []  # per usable target, its usable keys in order
    waiting: list[tuple[float, Attempt]] = []  # what to try, and from when, if all are cooling
    skipped: list[Target] = []
    for target in targets:
        target_ready = ready_at(target)
        count = key_counts.get(target.provider, 1)
        if count < 2:
            usable = [Attempt(target)] if target_ready <= now else []
            fallback_attempt, recovers = Attempt(target), target_ready
        else:
            key_ready = [ready_at(KeyRef(target.provider, i)) for i in range(count)]
            order = keys.order(target.provider, key_ready, session, now) if target_ready <= now else []
            usable = [Attempt(target, i) for i in order]
            first = soonest(key_ready)
            fallback_attempt, recovers = Attempt(target, first), max(target_ready, key_ready[first])
        if usable:
            groups.append(usable)
        else:
            skipped.append(target)
            waiting.append((recovers, fallback_attempt))
    if not groups:
        # min() keeps the first of equals: on a tie (or all keys disabled) the earlier target.
        soonest_attempt = min(waiting, key=lambda pair: pair[0])[1]
        groups = [[soonest_attempt]]
        skipped = [t for t in skipped if t != soonest_attempt.target]
    attempts = _bounded(groups, max_attempts(targets, key_counts))
    return Plan(attempts, now + budget_s, session, tuple(skipped))


def _bounded(groups: list[list[Attempt]], limit: int) -> tuple[Attempt, ...]:
    """At most `limit` attempts, every target keeping its first key: the spare attempts go to
    the extra keys of the earlier targets (a next key before a next model), in order."""
    spare = max(0, limit - len(groups))
    kept: list[Attempt] = []
    for group in groups[:limit]:
        extra = min(spare, len(group) - 1)
        spare -= extra
        kept.extend(group[:1 + extra])
    return tuple(kept)


def _subjects(targets: Sequence[Target], key_counts: Mapping[str, int]) -> list[Subject]:
    subjects: list[Subject] = list(targets)
    for provider in dict.fromkeys(t.provider for t in targets):
        count = key_counts.get(provider, 1)
        if count > 1:
            subjects.extend(KeyRef(provider, i) for i in range(count))
    return subjects


def _by_label(fallback: Mapping[str, Sequence[str]], label: str) -> Sequence[str] | None:
    """`fallback[label]`, matching `provider,model` case-insensitively as the Router does."""
    if label in fallback:
        return fallback[label]
    folded = label.casefold()
    for name, entries in fallback.items():
        target = Target.parse(name)
        if target is not None and target.label.casefold() == folded:
            return entries
    return None
