"""`since` / `until` / `before` as the API receives them: epoch seconds or ISO 8601.

A bare date means midnight; as an `until` it means the end of that day, so
`since=2025-05-01&until=2025-05-01` is that whole day. Dates and times without an offset are
in `utc_offset_minutes` (the reader's time zone; UTC by default).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

DAY_S = 86_400
_EPOCH = re.compile(r"^\s*\d+(\.\d+)?\s*$")


def parse_time(value: str | int | float | None, *, end_of_day: bool = False,
               utc_offset_minutes: int = 0) -> float | None:
    """Epoch seconds, or None for an absent value; ValueError for one that is neither."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if _EPOCH.match(text):
        return float(text)
    zone = timezone(timedelta(minutes=utc_offset_minutes))
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
        moment = None if day else datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO date, ISO time or epoch seconds: {text!r}") from None
    if day is not None:
        start = datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
        return start + DAY_S if end_of_day else start
    assert moment is not None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.timestamp()
