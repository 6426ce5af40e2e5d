"""ccr-aio: a Claude Code Router server on aiohttp."""

__version__ = "0.1.0"
