"""Which of a provider's keys a request uses, and in what order it tries the others.

Keys take turns across sessions (round-robin), but a session sticks to one key while that key
is healthy: the provider's prompt cache is per key, and a session re-sends the same long
prefix on every turn. Cooling and disabled keys are skipped. Remembered sessions are bounded
(least recently used go first); forgetting one costs a cache miss, never an error, which is
also why this stays in process memory even when health is shared between workers.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

DEFAULT_MAX_SESSIONS = 10_000


class KeyPool:
    def __init__(self, max_sessions: int = DEFAULT_MAX_SESSIONS) -> None:
        self.max_sessions = max_sessions
        self._sticky: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._turn: dict[str, int] = {}  # provider → the key the next new session gets

    def __len__(self) -> int:
        """How many sessions are remembered."""
        return len(self._sticky)

    def order(self, provider: str, ready_at: Sequence[float], session: str | None, now: float) -> list[int]:
        """The provider's usable keys (`ready_at[i] <= now`), the one to use first, then the
        rest in turn; empty when none is usable (the caller decides whether to wait for the
        soonest). `ready_at[i]` is when key i may be used again (infinity: disabled)."""
        usable = [i for i, ready in enumerate(ready_at) if ready <= now]
        if not usable:
            return []
        first = self._sticky_key(provider, session, usable)
        if first is None:
            first = self._next_turn(provider, len(ready_at), usable)
            if session is not None:
                self.stick(provider, session, first)
        rest = [i for i in _rotation(first, len(ready_at)) if i in usable and i != first]
        return [first, *rest]

    def stick(self, provider: str, session: str, index: int) -> None:
        """Keep `session` on key `index` (called when it answered, so a session that moved
        on from a cooling key stays on the one that worked)."""
        sticky = self._sticky
        sticky[(provider, session)] = index
        sticky.move_to_end((provider, session))
        while len(sticky) > self.max_sessions:
            sticky.popitem(last=False)

    def _sticky_key(self, provider: str, session: str | None, usable: list[int]) -> int | None:
        if session is None:
            return None
        index = self._sticky.get((provider, session))
        if index is None or index not in usable:
            return None
        self._sticky.move_to_end((provider, session))
        return index

    def _next_turn(self, provider: str, count: int, usable: list[int]) -> int:
        start = self._turn.get(provider, 0) % count
        chosen = next(i for i in _rotation(start, count) if i in usable)
        self._turn[provider] = (chosen + 1) % count
        return chosen


def soonest(ready_at: Sequence[float]) -> int:
    """The key that becomes usable first (the lowest index on a tie, and when all are disabled)."""
    best = min(ready_at, default=math.inf)
    return ready_at.index(best) if ready_at else 0


def _rotation(start: int, count: int) -> list[int]:
    return [(start + step) % count for step in range(count)]
