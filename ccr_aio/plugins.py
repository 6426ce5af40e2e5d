"""Custom transformers ("plugins") from the config's `transformers` list.

    "transformers": [
      {"path": "/home/me/.claude-code-router/plugins/my_transformer.py", "options": {"max_tokens": 8192}},
      {"path": "my_package.transformers:Redactor"}
    ]

`path` is a Python file (relative paths are taken from the config file's folder), a file with
`:Class` to pick one class, or a `module:Class` reference to something importable. The class is
a `Transformer` subclass with a `name`, or any class with a `name` and some of the hook methods.
It is registered under its `name` (case-insensitive), overriding a built-in of that name, and
provider chains use it like a built-in; the entry's `options` are defaults that a chain entry's
`["name", {options}]` overrides key by key.

A plugin that fails to load is skipped and reported in the returned error list; a provider that
names it then fails at start-up with "unknown transformer", to which `plugin_hint` adds why.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import structlog

from .settings import ConfigError, FromEnv, Settings
from .transformers.base import Registry, Transformer

log = structlog.get_logger("ccr_aio.plugins")

HOOKS = ("request_out", "request_in", "stream_out", "json_out", "stream_in", "json_in", "auth")
_SYNC_HOOKS = ("request_out", "json_out", "json_in", "auth")  # the chain calls these without await
_STREAM_HOOKS = ("stream_out", "stream_in")  # async generators (or functions returning one)
_REFERENCE_HOOKS = ("transform_request_out", "transform_request_in", "transform_response_out", "transform_response_in")
_MODULE_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_CLASS_SUFFIX = re.compile(r"^(.+\.py):([A-Za-z_]\w*)$")
_NON_WORD = re.compile(r"\W")


class PluginError(Exception):
    """A plugin that cannot be used; the message says why."""


class PluginCreateError(ConfigError):
    """The plugin's constructor failed: at load time a load error, in a chain a start-up error."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"transformer plugin {source}: cannot be created: {reason}")
        self.reason = reason


def load_plugins(settings: Settings, base: Registry) -> tuple[Registry, list[str]]:
    """`base` plus the configured plugins (a copy; `base` is untouched), and one message per
    plugin that failed to load (an entry the config model found broken counts as failed)."""
    specs = settings.config.plugins
    if not specs:
        return base, []
    registry, errors = base.copy(), []
    for position, spec in enumerate(specs):
        where = spec.path or f"entry #{position}"
        try:
            if spec.problem:
                raise PluginError(spec.problem)
            plugin = adapt(_load_class(spec.path, settings.home), dict(spec.options), spec.path)
        except (Exception, SystemExit) as exc:  # anything in user code: report it, keep the others
            errors.append(_as_written_in(f"transformer plugin {where}: {_describe(exc)}", spec.path))
            continue
        replaced = base.get(plugin.name)
        registry.register(plugin, plugin.name)
        log.info("transformer_plugin_loaded", name=plugin.name, path=spec.path, overrides_builtin=replaced is not None)
    return registry, errors


@contextmanager
def plugin_hint(errors: list[str]) -> Iterator[None]:
    """Add the plugin load errors to an "unknown transformer" start-up error."""
    try:
        yield
    except ConfigError as exc:
        if errors and "unknown transformer" in str(exc):
            raise ConfigError(f"{exc} (failed to load: {'; '.join(errors)})") from None
        raise


def plugin_file(ref: str, home: Path) -> Path | None:
    """The file a `path` entry names (relative to `home`, a `:Class` suffix dropped); None for
    a `module:Class` reference."""
    if _MODULE_REF.match(ref) and not ref.endswith(".py"):
        return None
    match = _CLASS_SUFFIX.match(ref)
    path = Path(match.group(1) if match else ref).expanduser()
    return path if path.is_absolute() else home / path


def _load_class(ref: str, home: Path) -> type:
    path = plugin_file(ref, home)
    if path is None:
        module_name, class_name = ref.split(":")
        return _pick(importlib.import_module(module_name), class_name, ref)
    match = _CLASS_SUFFIX.match(ref)
    if not path.is_file():
        raise PluginError(f"no such file: {path}")
    return _pick(_exec_file(path), match.group(2) if match else None, ref)


def _exec_file(path: Path) -> ModuleType:
    # A name per file, so two plugins may share a file name; re-executed on each config load.
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    name = f"ccr_aio_plugin_{_NON_WORD.sub('_', path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look the module up while it runs
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)  # a broken plugin leaves nothing behind
        raise
    return module


