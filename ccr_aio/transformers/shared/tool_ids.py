"""Stable `call_<uuid>` ids for streamed tool calls whose upstream ids are missing or unusable."""

from __future__ import annotations

import re
from typing import Any

from ..base import Context

# JavaScript's parseInt accepts these: optional blanks and sign, then a digit ("0", "12abc").
_INT_PREFIX = re.compile(r"\s*[+-]?\d")


def is_numeric_id(value: Any) -> bool:
    return isinstance(value, str) and _INT_PREFIX.match(value) is not None


class ToolIds:
    """Per-stream id assignment. Ids are kept per tool-call index, so every delta of one call
    (if it repeats an id at all) carries the same new id."""

    def __init__(self, ctx: Context, replace_all: bool = False) -> None:
        self.ctx = ctx
        self.replace_all = replace_all  # groq: every id is replaced
        self.ids: dict[Any, str] = {}

    def new_id(self, key: Any) -> str:
        if key not in self.ids:
            self.ids[key] = f"call_{self.ctx.new_uuid()}"
        return self.ids[key]

    def fix(self, calls: list[Any]) -> list[Any] | None:
        """New tool_calls list, or None when nothing needs changing. An entry gets a new id when
        `replace_all`, when the first entry's id is numeric (some OpenRouter backends), or when
        it starts a call (has a name) without an id. Continuation deltas without an id keep
        none: consumers match them by index."""
        numeric = bool(calls) and isinstance(calls[0], dict) and is_numeric_id(calls[0].get("id"))
        out, changed = [], False
        for call in calls:
            if isinstance(call, dict):
                new_id = self._id_for(call, numeric)
                if new_id is not None:
                    call = {**call, "id": new_id}
                    changed = True
            out.append(call)
        return out if changed else None

    def _id_for(self, call: dict[str, Any], numeric: bool) -> str | None:
        has_id = bool(call.get("id"))
        if has_id and (self.replace_all or numeric):
            # Keyed by index, or by the old id when there is no index, so repeats stay stable.
            key = call["index"] if "index" in call else ("id", call["id"])
            return self.new_id(key)
        if not has_id and (call.get("function") or {}).get("name"):
            if "index" not in call:
                return f"call_{self.ctx.new_uuid()}"  # no index: every named entry is a new call
            if call["index"] not in self.ids:
                return self.new_id(call["index"])
        return None
