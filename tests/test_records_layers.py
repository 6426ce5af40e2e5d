"""The records package sits low in the layers: the standard library, prometheus_client and
itself — so the request path, the API and the CLI can all use it, and it uses none of them."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import ccr_aio.records
from tests import layers

PACKAGE = Path(ccr_aio.records.__file__).parent
imported_modules = partial(layers.imported_modules, package="ccr_aio.records")


def test_only_the_standard_library_prometheus_client_and_itself():
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 10
    for path in modules:
        for name in imported_modules(path):
            allowed = (layers.is_standard_library(name) or name.split(".")[0] == "prometheus_client"
                       or name.startswith("ccr_aio.records"))
            assert allowed, f"{path.name} imports {name}"


def test_the_check_would_catch_a_forbidden_import(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text("from ..settings import Settings\nimport aiohttp\nfrom .store import UsageStore\n")
    assert imported_modules(bad) == {"ccr_aio.settings", "aiohttp", "ccr_aio.records.store"}
