"""The reads behind /api/requests and /api/usage, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccr_aio.records import CLIENT_CLOSED, GROUP_KEYS, UsageDatabase, parse_time
from tests.records_helpers import T0, make_record

DAY = 86_400.0


@pytest.fixture
def db(tmp_path: Path):
    database = UsageDatabase(tmp_path / "usage.db", retention_days=None)
    yield database
    database.close()


def test_a_record_comes_back_as_it_went_in(db: UsageDatabase):
    record = make_record(providers_tried=(
        {"provider": "a", "model": "m1", "status": 503},
        {"provider": "deepseek", "model": "deepseek-chat", "status": None}), attempts=2,
        error="api_error: x", ttfb_ms=None, cost_usd=None, stream=False)
    db.insert([record])
    assert db.requests()["requests"] == [record.to_dict()]


def test_pages_newest_first_with_a_cursor_through_equal_times(db: UsageDatabase):
    # Equal times happen (two workers, one clock tick): the cursor must not skip or repeat.
    times = [T0, T0 + 1, T0 + 1, T0 + 1, T0 + 2, T0 + 3, T0 + 3]
    db.insert([make_record(id=f"r{i}", time=t) for i, t in enumerate(times)])
    seen, before = [], None
    for _ in range(10):
        page = db.requests(limit=3, before=before)
        seen += [r["id"] for r in page["requests"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == ["r6", "r5", "r4", "r3", "r2", "r1", "r0"]
    assert db.requests(limit=7)["next_before"] is None  # exactly one page: no empty next page


def test_before_may_be_a_time(db: UsageDatabase):
    db.insert([make_record(id=f"r{i}", time=T0 + i * 60) for i in range(5)])
    assert [r["id"] for r in db.requests(before=T0 + 120)["requests"]] == ["r1", "r0"]
    iso = "2023-11-14T22:15:20+00:00"  # T0 + 120
    assert [r["id"] for r in db.requests(before=iso)["requests"]] == ["r1", "r0"]
    with pytest.raises(ValueError):
        db.requests(before="yesterday_x")


def test_filters(db: UsageDatabase):
    db.insert([
        make_record(id="ok", status=200),
        make_record(id="limited", status=429, session="s2", provider="openrouter"),
        make_record(id="gone", status=CLIENT_CLOSED, project="p2"),
        make_record(id="broken", status=502, model="deepseek-reasoner"),
    ])

    def ids(**filters: object) -> set[str]:
        return {r["id"] for r in db.requests(**filters)["requests"]}

    assert ids(session="s2") == {"limited"}
    assert ids(project="p2") == {"gone"}
    assert ids(provider="openrouter") == {"limited"}
    assert ids(model="deepseek-reasoner") == {"broken"}
    assert ids(status=429) == ids(status="429") == {"limited"}
    assert ids(status="4xx") == {"limited", "gone"}
    assert ids(status="error") == {"limited", "broken"}  # a client that left is no error
    assert ids(status="ok") == {"ok"}
    assert ids(status="5xx", session="s1") == {"broken"}
    with pytest.raises(ValueError, match="status"):
        db.requests(status="bad")


def seed_usage(db: UsageDatabase) -> None:
    db.insert([
        make_record(id="a", time=T0, provider="deepseek", model="deepseek-chat", session="s1",
                    project="p1", client_key="alice", input_tokens=100, output_tokens=10,
                    cache_read_tokens=5, cache_creation_tokens=1, cost_usd=0.5),
        make_record(id="b", time=T0 + 60, provider="deepseek", model="deepseek-chat",
                    session="s2", project="p1", client_key="bob", input_tokens=200,
                    output_tokens=20, cache_read_tokens=0, cache_creation_tokens=0,
                    cost_usd=0.25, status=429),
        make_record(id="c", time=T0 + DAY, provider="ollama", model="qwen", session="s1",
                    project="p2", client_key="alice", input_tokens=1000, output_tokens=100,
                    cache_read_tokens=0, cache_creation_tokens=0, cost_usd=None),
        make_record(id="d", time=T0 + DAY + 5, provider=None, model=None, session=None,
                    project=None, client_key=None, input_tokens=0, output_tokens=0,
                    cache_read_tokens=0, cache_creation_tokens=0, cost_usd=None, status=400,
                    attempts=0, providers_tried=()),
    ])


EXPECTED_KEYS = {
    "day": {"2023-11-14": ["a", "b"], "2023-11-15": ["c", "d"]},
    "model": {"deepseek,deepseek-chat": ["a", "b"], "ollama,qwen": ["c"], None: ["d"]},
    "provider": {"deepseek": ["a", "b"], "ollama": ["c"], None: ["d"]},
    "project": {"p1": ["a", "b"], "p2": ["c"], None: ["d"]},
    "session": {"s1": ["a", "c"], "s2": ["b"], None: ["d"]},
    "client_key": {"alice": ["a", "c"], "bob": ["b"], None: ["d"]},
}


@pytest.mark.parametrize("group_by", list(GROUP_KEYS))
def test_every_group_by_sums_its_records(db: UsageDatabase, group_by: str):
    seed_usage(db)
    records = {r["id"]: r for r in db.requests()["requests"]}
    result = db.usage(group_by)
    assert {row["key"] for row in result["rows"]} == set(EXPECTED_KEYS[group_by])
    for row in result["rows"]:
        members = [records[i] for i in EXPECTED_KEYS[group_by][row["key"]]]
        assert row["requests"] == len(members)
        assert row["errors"] == sum(m["status"] >= 400 for m in members)
        for field in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens"):
            assert row[field] == sum(m[field] for m in members), field
        costs = [m["cost_usd"] for m in members if m["cost_usd"] is not None]
        assert row["cost_usd"] == (pytest.approx(sum(costs)) if costs else None)
        assert row["unpriced_requests"] == sum(m["cost_usd"] is None for m in members)
    assert result["total"] == {
        "requests": 4, "errors": 2, "input_tokens": 1300, "output_tokens": 130,
        "cache_read_tokens": 5, "cache_creation_tokens": 1, "cost_usd": pytest.approx(0.75),
        "unpriced_requests": 2,
    }


def test_rows_come_by_day_or_by_most_requests(db: UsageDatabase):
    seed_usage(db)
    assert [r["key"] for r in db.usage("day")["rows"]] == ["2023-11-14", "2023-11-15"]
    assert db.usage("provider")["rows"][0]["key"] == "deepseek"


def test_days_in_the_readers_time_zone(db: UsageDatabase):
    seed_usage(db)  # T0 is 22:13 UTC: the next day already at UTC+2
    rows = db.usage("day", utc_offset_minutes=120)["rows"]
    assert [(r["key"], r["requests"]) for r in rows] == [("2023-11-15", 2), ("2023-11-16", 2)]


def test_since_and_until_window(db: UsageDatabase):
    seed_usage(db)
    first_day = db.usage("day", since=parse_time("2023-11-14"),
                         until=parse_time("2023-11-14", end_of_day=True))
    assert [r["key"] for r in first_day["rows"]] == ["2023-11-14"]
    assert first_day["total"]["requests"] == 2
    assert db.usage("model", since=T0 + 60, until=T0 + DAY)["total"]["requests"] == 1  # [since, until)


def test_cost_stays_none_when_nothing_in_the_window_is_priced(db: UsageDatabase):
    seed_usage(db)
    empty = db.usage("model", since=T0 + 10 * DAY)
    assert empty["rows"] == [] and empty["total"]["cost_usd"] is None
    assert empty["total"]["requests"] == 0 and empty["total"]["input_tokens"] == 0
    unpriced = db.usage("provider", since=T0 + DAY)
    assert unpriced["total"]["cost_usd"] is None and unpriced["total"]["unpriced_requests"] == 2


def test_an_unknown_group_by_is_refused(db: UsageDatabase):
    with pytest.raises(ValueError, match="group_by must be one of day, model"):
        db.usage("week")


@pytest.mark.parametrize("value, kwargs, expected", [
    (None, {}, None),
    ("", {}, None),
    (1_700_000_000, {}, 1_700_000_000.0),
    (1.5, {}, 1.5),
    ("1700000000", {}, 1_700_000_000.0),
    (" 1700000000.25 ", {}, 1_700_000_000.25),
    ("2023-11-14", {}, 1_699_920_000.0),
    ("2023-11-14", {"end_of_day": True}, 1_699_920_000.0 + DAY),
    ("2023-11-14", {"utc_offset_minutes": 60}, 1_699_920_000.0 - 3600),
    ("2023-11-14T22:13:20Z", {}, T0),
    ("2023-11-14T22:13:20", {}, T0),
    ("2023-11-15T00:13:20+02:00", {}, T0),
    ("2023-11-14T23:13:20", {"utc_offset_minutes": 60}, T0),
])
def test_parse_time(value: object, kwargs: dict, expected: float | None):
    assert parse_time(value, **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["yesterday", "2023-13-01", "14/11/2023", True])
def test_parse_time_refuses_what_is_not_a_time(value: object):
    with pytest.raises(ValueError):
        parse_time(value)  # type: ignore[arg-type]
