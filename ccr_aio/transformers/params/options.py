"""Request-parameter helpers shared by the small request transformers."""

from __future__ import annotations

from typing import Any

from ...settings import ConfigError
from ...shapes.unified import UnifiedRequest


def number_option(options: dict[str, Any], key: str, owner: str) -> int | float | None:
    """A numeric option, or None when unset. A wrong type is a start-up error naming the
    transformer, not a silent no-op. Numeric strings ("16384") are accepted."""
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"transformer '{owner}': option {key} must be a number, got {value!r}")
    return value


def cap_max_tokens(request: UnifiedRequest, limit: int | float | None) -> UnifiedRequest:
    """`max_tokens` lowered to `limit` when it is set and larger; a new dict when it changes. A
    token count is an integer: a cap written as 16384.0 goes out as 16384, not as a float that
    OpenAI-format providers reject."""
    current = request.get("max_tokens")
    if limit is None or not current or not isinstance(current, (int, float)) or current <= limit:
        return request
    return {**request, "max_tokens": int(limit)}
