"""Built-in transformers: every public module of this package registers itself in `BUILTINS`
with the `@builtin` decorator when imported, so adding a transformer is adding one file."""

import importlib
import pkgutil

from .base import BUILTINS, Context, ProviderInfo, Registry, Transformer, UpstreamOptions, builtin

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_") and _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["BUILTINS", "Context", "ProviderInfo", "Registry", "Transformer", "UpstreamOptions", "builtin"]