def _pick(module: ModuleType, class_name: str | None, ref: str) -> type:
    if class_name:
        found = getattr(module, class_name, None)
        if not isinstance(found, type):
            raise PluginError(f"{module.__name__} has no class {class_name}")
        if not (issubclass(found, Transformer) or any(callable(getattr(found, h, None)) for h in HOOKS + _REFERENCE_HOOKS)):
            # Checked before it is constructed: `subprocess:Popen` with options would run a command.
            raise PluginError(f"{module.__name__}.{class_name} is not a transformer class "
                              f"(no {', '.join(HOOKS)} method and not a Transformer subclass)")
        return found
    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and obj.__module__ == module.__name__ and _looks_like_transformer(obj)
    ]
    if not classes:
        raise PluginError(
            "defines no transformer class (a subclass of ccr_aio.transformers.base.Transformer with a `name`)"
        )
    if len(classes) > 1:
        names = ", ".join(cls.__name__ for cls in classes)
        raise PluginError(f"defines several transformer classes ({names}): name one as '{ref}:ClassName'")
    return classes[0]


def _looks_like_transformer(cls: type) -> bool:
    if issubclass(cls, Transformer):
        return bool(cls.name)
    return any(callable(getattr(cls, hook, None)) for hook in HOOKS + _REFERENCE_HOOKS)


def adapt(cls: type[Any], defaults: dict[str, Any], source: str) -> type[Transformer]:
    """A `Transformer` subclass for a plugin class: constructed with `defaults` merged under
    the chain entry's options, a sync `request_in` made awaitable, and checked up front."""
    if not isinstance(cls, type):
        raise PluginError(f"{cls!r} is not a class")
    defined = [hook for hook in HOOKS if callable(getattr(cls, hook, None)) and _defines(cls, hook)]
    if not defined and any(hasattr(cls, hook) for hook in _REFERENCE_HOOKS):
        raise PluginError(
            f"{cls.__name__} uses the Node hook names (transform_request_in, ...): "
            f"implement {', '.join(HOOKS)} instead (see the README)"
        )
    for hook in defined:
        function = getattr(cls, hook)
        if hook in _STREAM_HOOKS and inspect.isgeneratorfunction(function):
            raise PluginError(f"{cls.__name__}.{hook} must be an async generator (`async def` with `yield`)")
        if hook in _SYNC_HOOKS and (inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)):
            raise PluginError(f"{cls.__name__}.{hook} must be a plain function, not `async def`")
    namespace: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "source": source}
    namespace["__init__"] = _init(cls, defaults, source)
    if "request_in" in defined and not inspect.iscoroutinefunction(cls.request_in):
        namespace["request_in"] = _awaitable(cls.request_in)
    bases = (cls,) if issubclass(cls, Transformer) else (cls, Transformer)
    plugin: type[Transformer] = type(cls.__name__, bases, namespace)
    name = getattr(cls, "name", None)
    probe = plugin(None)  # the reference builds one instance at load: bad options fail here
    if not (isinstance(name, str) and name):
        name = getattr(probe, "name", None)  # Node style: the name set in the constructor
        if not (isinstance(name, str) and name):
            raise PluginError(f"{cls.__name__} has no `name`")
        plugin.name = name
    return plugin


def _defines(cls: type, hook: str) -> bool:
    """The class (not just the Transformer base) provides `hook`."""
    return getattr(cls, hook) is not getattr(Transformer, hook, None)


def _init(cls: type[Any], defaults: dict[str, Any], source: str) -> Any:
    original = cls.__init__
    if issubclass(cls, Transformer) or original is object.__init__:
        takes_options = original is not object.__init__
    else:
        try:
            inspect.signature(original).bind(None, {})
            takes_options = True
        except (TypeError, ValueError):
            takes_options = False

    def __init__(self: Any, options: dict[str, Any] | None = None) -> None:
        merged = {**defaults, **(options or {})}
        try:
            if takes_options:
                original(self, merged)
            elif original is not object.__init__:
                original(self)
        except ConfigError:
            raise
        except Exception as exc:  # a chain entry's options must not crash start-up with a traceback
            raise PluginCreateError(source, _describe(exc)) from None
        if not isinstance(getattr(self, "options", None), dict):
            self.options = merged

    return __init__


def _awaitable(function: Any) -> Any:
    async def request_in(self: Any, request: dict[str, Any], provider: Any, ctx: Any) -> Any:
        return function(self, request, provider, ctx)

    return request_in


def _as_written_in(text: str, ref: str) -> str:
    """A load error about a `$VAR` path names the path as written, not what the variable holds."""
    return text.replace(str(ref), ref.written) if isinstance(ref, FromEnv) and str(ref) else text


def _describe(exc: BaseException) -> str:
    if isinstance(exc, PluginCreateError):
        return f"cannot be created: {exc.reason}"
    if isinstance(exc, (PluginError, ConfigError)):
        return str(exc)
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    return f"{type(exc).__name__}: {exc}"
