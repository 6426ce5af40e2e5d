"""The two reads behind the API: a page of records, and usage summed by a key.

Cost sums follow SQL's SUM: the sum of the costs that are known, None when none is. A group
with some unpriced requests therefore sums only its priced ones, and says how many were not
(`unpriced_requests`), so a reader can tell "cost $0.12" from "cost $0.12 plus unknown".
"""

from __future__ import annotations

import sqlite3
from typing import Any

from .record import CLIENT_CLOSED
from .rows import COLUMNS, record_dict
from .timeparse import parse_time

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
ERROR_SQL = f"(status >= 400 AND status <> {CLIENT_CLOSED})"
# group_by -> the key's SQL. A model is named as the Router names it, "provider,model": the
# same model name at two providers is two prices.
GROUP_KEYS = {
    "day": "date(time + :offset_s, 'unixepoch')",
    "model": "CASE WHEN provider IS NULL THEN NULL ELSE provider || ',' || coalesce(model, '') END",
    "provider": "provider",
    "project": "project",
    "session": "session",
    "client_key": "client_key",
}
SUMS = f"""count(*) AS requests,
    coalesce(sum({ERROR_SQL}), 0) AS errors,
    coalesce(sum(input_tokens), 0) AS input_tokens,
    coalesce(sum(output_tokens), 0) AS output_tokens,
    coalesce(sum(cache_read_tokens), 0) AS cache_read_tokens,
    coalesce(sum(cache_creation_tokens), 0) AS cache_creation_tokens,
    sum(cost_usd) AS cost_usd,
    coalesce(sum(cost_usd IS NULL), 0) AS unpriced_requests"""
_STATUS_CLASSES = {"1xx": 100, "2xx": 200, "3xx": 300, "4xx": 400, "5xx": 500}
FILTERS = ("session", "project", "provider", "model", "client_key")
MAX_GROUP_KEYS = 2  # day and model: the stacked bars
# Latency of the answered requests (errors end early and would pull it down), nearest rank.
LATENCY = {"duration_p50_ms": ("duration_ms", 0.5), "duration_p95_ms": ("duration_ms", 0.95),
           "ttfb_p50_ms": ("ttfb_ms", 0.5), "ttfb_p95_ms": ("ttfb_ms", 0.95)}


