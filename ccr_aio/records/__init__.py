"""Request records: one per request, to the server log, a SQLite file and Prometheus metrics.

How the request path uses it
- Once per app: `recorder = await Recorder.open(usage=USAGE, path=..., retention_days=
  USAGE_RETENTION_DAYS)` at startup; `await recorder.aclose()` at cleanup, after the last
  handler has returned, so the records of requests cut by the shutdown are written too.
  `USAGE: false` gives a Recorder without a store: metrics and log lines only.
- Per request, exactly one record, written in a `finally`:

      builder = recorder.start(request_id, stream=..., session=..., project=...,
                               client_key=..., requested_model=...)
      status, error = 500, None
      try:
          builder.scenario = route.scenario
          builder.attempt(provider.name, model, provider.pricing)   # each provider call
          builder.attempt_failed(429)                                # ...that failed
          builder.first_byte()                                       # first write to client
          builder.observe_event(event)        # each Anthropic event sent (usage is in two)
          builder.observe_message(message)    # or the JSON message sent
          scanner = builder.scanner(); scanner.feed(raw)             # or raw passthrough bytes
          status = 200                        # or the SSE error's status for a cut stream
      except ApiError as exc:
          status, error = exc.status, exc
      except (ConnectionResetError, asyncio.CancelledError) as exc:
          status, error = CLIENT_CLOSED, exc  # client gone, or server stopping: then re-raise
          raise
      finally:
          record = recorder.finish(builder, status, error)   # never waits for the disk
          if record: log.info("request_completed", **record.to_dict())

  `finish` makes the record only the first time, so reaching it twice is harmless.
- Reads for the API: `recorder.store.requests(...)` and `recorder.store.usage(...)`, with
  `since`/`until` parsed by `parse_time`; `recorder.metrics.render()` for `/metrics`.

Why SQLite in WAL mode, one file per machine
- Nothing to install or run; the file survives restarts; a query groups a month of records
  in milliseconds with the indexes here.
- WAL lets the API read while a batch is written, and lets several processes of one machine
  (the N workers of one server, a CLI) write the same file: each writes about once a second
  in one short `BEGIN IMMEDIATE` transaction, and `busy_timeout` makes the others wait for it
  rather than fail. WAL needs shared memory between the processes, so the file must be on a
  local disk: several machines each keep their own file (or a shared store, later).
- Metrics: one process keeps them in memory. With N workers (`--workers`) each worker writes
  its values to files in one directory the parent owns (`metrics_files.py`: prometheus_client's
  multi-process mode), so `/metrics`, whichever worker answers, is the sum over all of them,
  dead ones included; gauges sum the live workers only (`livesum`).

Layers: this package imports the standard library, `prometheus_client` and itself only;
what it needs from the config (pricing tables, paths, switches) comes in as plain values.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Name -> the module that defines it. The package loads a module on first use of one of its
# names, so `config` can validate `pricing` (pricing.py, stdlib only) without the CLI paying
# for prometheus_client, sqlite3 and asyncio on every start (the status line must be fast).
_EXPORTS = {
    "RecordBuilder": "builder",
    "DEFAULT_RETENTION_DAYS": "database", "UsageDatabase": "database",
    "Metrics": "metrics",
    "Price": "pricing", "cost_usd": "pricing", "parse_price": "pricing",
    "parse_pricing": "pricing", "price_for": "pricing",
    "GROUP_KEYS": "queries",
    "CLIENT_CLOSED": "record", "Attempted": "record", "RequestRecord": "record",
    "error_text": "record", "is_error": "record",
    "Recorder": "recorder",
    "SCHEMA_VERSION": "schema", "SchemaTooNew": "schema",
    "DEFAULT_PATH": "store", "UsageStore": "store",
    "parse_time": "timeparse",
    "SseUsageScanner": "usage", "Usage": "usage",
}
# Spelled out (not computed from _EXPORTS) so a type checker sees what the package exports.
__all__ = [
    "Attempted", "CLIENT_CLOSED", "DEFAULT_PATH", "DEFAULT_RETENTION_DAYS", "GROUP_KEYS",
    "Metrics", "Price", "RecordBuilder", "Recorder", "RequestRecord", "SCHEMA_VERSION",
    "SchemaTooNew", "SseUsageScanner", "Usage", "UsageDatabase", "UsageStore", "cost_usd",
    "error_text", "is_error", "parse_price", "parse_pricing", "parse_time", "price_for",
]
assert sorted(__all__) == sorted(_EXPORTS)

if TYPE_CHECKING:
    from .builder import RecordBuilder
    from .database import DEFAULT_RETENTION_DAYS, UsageDatabase
    from .metrics import Metrics
    from .pricing import Price, cost_usd, parse_price, parse_pricing, price_for
    from .queries import GROUP_KEYS
    from .record import CLIENT_CLOSED, Attempted, RequestRecord, error_text, is_error
    from .recorder import Recorder
    from .schema import SCHEMA_VERSION, SchemaTooNew
    from .store import DEFAULT_PATH, UsageStore
    from .timeparse import parse_time
    from .usage import SseUsageScanner, Usage


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
