"""JSON text in and out, in one place: every module imports from here, so the JSON library is
chosen in this file alone.

The library is orjson (measured against msgspec and the standard library on our own workloads:
bench/json_bench.py). Its output is what JavaScript's JSON.stringify writes for JSON data —
compact separators, non-ASCII kept as UTF-8 — the form providers and clients expect on the wire,
and it never writes NaN or Infinity (they become null). Human-facing files (the config file,
pid files) are pretty-printed with the standard library instead.

`loads` accepts standard JSON only: NaN, Infinity, lone surrogate escapes and nesting deeper
than orjson's limit are ValueErrors. Integers beyond 64 bits come back as floats, which is what
JavaScript clients and Claude Code Router do with them too. Client bodies go through
`inputs.json_body`, which refuses or mends what `loads` alone would not say clearly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson

# What orjson cannot write: integers beyond 64 bits, keys that are not strings, nesting beyond
# its own limit, strings with lone surrogates, types it does not know. The standard library
# writes the first three, and raises the same TypeError/ValueError as orjson for the rest.
_std_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_orjson_dumps = orjson.dumps
_ENCODE_ERROR = orjson.JSONEncodeError

loads = orjson.loads
"""JSON text (bytes or str) -> Python value; orjson.JSONDecodeError is a ValueError."""


def dumps_bytes(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON: what goes on the wire (request bodies, SSE data lines)."""
    try:
        return _orjson_dumps(value)
    except _ENCODE_ERROR:
        return _std_encode(value).encode()


def dumps(value: Any) -> str:
    """`value` as compact JSON text, for JSON that travels inside a string field (tool call
    arguments, a provider error quoted in a message)."""
    try:
        return _orjson_dumps(value).decode()
    except _ENCODE_ERROR:
        return _std_encode(value)


def _as_text(value: Any) -> str:
    return repr(value)


def dumps_log_line(value: Mapping[str, Any]) -> bytes:
    """A log event as one compact JSON line (with its `\\n`), never failing on what it holds:
    values JSON cannot show (exceptions, paths, objects) are written as their `repr`."""
    try:
        return _orjson_dumps(value, default=_as_text, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS)
    except _ENCODE_ERROR:
        return (json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_as_text) + "\n").encode(
            "utf-8", "replace")
