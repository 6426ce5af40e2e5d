"""The package's imports run one way: no cycles between files or folders, and no module imports
from a layer above its own.

Imports are read from the source with `ast`, so every kind counts: relative and absolute,
module-level, inside functions, and under `if TYPE_CHECKING:`. A module that is not in the
layer table fails the test: a new module gets its place on purpose.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import ccr_aio

PACKAGE = "ccr_aio"
ROOT = Path(ccr_aio.__file__).resolve().parent

# Low to high: a module may import from its own layer and from the layers below it. Entries are
# paths relative to the package ("routing" covers the folder, "transformers" alone is the
# package's __init__ once longer entries claim its sub-folders); "__init__" is ccr_aio itself.
LAYERS: list[tuple[str, ...]] = [
    ("__init__", "jsonutil", "errors", "private_files", "shapes", "memory"),  # leaves; shapes: TypedDicts of the JSON that flows
    ("resilience", "records", "inputs"),  # retry rules and key pools; request records, usage, metrics; input checks
    ("settings", "config", "config_store"),  # the configuration and its file
    ("shared",),  # state shared by workers and instances (SQLite file, Redis)
    ("logs", "google_auth", "presets", "client_keys", "config_mask"),  # services set up from the settings; preset bundles; keys masked for the API
    ("transformers.base",),  # the transformer interface and registry
    ("transformers.shared",),
    ("transformers.endpoint", "transformers.params", "transformers.reasoning", "transformers.tools"),
    ("transformers.dialects",),
    ("transformers",),  # the package: imports every built-in
    ("providers", "plugins"),
    ("routing",),
    ("pipeline",),
    ("state",),
    ("agents",),
    ("middlewares", "browser_guard", "routes", "drain"),
    ("app",),
    ("cli", "__main__"),
]

# Known arrows waiting for a change on another branch. Each entry must still exist (the last
# test says when one can go), and nothing else may be added here.
PENDING: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def imported_names(source: str, module: str, is_package: bool) -> Iterable[str]:
    """Every dotted name `source` imports (candidates: `from a import b` yields a.b and a)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                yield f"{origin}.{alias.name}"


def resolve(name: str, modules: Iterable[str]) -> str | None:
    """The module a dotted name lands in (the longest known prefix), or None when external."""
    known = set(modules)
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def file_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {resolve(name, modules) for name in imported_names(path.read_text(), module, path.name == "__init__.py")}
        graph[module] = {t for t in targets if t and t != module and (module, t) not in PENDING}
    return graph


def layer_of(module: str) -> int | None:
    relative = module[len(PACKAGE) + 1 :] if module != PACKAGE else "__init__"
    best: tuple[int, int] | None = None  # (length of the matching entry, layer)
    for rank, entries in enumerate(LAYERS):
        for entry in entries:
            if relative == entry or relative.startswith(entry + "."):
                if best is None or len(entry) > best[0]:
                    best = (len(entry), rank)
    return None if best is None else best[1]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def folder_graphs(graph: dict[str, set[str]]) -> dict[str, dict[str, set[str]]]:
    """For every package folder, the graph between its direct children (modules and sub-folders),
    induced by the file edges that stay inside it. The folder's own __init__ takes no part."""
    packages = {m for m, p in all_modules().items() if p.name == "__init__.py"}
    result: dict[str, dict[str, set[str]]] = {}
    for package in sorted(packages):
        prefix = package + "."

        def child(module: str) -> str | None:
            return prefix + module[len(prefix) :].split(".")[0] if module.startswith(prefix) else None

        edges: dict[str, set[str]] = {}
        for source, targets in graph.items():
            for target in targets:
                a, b = child(source), child(target)
                if a and b and a != b:
                    edges.setdefault(a, set()).add(b)
        result[package] = edges
    return result


def test_the_reader_sees_every_kind_of_import() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "from ..errors import ApiError\n"
        "import ccr_aio.jsonutil\n"
        "if TYPE_CHECKING:\n    from ..state import Snapshot\n"
        "def f():\n    from ..agents import image\n"
    )
    names = list(imported_names(source, "ccr_aio.pipeline.exchange", is_package=False))
    modules = ["ccr_aio.pipeline.sibling", "ccr_aio.errors", "ccr_aio.jsonutil", "ccr_aio.state", "ccr_aio.agents",
               "ccr_aio.agents.image"]
    found = {resolve(name, modules) for name in names} - {None}
    assert found == set(modules) - {"ccr_aio.agents"}


def test_every_module_has_a_layer() -> None:
    missing = sorted(m for m in all_modules() if layer_of(m) is None)
    assert not missing, f"add these modules to LAYERS in {Path(__file__).name}: {missing}"


def test_no_module_imports_from_a_higher_layer() -> None:
    upward = []
    for source, targets in file_graph(all_modules()).items():
        for target in sorted(targets):
            low, high = layer_of(source), layer_of(target)
            if low is not None and high is not None and high > low:
                upward.append(f"{source} ({'/'.join(LAYERS[low])}) imports {target} ({'/'.join(LAYERS[high])})")
    assert not upward, "imports that run up the layers:\n" + "\n".join(upward)


def test_files_import_each_other_without_cycles() -> None:
    cycle = find_cycle(file_graph(all_modules()))
    assert cycle is None, "import cycle between files: " + " -> ".join(cycle or [])


def test_folders_import_each_other_without_cycles() -> None:
    cycles = []
    for package, graph in folder_graphs(file_graph(all_modules())).items():
        if cycle := find_cycle(graph):
            cycles.append(f"in {package}: " + " -> ".join(cycle))
    assert not cycles, "import cycles between folders:\n" + "\n".join(cycles)


def test_pending_arrows_are_still_there() -> None:
    """An entry whose import is gone must leave PENDING, so the list never hides a new one."""
    modules = all_modules()
    gone = []
    for source, target in PENDING:
        path = modules[source]
        names = imported_names(path.read_text(), source, path.name == "__init__.py")
        if target not in {resolve(name, modules) for name in names}:
            gone.append(f"{source} -> {target}")
    assert not gone, f"remove from PENDING (the import is gone): {gone}"
