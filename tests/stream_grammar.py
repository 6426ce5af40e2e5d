"""The Anthropic Messages stream grammar as Claude Code relies on it, for any test to assert.

`check_stream` validates a list of event dicts; `parse_sse_bytes` turns `event:`/`data:` framed
bytes back into event dicts so HTTP-level tests can check what actually went over the wire.
"""

from __future__ import annotations

import json
from typing import Any

_DELTA_BLOCKS = {
    "text_delta": ("text",),
    "citations_delta": ("text",),
    "thinking_delta": ("thinking",),
    "signature_delta": ("thinking",),
    "input_json_delta": ("tool_use", "server_tool_use"),
}
_CONTENT_EVENTS = ("content_block_start", "content_block_delta", "content_block_stop")


def check_stream(events: list[dict], *, complete: bool = True) -> None:
    """Assert the event grammar. `complete=False` is for streams that end in an error: they
    must not claim completion with message_stop, and may leave blocks open."""
    assert events, "empty event stream"
    assert events[0].get("type") == "message_start", f"first event is {events[0].get('type')!r}"
    next_index = 0
    open_block: tuple[int, str] | None = None  # (index, type): Anthropic streams one at a time
    signatures = 0
    message_delta_at = None
    for pos, event in enumerate(events):
        kind = event.get("type")
        where = f"event #{pos} {kind}"
        if pos > 0:
            assert kind != "message_start", f"{where}: second message_start"
        assert kind != "message_stop" or complete, f"{where}: message_stop in an incomplete stream"
        if message_delta_at is not None:
            assert kind not in _CONTENT_EVENTS, f"{where}: content after message_delta"
        if kind == "error":
            assert not complete, f"{where}: error event in a stream checked as complete"
            assert pos == len(events) - 1, f"{where}: events follow the error event"
            assert isinstance(event.get("error"), dict), f"{where}: error without an `error` object"
            assert event["error"].get("type") and "message" in event["error"], f"{where}: {event}"
        elif kind == "content_block_start":
            assert open_block is None, f"{where}: block {open_block} is still open"
            assert event.get("index") == next_index, f"{where}: index {event.get('index')} != {next_index}"
            block_type = (event.get("content_block") or {}).get("type")
            assert block_type, f"{where}: content_block without a type"
            open_block, signatures = (next_index, block_type), 0
            next_index += 1
        elif kind == "content_block_delta":
            assert open_block is not None and event.get("index") == open_block[0], (
                f"{where}: delta for index {event.get('index')} but the open block is {open_block}"
            )
            delta_type = (event.get("delta") or {}).get("type")
            allowed = _DELTA_BLOCKS.get(delta_type)
            assert allowed, f"{where}: unknown delta type {delta_type!r}"
            assert open_block[1] in allowed, f"{where}: {delta_type} inside a {open_block[1]} block"
            if open_block[1] == "thinking":
                assert signatures == 0, f"{where}: thinking block continues after its signature_delta"
                signatures += delta_type == "signature_delta"
        elif kind == "content_block_stop":
            assert open_block is not None and event.get("index") == open_block[0], (
                f"{where}: stop for index {event.get('index')} but the open block is {open_block}"
            )
            if open_block[1] == "thinking":
                assert signatures == 1, f"{where}: thinking block {open_block[0]} stopped without a signature"
            open_block = None
        elif kind == "message_delta":
            assert message_delta_at is None, f"{where}: second message_delta"
            assert "stop_reason" in (event.get("delta") or {}), f"{where}: no stop_reason"
            assert "output_tokens" in (event.get("usage") or {}), f"{where}: no usage.output_tokens"
            message_delta_at = pos
        else:
            assert kind in ("message_start", "message_stop", "ping"), f"{where}: unknown event type"
    if complete:
        assert open_block is None, f"block {open_block} never stopped"
        assert len(events) >= 2 and events[-2].get("type") == "message_delta", "message_delta not second to last"
        assert events[-1].get("type") == "message_stop", "message_stop is not last"


def parse_sse_bytes(data: bytes) -> list[dict]:
    """Parse SSE frames into their JSON payloads, checking each `event:` name equals `type`."""
    events: list[dict[str, Any]] = []
    text = data.decode("utf-8").replace("\r\n", "\n")
    for frame in text.split("\n\n"):
        name = None
        data_lines = []
        for line in frame.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data_lines.append(line[5:].lstrip(" "))
        if not data_lines:
            continue  # comments and blank keep-alives carry no event
        payload = json.loads("\n".join(data_lines))
        assert name is not None, f"data without an event name: {payload}"
        assert name == payload.get("type"), f"event name {name!r} != data type {payload.get('type')!r}"
        events.append(payload)
    return events
