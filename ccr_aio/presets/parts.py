"""The four groups of keys in a manifest (one flat object), and which of them apply may write.

- metadata: name, version, description, author... (and anything not in another group);
- config part: the keys that mean the same as in config.json (what a merge may write);
- run-time: `noServer`, `claudeCodeSettings`, legacy `provider`/`router` (metadata in CCR);
- inputs: `schema`, `template`, `configMappings`, legacy `requiredInputs`.
[FIX] `transformers` belongs to the config part (CCR put it with the metadata). Apply writes
only into the config part: a template, a mapping or a requiredInputs path cannot reach
`noServer` or `claudeCodeSettings`, which an install showed and the user trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .fieldpath import Token

METADATA_KEYS = ("name", "version", "description", "author", "homepage", "repository", "license",
                 "keywords", "ccrVersion", "source", "sourceType", "checksum")
CONFIG_KEYS = ("Providers", "Router", "transformers", "fallback", "PORT", "HOST", "API_TIMEOUT_MS",
               "PROXY_URL", "LOG", "LOG_LEVEL", "StatusLine", "NON_INTERACTIVE_MODE", "forceUseImageAgent")
INPUT_KEYS = ("schema", "template", "configMappings", "requiredInputs")


def config_part(manifest: Mapping[str, Any]) -> dict[str, Any]:
    return {k: manifest[k] for k in CONFIG_KEYS if k in manifest}


def metadata_part(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Everything that is neither config nor inputs (CCR's `metadata`)."""
    return {k: v for k, v in manifest.items() if k not in CONFIG_KEYS and k not in INPUT_KEYS}


def writable(tokens: list[Token]) -> bool:
    return bool(tokens) and tokens[0] in CONFIG_KEYS
