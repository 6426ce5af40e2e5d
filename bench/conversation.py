"""A Claude-Code-like long conversation: the real first-turn body plus N tool turns."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "claude-code-2.1.328-first-turn.json"


def _file_text(turn: int, size: int, salt: str) -> str:
    line = f"    {turn:04d}  def handler_{turn}{salt}(request):  return render(request, 'page.html', ctx)  # noqa\n"
    return (line * (size // len(line) + 1))[:size]


def long_conversation(turns: int = 120, result_bytes: int = 2600, salt: str = "") -> dict[str, Any]:
    """~380 KB with the defaults: system prompt, ~12 tools, `turns` tool_use/tool_result pairs.
    A different `salt` gives a conversation no cache has seen."""
    body = json.loads(FIXTURE.read_text())
    messages = [body["messages"][0]]
    for turn in range(turns):
        tool_id = f"toolu_{turn:06d}"
        messages.append({"role": "assistant", "content": [
            {"type": "text", "text": f"Let me read file number {turn}."},
            {"type": "tool_use", "id": tool_id, "name": "Read", "input": {"file_path": f"/src/app/module_{turn}.py"}},
        ]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool_id, "content": _file_text(turn, result_bytes, salt)},
        ]})
    messages.append({"role": "user", "content": [{"type": "text", "text": "Now summarise what you found."}]})
    body["messages"] = messages
    return body


def plus_one_turn(body: dict[str, Any], n: int) -> dict[str, Any]:
    """The same conversation one exchange later (what Claude Code sends on the next turn)."""
    grown = copy.copy(body)
    grown["messages"] = body["messages"] + [
        {"role": "assistant", "content": [{"type": "text", "text": f"Summary {n}."}]},
        {"role": "user", "content": [{"type": "text", "text": f"Follow-up question {n}?"}]},
    ]
    return grown


if __name__ == "__main__":
    print(len(json.dumps(long_conversation())))
