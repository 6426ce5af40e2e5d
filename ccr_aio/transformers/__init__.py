"""Built-in transformers register themselves in `BUILTINS` when imported here."""

from . import anthropic, openai  # noqa: F401
from .base import BUILTINS, Context, Registry, Transformer, UpstreamOptions, builtin

__all__ = ["BUILTINS", "Context", "Registry", "Transformer", "UpstreamOptions", "builtin"]
