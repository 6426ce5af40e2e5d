"""The nouns of resilience: a target (`provider,model`), a pooled key, one attempt.

Keys are only ever named by their index in the provider's `api_key` list: nothing in this
package sees a key's value, so nothing here can log or report one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

# The Router's scenarios (routing/router.py), which `fallback` may be keyed by. `model` is a
# bare client model name matched to a configured model, `explicit` a client-named
# `provider,model`, `custom` the custom router's choice.
Scenario = Literal[
    "default", "background", "think", "longContext", "webSearch", "image",
    "model", "explicit", "subagent", "custom",
]
SCENARIOS: tuple[str, ...] = get_args(Scenario)


@dataclass(frozen=True)
class Target:
    """One `provider,model` pair, in its configured spelling."""

    provider: str
    model: str

    @property
    def label(self) -> str:
        return f"{self.provider},{self.model}"

    @classmethod
    def parse(cls, pair: str) -> Target | None:
        """`"provider,model"` → Target; None when either half is missing."""
        provider, _, model = pair.partition(",")
        provider, model = provider.strip(), model.strip()
        return cls(provider, model) if provider and model else None


@dataclass(frozen=True)
class KeyRef:
    """Key number `index` of `provider`'s pool. A rate limit or a revoked key belongs to the
    key, whatever model it was used for, so a key is not tied to a model."""

    provider: str
    index: int

    @property
    def label(self) -> str:
        return f"{self.provider}#{self.index}"


@dataclass(frozen=True)
class Attempt:
    """One call to make: a target, and which key of its pool (None: the provider has no pool,
    so its only key — or none — is used, and a key problem is the target's problem)."""

    target: Target
    key_index: int | None = None

    @property
    def key(self) -> KeyRef | None:
        return None if self.key_index is None else KeyRef(self.target.provider, self.key_index)


@dataclass(frozen=True)
class ProviderPool:
    """What this package needs to know about a configured provider: its models and how many
    keys it has. Built by the caller from the config, so this package never imports it."""

    name: str
    models: tuple[str, ...]
    key_count: int = 1

    @property
    def pooled(self) -> bool:
        return self.key_count > 1


Subject = Target | KeyRef  # what a health record is about
SubjectState = Literal["ok", "cooling", "disabled"]
