"""What a request cost, from `Providers[i].pricing`: USD per million tokens per model.

    "pricing": {"deepseek-chat": {"input": 0.27, "output": 1.10, "cache_read": 0.07,
                                  "cache_write": 0.27}}

`input` and `output` are required. A missing `cache_read` or `cache_write` price is the
`input` price: a provider that names no cache price bills those tokens as prompt tokens.
A model without a price has no cost (None, not 0): a sum of unknowns is not free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PER_TOKENS = 1_000_000
REQUIRED = ("input", "output")
OPTIONAL = ("cache_read", "cache_write")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_read: float
    cache_write: float


def parse_price(entry: Any) -> Price:
    """One model's price entry; ValueError says what is wrong."""
    if not isinstance(entry, Mapping):
        raise ValueError("a price is an object like {\"input\": 0.27, \"output\": 1.10}")
    unknown = set(entry) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise ValueError(f"unknown price field(s): {', '.join(sorted(map(str, unknown)))}")
    values: dict[str, float] = {}
    for name in REQUIRED + OPTIONAL:
        value = entry.get(name)
        if value is None:
            if name in REQUIRED:
                raise ValueError(f"'{name}' (USD per million tokens) is required")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"'{name}' must be a number >= 0, got {value!r}")
        values[name] = float(value)
    return Price(
        input=values["input"],
        output=values["output"],
        cache_read=values.get("cache_read", values["input"]),
        cache_write=values.get("cache_write", values["input"]),
    )


def parse_pricing(pricing: Any) -> dict[str, Price]:
    """A provider's whole table, for config validation; ValueError names the model."""
    if pricing is None:
        return {}
    if not isinstance(pricing, Mapping):
        raise ValueError("pricing is an object of model name -> price")
    table: dict[str, Price] = {}
    for model, entry in pricing.items():
        try:
            table[str(model)] = parse_price(entry)
        except ValueError as exc:
            raise ValueError(f"pricing for {model!r}: {exc}") from None
    return table


def price_for(pricing: Mapping[str, Any] | None, model: str | None) -> Price | None:
    """The model's price, or None when the table has none (or an invalid one: validation
    reports that at load time; a request is never failed over its price)."""
    if not pricing or model is None:
        return None
    entry = pricing.get(model)
    if entry is None:
        return None
    if isinstance(entry, Price):
        return entry
    try:
        return parse_price(entry)
    except ValueError:
        return None


def cost_usd(
    price: Price | None,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_creation_tokens: int = 0,
) -> float | None:
    """Anthropic's `input_tokens` excludes the cached ones, so the four counts never overlap."""
    if price is None:
        return None
    micro_usd = (
        input_tokens * price.input
        + output_tokens * price.output
        + cache_read_tokens * price.cache_read
        + cache_creation_tokens * price.cache_write
    )
    return micro_usd / PER_TOKENS
