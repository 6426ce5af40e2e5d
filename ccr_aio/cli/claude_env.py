"""The Claude Code settings `activate` and `code` add for a better fit: the `/model` picker
filled from the server, and the context window of the models the config routes to.

Claude Code reads a window only from its own model table: for any other name (`provider,model`,
the picker's `ccr-claude/...` ids) it assumes 1M tokens unless `CLAUDE_CODE_MAX_CONTEXT_TOKENS`
says otherwise, and for its own names `CLAUDE_CODE_AUTO_COMPACT_WINDOW` lowers the point where
it compacts (it ignores values under 100k). Both hold for the whole session, whatever model a
request is routed to: the server refuses a prompt that does not fit the routed model with
Anthropic's "prompt is too long", and Claude Code compacts then too.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..config import Config
from ..config.capabilities import pair_window, session_window
from ..routing.model_ids import read_picker_id

DISCOVERY = "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY"
MAX_CONTEXT = "CLAUDE_CODE_MAX_CONTEXT_TOKENS"
AUTO_COMPACT = "CLAUDE_CODE_AUTO_COMPACT_WINDOW"
MIN_AUTO_COMPACT_WINDOW = 100_000  # Claude Code refuses a smaller auto-compact window


def model_argument(claude_args: Sequence[str]) -> str | None:
    """The value of `--model X` / `--model=X` among claude's arguments (the last one wins)."""
    found = None
    for i, arg in enumerate(claude_args):
        if arg == "--model" and i + 1 < len(claude_args):
            found = claude_args[i + 1]
        elif arg.startswith("--model="):
            found = arg.split("=", 1)[1]
    return found


def chosen_window(config: Config, model: str | None) -> int | None:
    """The window for a session started with `--model model` (None: routed by the Router)."""
    picked = read_picker_id(model) if model else None
    if picked is not None:
        return pair_window(config, picked.pair or config.router.pair(picked.scenario or "default"))
    if model and "," in model:
        return pair_window(config, model)
    return session_window(config)


def fit_env(config: Config, model: str | None = None) -> dict[str, str]:
    """Picker discovery on, and the window when one is known."""
    env = {DISCOVERY: "1"}
    window = chosen_window(config, model)
    if window:
        env[MAX_CONTEXT] = str(window)
        if window >= MIN_AUTO_COMPACT_WINDOW:
            env[AUTO_COMPACT] = str(window)
    return env
