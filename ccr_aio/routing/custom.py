"""User-supplied routing pieces: the CUSTOM_ROUTER_PATH module and REWRITE_SYSTEM_PROMPT text.

Both are loaded once per config snapshot (start-up and reload). A custom router that fails to
load or raises is logged and skipped: routing must never fail because of it.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import structlog

log = structlog.get_logger("ccr_aio.routing")
# router(request, config, context) -> "provider,model" or None, possibly awaitable
CustomRouter = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], "str | None | Awaitable[str | None]"]


def load_custom_router(path: Any) -> CustomRouter | None:
    if not path:
        return None
    file = Path(str(path)).expanduser()
    try:
        spec = importlib.util.spec_from_file_location(f"ccr_custom_router_{abs(hash(str(file)))}", file)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {file}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        router = getattr(module, "router", None)
        if not callable(router):
            raise ImportError(f"{file} defines no router(request, config, context) function")
    except Exception as exc:  # any error in user code: log it, route without it
        log.error("custom_router_load_failed", path=str(file), error=f"{type(exc).__name__}: {exc}")
        return None
    log.info("custom_router_loaded", path=str(file))
    return cast(CustomRouter, router)  # a callable; its signature is the user's to keep


async def call_custom_router(
    router: CustomRouter, request: dict[str, Any], config: dict[str, Any], context: dict[str, Any]
) -> str | None:
    try:
        result = router(request, config, context)
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:
        log.error("custom_router_failed", error=f"{type(exc).__name__}: {exc}")
        return None
    if result is not None and not isinstance(result, str):
        log.error("custom_router_bad_result", result=repr(result)[:200])
        return None
    return result or None


def load_system_prompt(path: Any) -> str | None:
    if not path:
        return None
    try:
        return Path(str(path)).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        log.error("rewrite_system_prompt_unreadable", path=str(path), error=exc.strerror or str(exc))
        return None
