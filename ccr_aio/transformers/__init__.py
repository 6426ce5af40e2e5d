"""Built-in transformers. Importing this package imports every module under it (sub-folders
included); a class decorated with `@builtin` registers itself in `BUILTINS` then, so adding a
transformer is adding one module in the folder of its kind. Modules are imported in order of
their file name, whatever their folder, which keeps the registry's listing order stable.

    base.py      the interface every transformer implements, and the registry
    endpoint/    the client-facing Anthropic Messages endpoint (client <-> unified)
    dialects/    one package per provider wire format (unified <-> provider)
    params/      small request-parameter transformers (max tokens, sampling, extra fields)
    reasoning/   thinking / reasoning behaviours across providers
    tools/       tool-call behaviours (ExitTool mode, argument repair)
    shared/      helpers several folders use; no transformer lives there
"""

import importlib
import pkgutil

from .base import BUILTINS, Context, ProviderInfo, Registry, Transformer, UpstreamOptions, builtin

_modules = [m.name for m in pkgutil.walk_packages(__path__, f"{__name__}.") if not m.ispkg]
for _name in sorted(_modules, key=lambda name: name.rsplit(".", 1)[1]):
    importlib.import_module(_name)

__all__ = ["BUILTINS", "Context", "ProviderInfo", "Registry", "Transformer", "UpstreamOptions", "builtin"]
