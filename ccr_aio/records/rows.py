"""Records to table rows and back: the one place that knows the column layout."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .record import FIELDS, RequestRecord

COLUMNS = ", ".join(FIELDS)
INSERT_SQL = f"INSERT INTO requests ({COLUMNS}) VALUES ({', '.join('?' * len(FIELDS))})"


def to_row(record: RequestRecord) -> tuple[Any, ...]:
    values = [getattr(record, name) for name in FIELDS]
    values[FIELDS.index("providers_tried")] = json.dumps(list(record.providers_tried),
                                                         separators=(",", ":"))
    values[FIELDS.index("stream")] = int(record.stream)
    return tuple(values)


def record_dict(row: sqlite3.Row) -> dict[str, Any]:
    """A stored row as the API shows a record (the same shape as `RequestRecord.to_dict`)."""
    data = {name: row[name] for name in FIELDS}
    data["providers_tried"] = json.loads(data["providers_tried"])
    data["stream"] = bool(data["stream"])
    return data
