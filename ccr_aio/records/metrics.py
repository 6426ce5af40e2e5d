"""Prometheus metrics for `/metrics`, on a registry of their own.

In memory (one process): each `Metrics` has its own `CollectorRegistry` and its own metric
objects, so two apps in one process (tests, a reload) never clash over metric names, and
nothing registers on the library's global registry.

In the workers of `--workers N` (metrics_files.py): the values live in files, one set per
process, and `render` sums the files of every worker. The metric objects are then made once
per process and shared by every `Metrics` in it: two sets would each write their own running
total to the same entry of the same file, so one would overwrite the other's counts.

The store's numbers (`ccr_usage_records_queued`, `ccr_usage_records_lost_total`) belong to
each process's store. In memory they are read from it at scrape time. With workers the worker
that answers a scrape cannot read the others' stores, so each worker writes its numbers to its
files whenever they change (the store calls back): `queued` is a gauge summed over the live
workers (a dead worker's queue is gone), `lost` a counter summed over all of them, the dead
ones too. Both keep their names and no extra label, so a dashboard reads them the same way in
both modes.

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

from . import metrics_files
from .record import RequestRecord

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
TTFB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
TOKEN_KINDS = (
    ("input", "input_tokens"),
    ("output", "output_tokens"),
    ("cache_read", "cache_read_tokens"),
    ("cache_write", "cache_creation_tokens"),
)
QUEUED = ("ccr_usage_records_queued", "Records waiting for the disk")
LOST = ("ccr_usage_records_lost", "Records never written since start (queue full, write failed)")
StoreReading = Callable[[], int]


class Instruments:
    """The metric objects and their label children; `registry` None: values in files."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
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
        # "livesum" only matters with files: the sum over the live worker processes.
        self.in_flight = Gauge("ccr_requests_in_flight", "Requests being answered now",
                               ["stream"], registry=registry, multiprocess_mode="livesum")
        # A metric's `labels()` validates and locks on every call: most of the cost of a
        # record. The children are kept here once made (they never go away).
        self.children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.stores: StoreFiles | None = None  # with files: the process's stores, once watched

    def child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), values)
        child = self.children.get(key)
        if child is None:
            child = self.children[key] = metric.labels(*values)
        return child


_process_instruments: Instruments | None = None


def _instruments(registry: CollectorRegistry) -> Instruments:
    """Its own set for an in-memory `Metrics`; with files, the one set of the process."""
    global _process_instruments
    if metrics_files.directory() is None:
        return Instruments(registry)
    if _process_instruments is None:
        _process_instruments = Instruments(None)
    return _process_instruments


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._m = _instruments(self.registry)
        files = metrics_files.directory()
        if files is not None:
            metrics_files.sum_workers(self.registry, files)

    def started(self, stream: bool) -> None:
        m = self._m
        m.child(m.in_flight, _flag(stream)).inc()

    def moved(self, was_stream: bool, stream: bool) -> None:
        """A request in flight turned out to stream (or not): move it to its gauge."""
        m = self._m
        m.child(m.in_flight, _flag(was_stream)).dec()
        m.child(m.in_flight, _flag(stream)).inc()

    def observe(self, record: RequestRecord) -> None:
        """One finished request (call once per record; `started` once before it)."""
        m = self._m
        provider, model, child = record.provider or "", record.model or "", m.child
        child(m.in_flight, _flag(record.stream)).dec()
        child(m.requests, provider, model, record.scenario or "", str(record.status)).inc()
        for kind, name in TOKEN_KINDS:
            count = getattr(record, name)
            if count:
                child(m.tokens, provider, model, kind).inc(count)
        if record.cost_usd is not None:
            child(m.cost, provider, model).inc(record.cost_usd)
        child(m.duration, provider, model).observe(record.duration_ms / 1000)
        if record.ttfb_ms is not None:
            child(m.ttfb, provider, model).observe(record.ttfb_ms / 1000)
        for attempt in record.providers_tried:
            if attempt["status"] is not None:
                child(m.upstream_errors, attempt["provider"], attempt["model"],
                      str(attempt["status"])).inc()

    def watch_store(self, queued: StoreReading, lost: StoreReading) -> Callable[[], None] | None:
        """Report a store's queue depth and lost records. In memory they are read at scrape
        time: None. With files: the function for the store to call when they change."""
        if metrics_files.directory() is None:
            self.registry.register(StoreCollector(queued, lost))
            return None
        m = self._m
        if m.stores is None:
            m.stores = StoreFiles()
        m.stores.watch(queued, lost)
        return m.stores.publish

    def render(self) -> tuple[bytes, str]:
        """The text exposition format and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class StoreCollector(Collector):
    def __init__(self, queued: StoreReading, lost: StoreReading) -> None:
        self.queued, self.lost = queued, lost

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(*QUEUED, value=self.queued())
        yield CounterMetricFamily(*LOST, value=self.lost())


class StoreFiles:
    """The numbers of a worker's stores (one, in practice), written to its files on change."""

    def __init__(self) -> None:
        self.queued = Gauge(*QUEUED, registry=None, multiprocess_mode="livesum")
        self.lost = Counter(*LOST, registry=None)
        self.readings: list[tuple[StoreReading, StoreReading]] = []
        self.lost_written = 0

    def watch(self, queued: StoreReading, lost: StoreReading) -> None:
        self.readings.append((queued, lost))

    def publish(self) -> None:
        self.queued.set(sum(queued() for queued, _ in self.readings))
        lost = sum(lost() for _, lost in self.readings)
        if lost > self.lost_written:  # a counter only goes up: add what is new
            self.lost.inc(lost - self.lost_written)
            self.lost_written = lost


def _flag(value: bool) -> str:
    return "true" if value else "false"
