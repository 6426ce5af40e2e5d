"""Asking a user at a terminal: a preset's inputs (by CCR's rules: order, `when`, options,
defaults, validation) and yes/no questions. Passwords are read without echo."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Mapping
from typing import Any

from ..presets import inputs as inp
from ..presets.manifest import is_filled

ATTEMPTS = 3


def interactive() -> bool:
    return sys.stdin.isatty()


def confirm(question: str, read: Callable[[str], str] = input) -> bool:
    try:
        return read(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def ask_inputs(manifest: Mapping[str, Any], *, reconfigure: bool = False) -> dict[str, Any]:
    """The values typed for the preset's inputs, keyed as apply takes them. When
    reconfiguring, an input that has a value may be left empty to keep it."""
    values: dict[str, Any] = {}
    answers: dict[str, Any] = {}
    for spec in inp.ordered(inp.effective_inputs(manifest)):
        if not inp.applies(spec, values):
            values.pop(spec["id"], None)
            continue
        keep = reconfigure and is_filled(spec, manifest)
        value = _ask_one(spec, values, manifest, keep)
        if value is None:
            continue
        values[spec["id"]] = answers[spec["id"]] = value
    return answers


def _ask_one(spec: Mapping[str, Any], values: Mapping[str, Any], manifest: Mapping[str, Any], keep: bool) -> Any:
    kind = inp.input_type(spec)
    title = inp.label(spec)
    hint = " (Enter keeps the current value)" if keep else ""
    for _ in range(ATTEMPTS):
        raw = _read(spec, kind, title + hint, values, manifest)
        if keep and raw in ("", None):
            return None
        if raw in ("", None) and "defaultValue" in spec:
            raw = spec["defaultValue"]
        value = inp.coerce(spec, raw)
        problem = inp.validate(spec, value)
        if problem is None:
            return value
        print(f"  {problem}", file=sys.stderr)
    raise SystemExit(f"Error: no valid value for {title}")


def _read(spec: Mapping[str, Any], kind: str, title: str, values: Mapping[str, Any],
          manifest: Mapping[str, Any]) -> Any:
    prompt = spec.get("prompt") or title
    default = spec.get("defaultValue")
    shown = f" [{default}]" if default not in (None, "") and kind != "password" else ""
    if kind == "confirm":
        answer = input(f"{prompt} [y/n]{shown} ").strip().lower()
        return default if not answer else answer in ("y", "yes", "true")
    if kind in ("select", "multiselect"):
        return _choose(spec, kind, prompt, values, manifest)
    if kind == "password":
        placeholder = f" ({spec['placeholder']})" if spec.get("placeholder") else ""
        return getpass.getpass(f"{prompt}{placeholder}: ")
    return input(f"{prompt}{shown}: ")


def _choose(spec: Mapping[str, Any], kind: str, prompt: str, values: Mapping[str, Any],
            manifest: Mapping[str, Any]) -> Any:
    options = [o for o in inp.options(spec, values, manifest) if not o.get("disabled")]
    if not options:
        return spec.get("defaultValue", [] if kind == "multiselect" else "")
    print(prompt)
    for i, option in enumerate(options, 1):
        about = f" - {option['description']}" if option.get("description") else ""
        print(f"  {i}. {option.get('label', option.get('value'))}{about}")
    many = kind == "multiselect"
    answer = input("Numbers, separated by commas: " if many else "Number: ").strip()
    if not answer:
        return spec.get("defaultValue", [] if many else "")
    picked = []
    for part in answer.split(",") if many else [answer]:
        if part.strip().isdigit() and 1 <= int(part) <= len(options):
            picked.append(options[int(part) - 1].get("value"))
    return picked if many else (picked[0] if picked else "")
