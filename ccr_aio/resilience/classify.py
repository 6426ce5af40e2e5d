"""What is retried: one failed attempt's outcome → what the request does next, and what the
failure does to the shared health of the key or the target.

The rules (one table, so the request path and the health state never disagree):
- connection refused/reset, DNS failure, other failures to connect, a timeout before the
  response headers (or, for a call that waits for it, before the first chunk of the body),
  an answer that ends cleanly before its first byte (`empty_answer`), and HTTP 408, 409, 500,
  502, 503, 504, 529 are the provider's trouble: try the next target, and count a failure against this `provider,model`.
- 429 with a key pool: that key is rate-limited; cool it, try the provider's next key.
  429 without a pool: the target itself is rate-limited; cool it, try the next target.
- 401/403 with a key pool: that key is bad; disable it, try the provider's next key.
  Without a pool there is no other key, and another provider would not fix our credentials
  for this one, so the client gets the provider's answer.
- any other 4xx: the request itself is bad; a fallback would fail the same way, and Claude
  Code matches on the provider's wording, so it goes back untouched.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Decision = Literal["retry_same_provider_next_key", "retry_next_target", "give_up"]
# What the failure does to shared health: nothing, the key (cool / disable), or the target
# (count towards its breaker / cool it for the provider's retry-after).
Effect = Literal["none", "cool_key", "disable_key", "count_failure", "cool_target"]
ExceptionKind = Literal[
    "connection_refused", "connection_reset", "dns_failure", "timeout_before_headers",
    "timeout_before_first_byte", "connection_failed", "empty_answer",
]

RETRYABLE_STATUSES = frozenset({408, 409, 500, 502, 503, 504, 529})
RATE_LIMITED = 429
KEY_REJECTED = frozenset({401, 403})
_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})


@dataclass(frozen=True)
class Outcome:
    """How an attempt failed: the provider answered `status`, or no answer came (`exception`)."""

    status: int | None = None
    exception: ExceptionKind | None = None

    @classmethod
    def http(cls, status: int) -> Outcome:
        return cls(status=status)

    @classmethod
    def failed(cls, kind: ExceptionKind) -> Outcome:
        return cls(exception=kind)

    @property
    def reason(self) -> str:
        """Short and free of provider wording, so it is safe to keep and show anywhere."""
        return f"http {self.status}" if self.status is not None else str(self.exception)


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    effect: Effect


GIVE_UP = Verdict("give_up", "none")


def classify(outcome: Outcome, pooled: bool) -> Verdict:
    """The verdict for a failed attempt; `pooled` says whether the key came from a pool of
    two or more (then a key problem stays with that key)."""
    if outcome.exception is not None:
        return Verdict("retry_next_target", "count_failure")
    status = outcome.status
    if status is None or status < 400:
        raise ValueError(f"not a failure: {outcome!r}")
    if status == RATE_LIMITED:
        return Verdict("retry_same_provider_next_key", "cool_key") if pooled else Verdict(
            "retry_next_target", "cool_target")
    if status in KEY_REJECTED:
        return Verdict("retry_same_provider_next_key", "disable_key") if pooled else GIVE_UP
    if status in RETRYABLE_STATUSES:
        return Verdict("retry_next_target", "count_failure")
    return GIVE_UP


def exception_kind(exc: BaseException) -> ExceptionKind | None:
    """The kind of a failure to get response headers, from the standard-library errors the
    HTTP client wraps (aiohttp's connector errors are OSErrors carrying the cause's errno and
    `os_error`); None when it is not a network failure (a bug must not look like an outage).
    A peer closing before the headers without an OSError (aiohttp's ServerDisconnectedError)
    is for the caller to map to "connection_reset"."""
    for error in _causes(exc):
        if isinstance(error, socket.gaierror):
            return "dns_failure"
        if isinstance(error, TimeoutError):
            return "timeout_before_headers"
        code = getattr(error, "errno", None)
        if isinstance(error, ConnectionRefusedError) or code == errno.ECONNREFUSED:
            return "connection_refused"
        if isinstance(error, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)) or (
                code in _RESET_ERRNOS):
            return "connection_reset"
    # Host/network unreachable, TLS failures...: still no answer from the provider.
    return "connection_failed" if any(isinstance(e, OSError) for e in _causes(exc)) else None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The error, then what it wraps (`os_error`) and its causes, breadth first; bounded and
    cycle-safe."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 16:
        error = todo.pop(0)
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        todo.extend(e for e in (getattr(error, "os_error", None), error.__cause__, error.__context__)
                    if isinstance(e, BaseException))
