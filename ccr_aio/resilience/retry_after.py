"""How long a provider asked us to wait, from its response headers, in seconds.

Providers say it several ways: `retry-after` (seconds or an HTTP date, RFC 9110),
`retry-after-ms` (OpenAI's and Anthropic's SDKs read it), and `x-ratelimit-reset-*`
(OpenAI-style durations like `6m0s`, `1s`, `20ms`; plain seconds; OpenRouter and others send
an epoch timestamp in seconds or milliseconds). Anything unreadable counts as not sent: the
cooldown then uses its own backoff instead of trusting garbage.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timezone
from email.utils import parsedate_to_datetime

RESET_PREFIX = "x-ratelimit-reset"
REMAINING_PREFIX = "x-ratelimit-remaining"
# A bare number this large cannot be a delay in seconds (that would be 30+ years): it is an
# epoch timestamp, in seconds below EPOCH_MS_FLOOR and in milliseconds above it.
EPOCH_S_FLOOR = 1e9
EPOCH_MS_FLOOR = 1e11
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_DURATION = re.compile(r"(?:\d+(?:\.\d*)?(?:ms|us|µs|ns|h|m|s))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?)(ms|us|µs|ns|h|m|s)")


def retry_delay(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait from `now` (epoch), or None when no usable header was sent.
    `retry-after-ms` wins (most precise), then `retry-after`, then the rate-limit resets."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if "retry-after-ms" in lowered:
        millis = _number(lowered["retry-after-ms"])
        if millis is not None:
            return millis / 1000
    if "retry-after" in lowered:
        delay = parse_retry_after(lowered["retry-after"], now)
        if delay is not None:
            return delay
    return _ratelimit_reset(lowered, now)


def parse_retry_after(value: str, now: float) -> float | None:
    """`retry-after`: delay-seconds or an HTTP date (a date already past means "now")."""
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are always GMT
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


def parse_reset(value: str, now: float) -> float | None:
    """One `x-ratelimit-reset-*` value: a Go-style duration, seconds, or an epoch timestamp."""
    text = value.strip()
    if _DURATION.fullmatch(text):
        return sum(float(amount) * _UNIT_S[unit] for amount, unit in _DURATION_PART.findall(text))
    number = _number(text)
    if number is None:
        return None
    if number >= EPOCH_MS_FLOOR:
        return max(0.0, number / 1000 - now)
    if number >= EPOCH_S_FLOOR:
        return max(0.0, number - now)
    return number


def _ratelimit_reset(lowered: Mapping[str, str], now: float) -> float | None:
    """The reset of the limit that ran out (its `x-ratelimit-remaining-*` is 0) — a request
    limit resetting in 1 s must not be read as the token limit's 6 minutes; when none says
    which, the longest, since a 429 means at least one of them is exhausted."""
    resets: dict[str, float] = {}
    for name, value in lowered.items():
        if name.startswith(RESET_PREFIX):
            delay = parse_reset(value, now)
            if delay is not None:
                resets[name[len(RESET_PREFIX):]] = delay  # "-requests", "-tokens" or ""
    if not resets:
        return None
    exhausted = [delay for suffix, delay in resets.items()
                 if _number(lowered.get(REMAINING_PREFIX + suffix, "")) == 0]
    return max(exhausted or resets.values())


def _number(value: str) -> float | None:
    """A finite, non-negative number, or None."""
    try:
        number = float(value.strip())
    except (ValueError, AttributeError):
        return None
    return number if math.isfinite(number) and number >= 0 else None
