"""What the edge checks cost on large bodies, against a plain json.loads of the same bytes.

Run: .venv/bin/python bench/inputs_bench.py
Bodies: the ~380 KB Claude-Code-like conversation of bench.py (long tool results, as Claude Code
serialises it: non-ASCII unescaped), and a ~400 KB session of many short turns built from a
captured Claude Code 2.1.332 turn (many small strings and blocks: json.loads's slow case).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.conversation import long_conversation  # noqa: E402
from ccr_aio.inputs.json_body import nesting_exceeds, parse_json_body  # noqa: E402
from ccr_aio.inputs.messages_request import validate_messages_request  # noqa: E402

CAPTURE = ROOT / "tests" / "data" / "claude-code-2.1.332" / "parallel-tool-results-turn.json"
RUNS = 200


def many_short_turns(size: int = 400_000) -> dict:
    body = json.loads(CAPTURE.read_text())["body"]
    turns = body["messages"][2:]
    while len(json.dumps(body)) < size:
        body["messages"] = body["messages"] + turns
    return body


def median_ms(fn: Callable[[], object]) -> float:
    fn()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    for name, body in (("conversation (bench.py)", long_conversation()), ("many short turns", many_short_turns())):
        raw = json.dumps(body, ensure_ascii=False).encode()
        parsed = json.loads(raw)
        base = median_ms(lambda: json.loads(raw))
        print(f"{name}: {len(raw) / 1000:.0f} KB, {len(body['messages'])} messages")
        parse = median_ms(lambda: parse_json_body(raw))
        nesting = median_ms(lambda: nesting_exceeds(raw, 64))
        validate = median_ms(lambda: validate_messages_request(parsed))
        print(f"  json.loads                 {base:6.3f} ms")
        print(f"  parse_json_body            {parse:6.3f} ms  (json.loads {(parse - base) / base * 100:+.0f}%)")
        print(f"    of which nesting check   {nesting:6.3f} ms")
        print(f"  validate_messages_request  {validate:6.3f} ms  ({validate / base * 100:.0f}% of a json.loads)")


if __name__ == "__main__":
    main()
