"""The JSON libraries side by side on our own workloads (the choice in ccr_aio/jsonutil.py).

Run: .venv/bin/python bench/json_bench.py  (msgspec is not a dependency: pip install it to compare)
Workloads: decoding a client body (the ~380 KB conversation of bench.py, and a ~400 KB session
of many short turns built from a captured Claude Code 2.1.332 turn), encoding the upstream body
converted from it, and one SSE chunk in (an OpenAI chunk) and out (an Anthropic event).
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.conversation import long_conversation  # noqa: E402
from bench.inputs_bench import many_short_turns  # noqa: E402
from ccr_aio.transformers.endpoint.request import anthropic_to_unified  # noqa: E402
from ccr_aio.transformers.shared.cache_control import strip_cache_control  # noqa: E402

Codec = tuple[Callable[[bytes], Any], Callable[[Any], bytes]]
CHUNK = (b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"fake-model",'
         b'"choices":[{"index":0,"delta":{"content":"word12 "},"finish_reason":null}]}')
EVENT = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "word12 "}}


def codecs() -> dict[str, Codec]:
    std = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    found: dict[str, Codec] = {"json": (json.loads, lambda value: std(value).encode())}
    if importlib.util.find_spec("orjson"):
        import orjson
        found["orjson"] = (orjson.loads, orjson.dumps)
    if importlib.util.find_spec("msgspec"):
        import msgspec
        found["msgspec"] = (msgspec.json.Decoder().decode, msgspec.json.Encoder().encode)
    return found


def median_us(fn: Callable[[], object], runs: int) -> float:
    fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def main() -> None:
    libraries = codecs()
    bodies = {"conversation": long_conversation(), "short turns": many_short_turns()}
    rows: list[tuple[str, list[float]]] = []
    for name, body in bodies.items():
        raw = json.dumps(body, ensure_ascii=False).encode()
        rows.append((f"decode {name} ({len(raw) // 1000} KB)", [median_us(lambda: lib[0](raw), 200) for lib in libraries.values()]))
        upstream = strip_cache_control(anthropic_to_unified(json.loads(raw)))
        rows.append(("encode its upstream body", [median_us(lambda: lib[1](upstream), 200) for lib in libraries.values()]))
    rows.append(("decode one SSE chunk", [median_us(lambda: lib[0](CHUNK), 20_000) for lib in libraries.values()]))
    rows.append(("encode one SSE event", [median_us(lambda: lib[1](EVENT), 20_000) for lib in libraries.values()]))
    print(f"{'median µs':34s}" + "".join(f"{name:>10s}" for name in libraries))
    for name, values in rows:
        print(f"{name:34s}" + "".join(f"{value:10.1f}" for value in values))


if __name__ == "__main__":
    main()
