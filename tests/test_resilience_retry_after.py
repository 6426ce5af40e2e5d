"""How long a provider asked us to wait, from each header form it may use."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from ccr_aio.resilience.retry_after import parse_reset, parse_retry_after, retry_delay
from tests.resilience_helpers import T0


def http_date(epoch: float) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, tz=timezone.utc), usegmt=True)


@pytest.mark.parametrize("value, expected", [("2", 2.0), (" 30 ", 30.0), ("1.5", 1.5), ("0", 0.0)])
def test_retry_after_seconds(value, expected):
    assert parse_retry_after(value, T0) == expected


def test_retry_after_http_date():
    assert parse_retry_after(http_date(T0 + 120), T0) == pytest.approx(120.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", T0) == 0.0  # long past: now


@pytest.mark.parametrize("value", ["", "soon", "-5", "nan", "inf", "Wed, 99 Foo 2015", "1e400"])
def test_retry_after_garbage_is_absent(value):
    assert parse_retry_after(value, T0) is None


@pytest.mark.parametrize("value, expected", [
    ("6m0s", 360.0), ("1s", 1.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("2.5s", 2.5),
    ("7", 7.0), ("0.25", 0.25),
])
def test_ratelimit_reset_durations_and_seconds(value, expected):
    assert parse_reset(value, T0) == pytest.approx(expected)


def test_ratelimit_reset_epoch_timestamps():
    assert parse_reset(str(int(T0 + 42)), T0) == pytest.approx(42.0)          # epoch seconds
    assert parse_reset(str(int((T0 + 42) * 1000)), T0) == pytest.approx(42.0)  # epoch ms (OpenRouter)
    assert parse_reset(str(int(T0 - 100)), T0) == 0.0                          # already reset


@pytest.mark.parametrize("value", ["6x", "m1s", "", "1s2", "-3", "abc"])
def test_ratelimit_reset_garbage(value):
    assert parse_reset(value, T0) is None


def test_precedence_ms_then_retry_after_then_resets():
    headers = {"Retry-After-Ms": "1500", "Retry-After": "9", "x-ratelimit-reset-requests": "20s"}
    assert retry_delay(headers, T0) == 1.5
    assert retry_delay({"RETRY-AFTER": "9", "x-ratelimit-reset-requests": "20s"}, T0) == 9.0
    assert retry_delay({"x-ratelimit-reset-requests": "20s"}, T0) == 20.0


def test_garbage_in_a_stronger_header_falls_back_to_the_next():
    assert retry_delay({"retry-after-ms": "soon", "retry-after": "3"}, T0) == 3.0
    assert retry_delay({"retry-after": "later", "x-ratelimit-reset": "4"}, T0) == 4.0


def test_the_exhausted_limit_decides():
    headers = {
        "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-remaining-tokens": "5000", "x-ratelimit-reset-tokens": "6m0s",
    }
    assert retry_delay(headers, T0) == 1.0
    headers["x-ratelimit-remaining-requests"] = "12"
    headers["x-ratelimit-remaining-tokens"] = "0"
    assert retry_delay(headers, T0) == 360.0


def test_without_remaining_counts_the_longest_reset_is_taken():
    assert retry_delay({"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "20ms"}, T0) == 1.0


def test_absent_or_all_garbage_is_none():
    assert retry_delay({}, T0) is None
    assert retry_delay({"content-type": "application/json"}, T0) is None
    assert retry_delay({"retry-after": "x", "retry-after-ms": "y", "x-ratelimit-reset-tokens": "z"}, T0) is None
