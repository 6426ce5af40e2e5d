"""Filling in a record while a request runs, and closing it exactly once.

The request path makes one builder when a request arrives, sets what it learns as it goes
(the route, each provider attempt, the first byte, the usage it sends) and calls `finish`
from a `finally`, so a failure, a client that left or a cancelled task still ends it. Only
the first `finish` makes a record; any later one returns None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from .pricing import cost_usd, price_for
from .record import Attempted, RequestRecord, error_text
from .usage import SseUsageScanner, Usage


@dataclass(slots=True, eq=False)
class RecordBuilder:
    id: str
    stream: bool
    time: float  # wall clock at arrival, for the record
    started: float  # `monotonic` at arrival, for the durations
    session: str | None = None
    project: str | None = None
    client_key: str | None = None
    scenario: str | None = None
    requested_model: str | None = None
    provider: str | None = None
    model: str | None = None
    pricing: Mapping[str, Any] | None = None  # the answering provider's `pricing` table
    tried: list[Attempted] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    first_byte_at: float | None = None
    # How an answer already under way ended, when not as it began: (status, error).
    outcome: tuple[int, BaseException | str | None] | None = None
    monotonic: Callable[[], float] = perf_counter
    record: RequestRecord | None = None

    @property
    def finished(self) -> bool:
        return self.record is not None

    def attempt(self, provider: str, model: str, pricing: Mapping[str, Any] | None = None) -> None:
        """A call to a provider starts; the last one is the request's provider and price."""
        self.provider, self.model, self.pricing = provider, model, pricing
        self.tried.append(Attempted(provider=provider, model=model, status=None))

    def attempt_failed(self, status: int) -> None:
        """The current call failed with this status (a provider's error, or ours for a call
        that never got an answer: 502, 504)."""
        if self.tried:
            self.tried[-1]["status"] = status

    def first_byte(self) -> None:
        """The first byte of the answer went to the client; later calls change nothing."""
        if self.first_byte_at is None:
            self.first_byte_at = self.monotonic()

    def answer_ended(self, status: int, error: BaseException | str | None = None) -> None:
        """The answer, already under way with a 200, ended otherwise: a stream cut by an error
        event (that error's status) or a client that left (CLIENT_CLOSED). The first counts:
        what follows a cut is its consequence."""
        if self.outcome is None:
            self.outcome = (status, error)

    def observe_event(self, event: Any) -> None:
        self.usage.observe_event(event)

    def observe_message(self, message: Any) -> None:
        self.usage.observe_message(message)

    def scanner(self) -> SseUsageScanner:
        """Usage from a raw Anthropic stream passed through untouched."""
        return SseUsageScanner(self.usage)

    def finish(self, status: int, error: BaseException | str | None = None) -> RequestRecord | None:
        """The record, the first time; None after (the request path may reach here twice)."""
        if self.record is not None:
            return None
        now = self.monotonic()
        usage = self.usage
        self.record = RequestRecord(
            id=self.id,
            time=self.time,
            session=self.session,
            project=self.project,
            client_key=self.client_key,
            scenario=self.scenario,
            requested_model=self.requested_model,
            provider=self.provider,
            model=self.model,
            attempts=len(self.tried),
            providers_tried=tuple(Attempted(**a) for a in self.tried),
            stream=self.stream,
            status=status,
            error=error_text(error),
            ttfb_ms=_ms(self.first_byte_at - self.started) if self.first_byte_at is not None else None,
            duration_ms=_ms(now - self.started),
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_creation_tokens=usage.cache_creation_tokens,
            cost_usd=cost_usd(
                price_for(self.pricing, self.model),
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_creation_tokens=usage.cache_creation_tokens,
            ),
        )
        return self.record


def _ms(seconds: float) -> float:
    return round(max(seconds, 0.0) * 1000, 3)
