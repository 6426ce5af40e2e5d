"""Type checks for parsed JSON values, and problems as (path, what is wrong) pairs.

Predicates test exact types: JSON parsing only makes dict/list/str/int/float/bool/None, and the
exact test keeps `true` from passing as an integer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .json_body import json_kind

MISSING: Any = object()  # a key that is not there, told apart from an explicit null

Found = list[tuple[str, str]]  # (path below the checked value, what is wrong)
Fields = tuple[tuple[str, Callable[[Any], bool], str], ...]  # (key, check, what it must be)


def must_be(value: Any, expected: str) -> str:
    if value is MISSING:
        return "is required"
    return f"must be {expected}, got {json_kind(value)}"


def is_str(value: Any) -> bool:
    return type(value) is str


def is_object(value: Any) -> bool:
    return type(value) is dict


def is_array(value: Any) -> bool:
    return type(value) is list


def is_int(value: Any) -> bool:
    return type(value) is int


def is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


def is_bool(value: Any) -> bool:
    return type(value) is bool


def is_string_array(value: Any) -> bool:
    return type(value) is list and all(type(item) is str for item in value)


STRING = (is_str, "a string")
OBJECT = (is_object, "an object")


def required(container: dict[str, Any], fields: Fields) -> Found:
    """Problems of fields that must be there and be of their type."""
    found = []
    for key, check, expected in fields:
        value = container.get(key, MISSING)
        if not check(value):
            found.append((f".{key}", must_be(value, expected)))
    return found


def optional(container: dict[str, Any], fields: Fields) -> Found:
    """Problems of fields that may be absent or null, and otherwise must be of their type."""
    found = []
    for key, check, expected in fields:
        value = container.get(key)
        if value is not None and not check(value):
            found.append((f".{key}", must_be(value, expected)))
    return found
