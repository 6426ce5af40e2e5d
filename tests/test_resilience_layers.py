"""The resilience package sits low in the layers: the standard library, `ccr_aio.errors` and
itself, nothing else — so the request path can call down into it, never the other way."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import ccr_aio.resilience
from tests import layers

PACKAGE = Path(ccr_aio.resilience.__file__).parent
ALLOWED_INTERNAL = {"ccr_aio.errors"}
imported_modules = partial(layers.imported_modules, package="ccr_aio.resilience")


def test_only_the_standard_library_errors_and_itself():
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 8
    for path in modules:
        for name in imported_modules(path):
            allowed = (
                layers.is_standard_library(name)
                or name in ALLOWED_INTERNAL or name.startswith("ccr_aio.resilience")
            )
            assert allowed, f"{path.name} imports {name}"


def test_the_check_would_catch_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from ..settings import Settings\nimport aiohttp\nfrom .plan import Plan\n")
    assert imported_modules(bad) == {"ccr_aio.settings", "aiohttp", "ccr_aio.resilience.plan"}
