"""`customparams`: add provider parameters from options (with the [FIX]).

`["customparams", {"top_k": 20, "extra_body": {...}}]`: each option key is added when the
request lacks it, or has it unset (None: the [FIX]); when both values are objects they are
deep-merged, the option winning at nested levels; otherwise the request's value is kept.
Option values are deep-copied per request, so no request can alter the configured options.
"""

from __future__ import annotations

import copy
from typing import Any

from ...shapes.unified import ProviderBody, UnifiedRequest
from ..base import Context, ProviderInfo, Transformer, builtin


def merge_params(request: UnifiedRequest, params: dict[str, Any]) -> dict[str, Any]:
    """A new request with `params` merged in; nested request objects are copied, not edited."""
    merged: dict[str, Any] = dict(request)
    for key, value in params.items():
        if value is None:
            continue  # an option set to null adds nothing (unset is absent, never null)
        current = merged.get(key)
        if current is None:
            merged[key] = copy.deepcopy(value)
        elif isinstance(current, dict) and isinstance(value, dict):
            merged[key] = _deep_merge(current, value)
    return merged


def _deep_merge(current: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, option in value.items():
        existing = merged.get(key)
        if isinstance(existing, dict) and isinstance(option, dict):
            merged[key] = _deep_merge(existing, option)
        else:
            merged[key] = copy.deepcopy(option)
    return merged


@builtin
class CustomParams(Transformer):
    name = "customparams"

    async def request_in(self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context) -> ProviderBody:
        return merge_params(request, self.options) if self.options else request
