"""Command line: `python -m ccr_aio [start] [--config PATH] [--host H] [--port N] [--log-level L]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from .settings import ConfigError, Settings, load_settings

SHUTDOWN_GRACE_S = 30.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ccr-aio", description="Claude Code Router on aiohttp")
    parser.add_argument("command", nargs="?", default="start", choices=["start"])
    parser.add_argument("--config", help="config file (default ~/.claude-code-router/config.json, env CCR_CONFIG)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--log-level")
    return parser.parse_args(argv)


def load(args: argparse.Namespace) -> Settings:
    overrides = {"HOST": args.host, "PORT": args.port, "LOG_LEVEL": args.log_level}
    return load_settings(args.config, overrides=overrides)


def serve(settings: Settings) -> None:
    from aiohttp import web

    from .app import create_app
    from .logs import setup_logging

    setup_logging(settings, console=True)
    import structlog

    log = structlog.get_logger("ccr_aio")
    for warning in settings.warnings:
        log.warning("startup_warning", message=warning)
    log.info("starting", host=settings.host, port=settings.port, config=str(settings.config_path))
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        handler_cancellation=True,
        shutdown_timeout=SHUTDOWN_GRACE_S,
        access_log=None,
        print=None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load(args)
    except ConfigError as exc:
        print(f"ccr-aio: {exc}", file=sys.stderr)
        return 2
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
