"""`python -m ccr_aio [command] [options]`; the commands live in ccr_aio/cli/."""

from __future__ import annotations

import sys

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
