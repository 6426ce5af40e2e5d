"""The one JSON module: wire form, and what the fast library cannot write going to the standard one."""

from __future__ import annotations

import json

import pytest

from ccr_aio.jsonutil import dumps, dumps_bytes, loads


def test_wire_form_is_compact_utf8_like_json_stringify():
    value = {"text": "é 😀 \u2028 <&>", "list": [1, 2.5, True, None], "nested": {"k": "v"}}
    assert dumps_bytes(value) == '{"text":"é 😀 \u2028 <&>","list":[1,2.5,true,null],"nested":{"k":"v"}}'.encode()
    assert dumps(value) == dumps_bytes(value).decode()


def test_nan_and_infinity_are_never_written():
    assert dumps({"a": float("nan"), "b": float("inf")}) == '{"a":null,"b":null}'


@pytest.mark.parametrize("value, expected", [
    ({"big": 10**30}, '{"big":1000000000000000000000000000000}'),  # beyond 64 bits
    ({1: "a"}, '{"1":"a"}'),  # a key that is not a string
])
def test_what_the_fast_library_refuses_is_written_by_the_standard_one(value, expected):
    assert dumps(value) == expected
    assert dumps_bytes(value) == expected.encode()


def test_deep_values_are_written():
    deep: list = []
    for _ in range(300):  # deeper than the fast library writes
        deep = [deep]
    assert loads(dumps(deep)) == deep


def test_what_cannot_be_json_is_still_a_type_error():
    with pytest.raises(TypeError):
        dumps({"a": object()})


@pytest.mark.parametrize("text", [b"NaN", b"[Infinity]", b'"\\ud800"', b"{"])
def test_loads_takes_standard_json_only(text):
    with pytest.raises(ValueError):
        loads(text)


def test_loads_reads_bytes_and_str_alike():
    raw = json.dumps({"a": ["é", 1.5]}, ensure_ascii=False)
    assert loads(raw) == loads(raw.encode()) == {"a": ["é", 1.5]}