def requests_page(
    conn: sqlite3.Connection,
    *,
    limit: int = DEFAULT_LIMIT,
    before: str | float | None = None,
    status: str | int | None = None,
    **filters: str | None,
) -> dict[str, Any]:
    """Newest first. `next_before` continues the list where this page ended (None at the
    end); `before` is such a cursor, or a time (epoch seconds or ISO) to start before.
    `filters` are equalities on the FILTERS columns."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    params: dict[str, Any] = {"limit": limit + 1}
    where = filter_clauses(filters, params)
    if status is not None and status != "":
        where.append(status_clause(status))
        params["status"] = _status_value(status)
    cursor = parse_cursor(before)
    if cursor is not None:
        params["before_time"], params["before_seq"] = cursor
        where.append("(time < :before_time OR (time = :before_time AND seq < :before_seq))"
                     if cursor[1] is not None else "time < :before_time")
    sql = (f"SELECT seq, {COLUMNS} FROM requests"
           f"{' WHERE ' + ' AND '.join(where) if where else ''}"
           " ORDER BY time DESC, seq DESC LIMIT :limit")
    rows = conn.execute(sql, params).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_before = f"{rows[-1]['time']!r}_{rows[-1]['seq']}" if more else None
    return {"requests": [record_dict(row) for row in rows], "next_before": next_before}


def usage_summary(
    conn: sqlite3.Connection,
    group_by: str,
    *,
    since: float | None = None,
    until: float | None = None,
    utc_offset_minutes: int = 0,
    latency: bool = False,
    **filters: str | None,
) -> dict[str, Any]:
    """Requests in [since, until) summed per key, and over all. Days are calendar days at
    `utc_offset_minutes` (UTC by default); rows come by day, else by most requests.

    `group_by` may name two keys ("day,model"): each row's `key` is then the pair. `latency`
    adds the duration and time-to-first-byte percentiles of the answered (< 400) requests."""
    keys = group_keys(group_by)
    params: dict[str, Any] = {"offset_s": int(utc_offset_minutes) * 60}
    where = filter_clauses(filters, params)
    if since is not None:
        where.append("time >= :since")
        params["since"] = since
    if until is not None:
        where.append("time < :until")
        params["until"] = until
    where_sql = f" WHERE {' AND '.join(where)}" if where else ""
    names = [f"key{i}" for i in range(len(keys))]
    columns = ", ".join(f"{GROUP_KEYS[key]} AS {name}" for key, name in zip(keys, names))
    order = ", ".join(names) if keys[0] == "day" else f"requests DESC, {', '.join(names)}"
    rows = [dict(row) for row in conn.execute(
        f"SELECT {columns}, {SUMS} FROM requests{where_sql}"
        f" GROUP BY {', '.join(names)} ORDER BY {order}", params).fetchall()]
    total = dict(conn.execute(f"SELECT {SUMS} FROM requests{where_sql}", params).fetchone())
    if latency:
        by_key = latency_percentiles(conn, keys, where, params)
        for row in rows:
            row.update(by_key.get(tuple(row[name] for name in names), {}))
        total.update(latency_percentiles(conn, [], where, params).get((), {}))
    for row in rows:
        values = [row.pop(name) for name in names]
        row["key"] = values[0] if len(values) == 1 else values
    return {"rows": rows, "total": total}


def group_keys(group_by: str) -> list[str]:
    keys = [key.strip() for key in str(group_by).split(",")]
    if not 1 <= len(keys) <= MAX_GROUP_KEYS or any(key not in GROUP_KEYS for key in keys) \
            or len(set(keys)) != len(keys):
        raise ValueError(f"group_by must be one of {', '.join(GROUP_KEYS)} (or two of them, "
                         f"comma-separated), got {group_by!r}")
    return keys


def filter_clauses(filters: dict[str, str | None], params: dict[str, Any]) -> list[str]:
    """`column = :column` for each filter given; its value goes into `params`."""
    where = []
    for name, value in filters.items():
        if name not in FILTERS:
            raise ValueError(f"no filter {name!r}; filters are {', '.join(FILTERS)}")
        if value is not None:
            where.append(f"{name} = :{name}")
            params[name] = value
    return where


def latency_percentiles(conn: sqlite3.Connection, keys: list[str], where: list[str],
                        params: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Group key tuple -> LATENCY fields, from SQLite's percent_rank within each group."""
    expressions = [GROUP_KEYS[key] for key in keys]
    names = [f"key{i}" for i in range(len(keys))]
    partition = f"PARTITION BY {', '.join(expressions)} " if keys else ""
    ranks = ", ".join(f"percent_rank() OVER ({partition}ORDER BY {column}) AS rank_{column}"
                      for column in ("duration_ms", "ttfb_ms"))
    selected = "".join(f"{expression} AS {name}, " for expression, name in zip(expressions, names))
    picks = ", ".join(f"max(CASE WHEN rank_{column} <= {share} THEN {column} END) AS {field}"
                      for field, (column, share) in LATENCY.items())
    answered = " AND ".join([*where, "status < 400"])
    group = f" GROUP BY {', '.join(names)}" if keys else ""
    sql = (f"SELECT {''.join(name + ', ' for name in names)}{picks} FROM (SELECT {selected}"
           f"duration_ms, ttfb_ms, {ranks} FROM requests WHERE {answered}){group}")
    found = {}
    for row in conn.execute(sql, params).fetchall():
        data = dict(row)
        found[tuple(data.pop(name) for name in names)] = data
    return found


def parse_cursor(before: str | float | None) -> tuple[float, int | None] | None:
    if before is None or before == "":
        return None
    if isinstance(before, str) and "_" in before:
        time_text, _, seq_text = before.rpartition("_")
        try:
            return float(time_text), int(seq_text)
        except ValueError:
            raise ValueError(f"not a cursor: {before!r}") from None
    moment = parse_time(before)
    assert moment is not None
    return moment, None


def status_clause(status: str | int) -> str:
    """`status` is a code (429), a class (4xx) or `error` (what `errors` counts) / `ok`."""
    text = str(status).strip().lower()
    if text == "error":
        return ERROR_SQL
    if text == "ok":
        return "status < 400"
    if text in _STATUS_CLASSES:
        return "status >= :status AND status < :status + 100"
    if text.isdigit():
        return "status = :status"
    raise ValueError(f"status must be a code, 2xx..5xx, error or ok; got {status!r}")


def _status_value(status: str | int) -> int:
    text = str(status).strip().lower()
    return _STATUS_CLASSES.get(text) or (int(text) if text.isdigit() else 0)
