"""The rule for keys in the management API: literal secrets leave masked, `$VAR` references as
written, and a masked value posted back means "keep the stored key".

`GET /api/config` answers `sk-…abcd` (first three and last four characters) for each literal
secret of the file (what `presets.sensitive` counts as one: API keys, key pools, secret
headers, key-shaped values); `GET /api/config?reveal=1` answers the file as stored. A
`POST /api/config` whose value is the mask of a stored key gets that key back: the key at the
same place, or of the provider with the same name (it moved in the list), else the one stored
key with that mask. A
masked value that matches no stored key is refused rather than saved as a key.
"""

from __future__ import annotations

from typing import Any

from .presets.fieldpath import Token, format_path
from .presets.sensitive import is_secret, map_strings, walk_strings

ELLIPSIS = "…"


class MaskedUnknown(ValueError):
    """A masked value was posted where no stored key has that mask."""


def mask_value(value: str) -> str:
    if len(value) >= 12:
        return f"{value[:3]}{ELLIPSIS}{value[-4:]}"
    return f"{ELLIPSIS}{value[-2:]}" if len(value) >= 8 else ELLIPSIS


def _anchor(tree: dict[str, Any], path: list[Token]) -> str:
    """A place that survives reordering: `Providers[2].api_key[0]` as `Providers{deepseek}.api_key[0]`."""
    if len(path) >= 2 and path[0] in ("Providers", "providers") and isinstance(path[1], int):
        entries = tree.get(str(path[0]))
        entry = entries[path[1]] if isinstance(entries, list) and path[1] < len(entries) else None
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            return f"{path[0]}{{{entry['name'].lower()}}}" + format_path(["", *path[2:]])
    return format_path(path)


def _secrets(raw: dict[str, Any]) -> dict[str, str]:
    """place → literal secret of the stored tree, by path and by anchor."""
    found: dict[str, str] = {}
    for path, key, value in walk_strings(raw):
        if is_secret(path, key, value):
            found[format_path(path)] = value
            found[_anchor(raw, path)] = value
    return found


def mask_config(raw: dict[str, Any]) -> dict[str, Any]:
    def hide(path: list[Token], key: str, value: str) -> str:
        return mask_value(value) if is_secret(path, key, value) else value

    masked: dict[str, Any] = map_strings(raw, hide)
    return masked


def unmask_config(posted: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """`posted` with each masked value replaced by the stored key it stands for."""
    secrets = _secrets(stored)
    by_mask: dict[str, set[str]] = {}
    for value in secrets.values():
        by_mask.setdefault(mask_value(value), set()).add(value)

    def restore(path: list[Token], key: str, value: str) -> str:
        if ELLIPSIS not in value:
            return value
        for place in (format_path(path), _anchor(posted, path)):
            here = secrets.get(place)
            if here is not None and mask_value(here) == value:
                return here
        candidates = by_mask.get(value, set())
        if len(candidates) == 1:
            return next(iter(candidates))
        if is_secret(path, key, value) or candidates:
            raise MaskedUnknown(f"{format_path(path)} holds a masked key ({value}) that matches no stored "
                                "key: enter the key itself")
        return value

    restored: dict[str, Any] = map_strings(posted, restore)
    return restored
