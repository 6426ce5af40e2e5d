"""The user's trust in a preset's risky `claudeCodeSettings` (validate.risks), kept beside it.

An install that the user trusted writes `.trust.json` with a fingerprint of exactly what was
shown. A run checks it: a preset whose risky settings changed since (edited by hand, say)
is not trusted any more. The file also remembers whether the risks were shown on a first run.
Archives may not ship this file (archive.py refuses it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .store import TRUST_FILE, write_private
from .validate import risk_fingerprint, risks


def _read(directory: Path) -> dict[str, Any]:
    try:
        value = json.loads((directory / TRUST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def record(directory: Path, manifest: dict[str, Any], shown: bool = False) -> None:
    body = {"fingerprint": risk_fingerprint(manifest), "shown": shown}
    write_private(directory / TRUST_FILE, json.dumps(body).encode())


def is_trusted(directory: Path, manifest: dict[str, Any]) -> bool:
    """True when nothing needs trust, or the user trusted exactly these settings."""
    return not risks(manifest) or _read(directory).get("fingerprint") == risk_fingerprint(manifest)


def first_run(directory: Path) -> bool:
    """Whether the trusted risks have not been shown on a run yet."""
    state = _read(directory)
    return bool(state) and not state.get("shown")


def mark_shown(directory: Path, manifest: dict[str, Any]) -> None:
    record(directory, manifest, shown=True)
