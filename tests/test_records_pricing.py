"""Cost from `Providers[i].pricing` (USD per million tokens); no price is None, never 0."""

from __future__ import annotations

from typing import Any

import pytest

from ccr_aio.records import Price, cost_usd, parse_price, parse_pricing, price_for

TABLE = {"deepseek-chat": {"input": 0.27, "output": 1.10, "cache_read": 0.07, "cache_write": 0.27}}


def tokens(**counts: int) -> dict[str, int]:
    return {"input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0,
            "cache_creation_tokens": 0, **counts}


def test_a_priced_model_costs_each_kind_at_its_price():
    price = price_for(TABLE, "deepseek-chat")
    assert price == Price(input=0.27, output=1.10, cache_read=0.07, cache_write=0.27)
    cost = cost_usd(price, **tokens(input_tokens=1_000_000, output_tokens=2_000_000,
                                    cache_read_tokens=3_000_000, cache_creation_tokens=500_000))
    assert cost == pytest.approx(0.27 + 2.20 + 0.21 + 0.135)


def test_zero_tokens_at_a_known_price_cost_zero():
    assert cost_usd(price_for(TABLE, "deepseek-chat"), **tokens()) == 0.0


@pytest.mark.parametrize("table, model", [
    (None, "deepseek-chat"),
    ({}, "deepseek-chat"),
    (TABLE, "deepseek-reasoner"),  # another model of the same provider
    (TABLE, None),
    ({"m": {"input": "cheap"}}, "m"),  # invalid: validation reports it; a request is not failed
])
def test_no_price_is_none(table: Any, model: Any):
    assert price_for(table, model) is None
    assert cost_usd(price_for(table, model), **tokens(input_tokens=10, output_tokens=10)) is None


def test_cache_prices_default_to_the_input_price():
    assert parse_price({"input": 3, "output": 15}) == Price(3.0, 15.0, 3.0, 3.0)
    assert parse_price({"input": 3, "output": 15, "cache_read": 0.3}) == Price(3.0, 15.0, 0.3, 3.0)


@pytest.mark.parametrize("entry, message", [
    ({"output": 1}, "'input'"),
    ({"input": 1}, "'output'"),
    ({"input": -1, "output": 1}, ">= 0"),
    ({"input": True, "output": 1}, "number"),
    ({"input": 1, "output": 1, "cached": 1}, "unknown price field(s): cached"),
    ([0.27, 1.10], "object"),
])
def test_invalid_entries_say_what_is_wrong(entry: Any, message: str):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_price(entry)


def test_a_whole_table_names_the_model_in_its_error():
    assert parse_pricing(TABLE)["deepseek-chat"].output == 1.10
    assert parse_pricing(None) == {}
    with pytest.raises(ValueError, match="pricing for 'bad-model'"):
        parse_pricing({**TABLE, "bad-model": {"input": 1}})
    with pytest.raises(ValueError, match="model name -> price"):
        parse_pricing(["deepseek-chat"])


def test_a_parsed_table_prices_the_same():
    parsed = parse_pricing(TABLE)
    assert price_for(parsed, "deepseek-chat") == price_for(TABLE, "deepseek-chat")
