"""`APIKEY`: one key as a string, or named keys, so usage can be told apart per person:

    "APIKEY": [{"name": "alice", "key": "$ALICE_KEY"}, {"name": "bob", "key": "$BOB_KEY"}]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import ClientKey
from .problems import At, Findings, kind

HINT = 'APIKEY is a string, or a list like [{"name": "alice", "key": "$ALICE_KEY"}]'


def parse_apikey(value: Any, found: Findings) -> tuple[ClientKey, ...]:
    """The client keys; none when APIKEY is not set (or empty)."""
    at = At.key("APIKEY")
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (ClientKey(value),)
    if not isinstance(value, list):
        found.add(at, f"must be a string or a list of {{\"name\", \"key\"}} objects, got {kind(value)}",
                  hint=HINT)
        return ()
    keys: list[ClientKey] = []
    names: dict[str, int] = {}
    values: dict[str, int] = {}
    for i, entry in enumerate(value):
        where = at.item(i)
        if not isinstance(entry, Mapping):
            found.add(where, f'must be an object like {{"name": "alice", "key": "..."}}, got {kind(entry)}')
            continue
        name, key = entry.get("name"), entry.get("key")
        unknown = sorted(set(entry) - {"name", "key"})
        if unknown:
            found.add(where, f"has unknown field(s): {', '.join(map(str, unknown))}")
        if not isinstance(name, str) or not name.strip():
            found.add(where.field("name"), "is required (a non-empty string)")
            name = None
        elif name in names:
            found.add(where.field("name"), f"repeats APIKEY[{names[name]}].name {name!r}")
        else:
            names[name] = i
        if not isinstance(key, str) or not key:
            found.add(where.field("key"), "is required (a non-empty string, or $VAR)")
            key = None
        elif key in values:  # never echo a key: say which entry it repeats
            found.add(where.field("key"), f"is the same key as APIKEY[{values[key]}]")
        else:
            values[key] = i
        if name and key:
            keys.append(ClientKey(key=key, name=name))
    if not value:
        found.add(at, "is an empty list: give at least one key, or remove APIKEY", hint=HINT)
    return tuple(keys)
