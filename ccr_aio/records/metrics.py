"""Prometheus metrics for `/metrics`, on a registry of their own.

Each `Metrics` has its own `CollectorRegistry`, so two apps in one process (tests, a reload)
never clash over metric names, and nothing registers on the library's global registry.

Labels come from the record: `provider` and `model` are empty for a request that never reached
a provider (bad request, unknown route), `status` is the HTTP status as text. Token and cost
counters are the same sums as `/api/usage`, so the two agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from .record import RequestRecord

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
TTFB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
TOKEN_KINDS = (
    ("input", "input_tokens"),
    ("output", "output_tokens"),
    ("cache_read", "cache_read_tokens"),
    ("cache_write", "cache_creation_tokens"),
)


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        target = ["provider", "model"]
        self.requests = Counter("ccr_requests", "Requests answered, by where they went and how "
                                "they ended", [*target, "scenario", "status"], registry=registry)
        self.tokens = Counter("ccr_tokens", "Tokens as reported to the client",
                              [*target, "kind"], registry=registry)
        self.cost = Counter("ccr_cost_usd", "Cost of the priced requests in USD", target,
                            registry=registry)
        self.duration = Histogram("ccr_request_duration_seconds", "Arrival to last byte",
                                  target, buckets=DURATION_BUCKETS, registry=registry)
        self.ttfb = Histogram("ccr_time_to_first_byte_seconds", "Arrival to first byte sent",
                              target, buckets=TTFB_BUCKETS, registry=registry)
        self.upstream_errors = Counter("ccr_upstream_errors", "Failed provider calls, retried or "
                                       "not", [*target, "status"], registry=registry)
        # "livesum" only matters in prometheus_client's multi-process mode: the sum over the
        # live worker processes.
        self.in_flight = Gauge("ccr_requests_in_flight", "Requests being answered now",
                               ["stream"], registry=registry, multiprocess_mode="livesum")

        # A metric's `labels()` validates and locks on every call: most of the cost of a
        # record. The children are kept here once made (they never go away).
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def started(self, stream: bool) -> None:
        self._child(self.in_flight, _flag(stream)).inc()

    def moved(self, was_stream: bool, stream: bool) -> None:
        """A request in flight turned out to stream (or not): move it to its gauge."""
        self._child(self.in_flight, _flag(was_stream)).dec()
        self._child(self.in_flight, _flag(stream)).inc()

    def observe(self, record: RequestRecord) -> None:
        """One finished request (call once per record; `started` once before it)."""
        provider, model, child = record.provider or "", record.model or "", self._child
        child(self.in_flight, _flag(record.stream)).dec()
        child(self.requests, provider, model, record.scenario or "", str(record.status)).inc()
        for kind, name in TOKEN_KINDS:
            count = getattr(record, name)
            if count:
                child(self.tokens, provider, model, kind).inc(count)
        if record.cost_usd is not None:
            child(self.cost, provider, model).inc(record.cost_usd)
        child(self.duration, provider, model).observe(record.duration_ms / 1000)
        if record.ttfb_ms is not None:
            child(self.ttfb, provider, model).observe(record.ttfb_ms / 1000)
        for attempt in record.providers_tried:
            if attempt["status"] is not None:
                child(self.upstream_errors, attempt["provider"], attempt["model"],
                      str(attempt["status"])).inc()

    def watch_store(self, queued: Callable[[], int], lost: Callable[[], int]) -> None:
        """Report the store's queue depth and lost records, read at scrape time."""
        self.registry.register(StoreCollector(queued, lost))

    def render(self) -> tuple[bytes, str]:
        """The text exposition format and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class StoreCollector(Collector):
    def __init__(self, queued: Callable[[], int], lost: Callable[[], int]) -> None:
        self.queued, self.lost = queued, lost

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("ccr_usage_records_queued", "Records waiting for the disk",
                                value=self.queued())
        yield CounterMetricFamily("ccr_usage_records_lost", "Records never written since start "
                                  "(queue full, write failed)", value=self.lost())


def _flag(value: bool) -> str:
    return "true" if value else "false"
