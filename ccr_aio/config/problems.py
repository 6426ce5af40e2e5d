"""What can be wrong with a config: `Problem` (one finding, with its path) and the errors that
carry them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


class ConfigError(Exception):
    """The config cannot be used; the message names the file (or request) and the problem."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the config.

    `path` says where (`Providers[1].models`; "" for the whole config), `message` is the full
    sentence and starts with that place as people read it (`Providers[1] (openrouter).models`). `hint` adds what the value should look like where the
    message alone is terse. A problem that does not `block` (a broken plugin entry) lets a
    config load with that entry skipped; a save refuses every problem.
    """

    path: str
    message: str
    hint: str = ""
    blocks: bool = True

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigInvalid(ConfigError):
    """The config has problems; all of them are in `problems` and in the message."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        text = describe(self.problems)
        super().__init__(f"{source}: {text}" if source else text)


def describe(problems: Iterable[Problem]) -> str:
    return "; ".join(str(p) for p in problems)


def kind(value: Any) -> str:
    """The JSON name of a value's type, with its article: "an array", "null"..."""
    for types, name in ((bool, "a boolean"), (str, "a string"), (dict, "an object"), (list, "an array")):
        if isinstance(value, types):  # isinstance: a `$VAR` value is a str subclass
            return name
    return "null" if value is None else "a number"


@dataclass(frozen=True)
class At:
    """A place in the config: its `path` (`Providers[1].models`, for programs) and its
    `label` (`Providers[1] (openrouter).models`, as messages show it)."""

    path: str
    label: str

    @classmethod
    def key(cls, name: str) -> At:
        return cls(name, name)

    def field(self, name: str) -> At:
        return At(f"{self.path}.{name}", f"{self.label}.{name}")

    def item(self, index: int) -> At:
        return At(f"{self.path}[{index}]", f"{self.label}[{index}]")

    def named(self, name: str) -> At:
        return At(self.path, f"{self.label} ({name})")


class Findings:
    """Collects problems while a parser walks the tree, so all of them come out at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, at: At, text: str, *, sep: str = " ", hint: str = "", blocks: bool = True) -> None:
        """A problem at `at`; its message is the label, `sep`, then `text`."""
        self.problems.append(Problem(at.path, f"{at.label}{sep}{text}", hint, blocks))

    @property
    def blocking(self) -> bool:
        return any(p.blocks for p in self.problems)
