"""The resilience package sits low in the layers: the standard library, `ccr_aio.errors` and
itself, nothing else — so the request path can call down into it, never the other way."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import ccr_aio.resilience

PACKAGE = Path(ccr_aio.resilience.__file__).parent
ALLOWED_INTERNAL = {"ccr_aio.errors"}


def imported_modules(path: Path) -> set[str]:
    """Absolute names of what a module imports (relative imports resolved)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.add(node.module or "")
                continue
            base = ["ccr_aio", "resilience"][: 3 - node.level]
            module = ".".join([*base, node.module] if node.module else base)
            names.add(module)
    return names


def test_only_the_standard_library_errors_and_itself():
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 8
    for path in modules:
        for name in imported_modules(path):
            top = name.split(".")[0]
            allowed = (
                top in sys.stdlib_module_names or top == "__future__"
                or name in ALLOWED_INTERNAL or name.startswith("ccr_aio.resilience")
            )
            assert allowed, f"{path.name} imports {name}"


def test_the_check_would_catch_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from ..settings import Settings\nimport aiohttp\nfrom .plan import Plan\n")
    assert imported_modules(bad) == {"ccr_aio.settings", "aiohttp", "ccr_aio.resilience.plan"}
