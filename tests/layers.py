"""What a package's modules import, for the tests that keep low packages low in the layers."""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of what a module of `package` imports (relative imports resolved)."""
    parts = package.split(".")
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.add(node.module or "")
                continue
            base = parts[: len(parts) + 1 - node.level]
            names.add(".".join([*base, node.module] if node.module else base))
    return names


def is_standard_library(name: str) -> bool:
    top = name.split(".")[0]
    return top in sys.stdlib_module_names or top == "__future__"
