"""JSON text in and out, in one place: every module imports `dumps` and `loads` from here, so a
faster JSON library can be plugged in by changing this file alone.

`dumps` writes what JavaScript's JSON.stringify writes for JSON data (compact separators,
non-ASCII kept as is): the form providers and clients expect on the wire. Human-facing files
(the config file, pid files) are pretty-printed with the standard library instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# Bound methods of module-level objects: no per-call encoder set-up on the hot path.
dumps: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
loads: Callable[[str | bytes], Any] = json.loads
