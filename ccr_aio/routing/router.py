"""Decide `provider,model` for a request. Today: explicit `provider,model`, a bare model name
that a provider lists, then `Router.default`. The scenario rules of product.md §5 plug in here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ApiError
from ..providers import Provider
from ..state import Snapshot


@dataclass(frozen=True)
class Route:
    provider: Provider
    model: str
    scenario: str

    @property
    def label(self) -> str:
        return f"{self.provider.name},{self.model}"


def resolve(snapshot: Snapshot, pair: str, scenario: str) -> Route:
    """`provider,model` (case-insensitive) → Route in the configured spelling, or 400."""
    provider, _, model = pair.partition(",")
    found = snapshot.find(provider.strip(), model.strip())
    if found is None:
        raise ApiError(400, f"Unknown provider/model '{pair}' ({scenario}): not in Providers")
    return Route(found[0], found[1], scenario)


def bare_model(snapshot: Snapshot, model: str) -> Route | None:
    for provider in snapshot.providers.values():
        spelled = provider.find_model(model)
        if spelled:
            return Route(provider, spelled, "model")
    return None


async def decide(body: dict[str, Any], headers: Mapping[str, str], snapshot: Snapshot) -> Route:
    model = body.get("model")
    if isinstance(model, str) and "," in model:
        return resolve(snapshot, model, "explicit")
    if isinstance(model, str) and model:
        route = bare_model(snapshot, model)
        if route:
            return route
    default = snapshot.settings.router.get("default")
    if not isinstance(default, str) or not default:
        raise ApiError(400, "No route for this request: set Router.default to 'provider,model'")
    return resolve(snapshot, default, "default")
