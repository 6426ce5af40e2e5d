"""Command line: `ccr-aio [command] [options]` (also `python -m ccr_aio`).

Options may come before or after the command; after `code` everything goes to `claude`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, cast

from .. import __version__
from ..settings import ConfigError

COMMANDS: dict[str, str] = {
    "start": "run the server (the default; --daemon runs it in the background)",
    "stop": "stop the background server",
    "restart": "stop, then start in the background",
    "status": "show whether the server runs (exit 0) or not (exit 1)",
    "activate": 'print shell exports for Claude Code: eval "$(ccr-aio activate)"',
    "code": "run claude through the server (starting it if needed)",
    "model": "list or set the Router entries",
    "ui": "print (and open) the management UI address",
    "preset": "export, install, list, info or delete presets (`ccr-aio preset --help`)",
}
PRESET_RUN = "  <preset>  run claude with an installed preset: ccr-aio <preset> [claude args]"
_VALUE_OPTIONS = {"--config", "--host", "--port", "--log-level"}


def _common(nested: bool = False) -> argparse.ArgumentParser:
    # `nested`: for `model set ...`, whose own defaults must not reset options given earlier.
    extra: dict[str, Any] = {"default": argparse.SUPPRESS} if nested else {}
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="config file (default ~/.claude-code-router/config.json, env CCR_CONFIG)", **extra)
    common.add_argument("--host", help="listen address (env HOST)", **extra)
    common.add_argument("--port", type=int, help="listen port (env PORT / SERVICE_PORT)", **extra)
    common.add_argument("--log-level", help="fatal/error/warn/info/debug/trace (env LOG_LEVEL)", **extra)
    if not nested:
        common.add_argument("--version", action="version", version=f"ccr-aio {__version__}")
    return common


def build_parser(command: str) -> argparse.ArgumentParser:
    epilog = "commands:\n" + "\n".join(f"  {name:<9} {text}" for name, text in COMMANDS.items()) + "\n" + PRESET_RUN
    parser = argparse.ArgumentParser(
        prog="ccr-aio" if command == "start" else f"ccr-aio {command}", parents=[_common()],
        description="Claude Code Router on aiohttp" if command == "start" else COMMANDS[command],
        epilog=epilog if command == "start" else None, formatter_class=argparse.RawDescriptionHelpFormatter)
    if command == "start":
        parser.add_argument("--daemon", action="store_true", help="run in the background, wait for /health")
        parser.add_argument("--no-console", action="store_true", help="log to the log files only, not stderr")
    elif command == "model":
        actions = parser.add_subparsers(dest="action", required=True, metavar="{list,set}")
        actions.add_parser("list", parents=[_common(nested=True)],
                           help="Router entries and the available provider,model pairs")
        setter = actions.add_parser("set", parents=[_common(nested=True)],
                                    help="set one Router entry, then reload the running server")
        setter.add_argument("scenario", help="default, background, think, longContext, webSearch, image, subagent, longContextThreshold, thinkWhen")
        setter.add_argument("value", help='"provider,model" (a number for longContextThreshold, asked/thinking for '
                            'thinkWhen; "none" clears)')
    elif command == "ui":
        parser.add_argument("--no-browser", action="store_true", help="only print the address")
    return parser


def split_command(argv: Sequence[str]) -> tuple[str, list[str], list[str]]:
    """(command, arguments before it, arguments after it); no command means `start`."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in _VALUE_OPTIONS:
            i += 2
        elif token.startswith("-"):
            i += 1
        else:
            return token, list(argv[:i]), list(argv[i + 1:])
    return "start", list(argv), []


def _handler(command: str, args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    from . import commands, model

    if command == "model":
        return model.model_list if args.action == "list" else model.model_set
    return cast(Callable[[argparse.Namespace], int], getattr(commands, command))


def _preset(command: str, before: list[str], after: list[str], argv: list[str]) -> int:
    """`ccr-aio preset ...`, or `ccr-aio <preset> [claude args]` for an installed preset."""
    from ..presets.store import PresetError
    from . import preset_run, presets

    args = build_parser("preset").parse_args(before)
    args.argv = argv
    try:
        if command == "preset":
            return presets.preset_command(args, after, _common)
        if preset_run.is_runnable(command, args):
            return preset_run.run_preset(command, args, after)
    except PresetError as exc:
        return preset_run.explain(exc)
    print(f"ccr-aio: unknown command '{command}'; one of: {', '.join(COMMANDS)}, or an installed "
          "preset's name (ccr-aio preset list)", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command, before, after = split_command(argv)
    try:
        if command not in COMMANDS or command == "preset":
            return _preset(command, before, after, argv)
        if command == "code":
            args = build_parser(command).parse_args(before)
            args.claude_args = after
        else:
            args = build_parser(command).parse_args(before + after)
        args.argv = argv  # a restart re-execs with exactly these
        return _handler(command, args)(args)
    except ConfigError as exc:
        print(f"ccr-aio: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `ccr-aio status | head -1`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
