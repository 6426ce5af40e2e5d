"""Which values of a config are secrets, what replaces them in an export, and masking.

Detection is CCR's (a key whose lower-cased name contains `api_key`, `secret`, `token`,
`password`...; string values only, anywhere in the tree) and more [FIX]:
- every string in a list under such a key (a key pool: `"api_key": ["k1", "k2"]`);
- the headers `authorization`, `x-api-key`, `api-key`, `cookie` (and the like) by exact name;
- values that look like a known kind of key (`sk-...`, `AIza...`, `ghp_...`, a PEM private
  key), whatever their key is called;
- credentials inside URLs (`user:pass@`, `?key=`/`token=`...), replaced in place;
- but not `max_tokens`-style counters or `tokenizer` settings.
A `$VAR`/`${VAR}` reference (also `Bearer $VAR`) is not a secret: it stays as written.

[FIX] Placeholders are named after their owner: `${DEEPSEEK_API_KEY}` for `Providers[i]`
named deepseek, `${<TRANSFORMER>_<KEY>}` for `transformers[i]`, `${KEY}` at the top level, with
`_2`, `_3`... on a collision (CCR named every one `${CONFIG_API_KEY}`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .fieldpath import Token, format_path

MASK = "********"
_PARTS = ("api_key", "apikey", "api_secret", "apisecret", "secret", "token", "auth_token", "password",
          "passwd", "private_key", "privatekey", "access_key", "accesskey")
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie",
                            "x-goog-api-key", "x-auth-token"})
_REF = r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE = re.compile(rf"^\s*(?:(?:bearer|basic|token)\s+)?(?:{_REF})\s*$", re.IGNORECASE)
_REF_NAME = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
_KEY_LIKE = re.compile(r"^(sk-[A-Za-z0-9_-]{16,}|AIza[0-9A-Za-z_-]{30,}|gh[pousr]_[A-Za-z0-9]{20,}"
                       r"|xox[abpr]-[A-Za-z0-9-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*)$")
_QUERY_SECRETS = ("key", "api_key", "apikey", "token", "access_token", "secret", "password", "sig", "signature")


@dataclass(frozen=True)
class Field:
    """One secret-bearing place: `var` names its placeholder; `reference` is set when the
    value was already a `$VAR` (kept as written); `template` is set for a URL: the value with
    `{{var}}` where each credential was (one URL may hold several)."""

    path: str
    key: str
    var: str
    reference: str | None = None
    template: str | None = None
    owner: str = ""  # the provider or transformer it belongs to

    @property
    def label(self) -> str:
        """What a form or prompt shows: `deepseek api_key (Providers[0].api_key)`."""
        what = f"{self.owner} {self.key}" if self.owner else self.key
        return f"{what}{' in the URL' if self.template else ''} ({self.path})"


def is_sensitive_key(key: str) -> bool:
    lowered = key.lower()
    if lowered in SECRET_HEADERS:
        return True
    if lowered.endswith("tokens") or "tokenizer" in lowered:
        return False
    return any(part in lowered for part in _PARTS)


def is_reference(value: str) -> bool:
    return bool(_REFERENCE.match(value))


def looks_like_key(value: str) -> bool:
    return bool(_KEY_LIKE.match(value.strip()))


def url_credentials(value: str) -> tuple[str, list[str]] | None:
    """(the URL with each credential replaced by `{{0}}`, `{{1}}`..., what each one was) when
    a URL carries a password in its user part or secret query parameters; else None."""
    if not re.match(r"^[a-z][a-z0-9+.-]*://", value, re.IGNORECASE):
        return None
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return None
    template, labels = value, []
    if password and not is_reference(password):
        template = template.replace(f":{password}@", ":{{0}}@", 1)
        labels.append("password")
    for name, secret in parse_qsl(parts.query, keep_blank_values=False):
        if name.lower() in _QUERY_SECRETS and secret and not is_reference(secret):
            template = template.replace(f"{name}={secret}", f"{name}={{{{{len(labels)}}}}}", 1)
            labels.append(name)
    return (template, labels) if labels else None


def fill_holes(template: str, values: list[str]) -> str:
    for i, value in enumerate(values):
        template = template.replace(f"{{{{{i}}}}}", value)
    return template


def _owner(path: list[Token], config: dict[str, Any]) -> str:
    """The name a placeholder starts with: the provider or transformer the path is inside."""
    if len(path) < 2 or not isinstance(path[1], int):
        return ""
    entry = config.get(str(path[0]))
    entry = entry[path[1]] if isinstance(entry, list) and path[1] < len(entry) else None
    if not isinstance(entry, dict):
        return ""
    if str(path[0]).lower() == "providers":
        return str(entry.get("name") or "")
    if str(path[0]).lower() == "transformers":
        return str(entry.get("name") or PurePosixPath(str(entry.get("path") or "")).stem)
    return ""


def var_name(owner: str, key: str) -> str:
    def part(text: str) -> str:
        return re.sub(r"_+", "_", re.sub(r"[^A-Z0-9]", "_", text.upper())).strip("_")

    owner_part, key_part = part(owner), part(key) or "SECRET"
    name = key_part if not owner_part or owner_part == key_part else f"{owner_part}_{key_part}"
    return name if not name[0].isdigit() else f"_{name}"


def walk_strings(tree: Any, path: list[Token] | None = None) -> Iterator[tuple[list[Token], str, str]]:
    """(path, the key that owns it, value) for every string in the tree; list items are owned
    by the list's key."""
    path = path or []
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _walk_child(value, [*path, str(key)], str(key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _walk_child(value, [*path, i], "")


def _walk_child(value: Any, path: list[Token], key: str) -> Iterator[tuple[list[Token], str, str]]:
    if isinstance(value, str):
        yield path, key or _list_key(path), value
    else:
        yield from walk_strings(value, path)


def _list_key(path: list[Token]) -> str:
    for token in reversed(path):
        if isinstance(token, str):
            return token
    return ""


def is_secret(path: list[Token], key: str, value: str) -> bool:
    if not value.strip() or is_reference(value):
        return False
    # A string under a sensitive key, or a list item right below one (a key pool).
    direct = isinstance(path[-1], str) or (len(path) >= 2 and isinstance(path[-2], str))
    return (direct and is_sensitive_key(key)) or looks_like_key(value)


def find_secrets(config: dict[str, Any]) -> list[Field]:
    """Every secret and `$VAR` reference of a config, each with a fresh placeholder name."""
    references = {m.group(1) for _, _, v in walk_strings(config) if is_reference(v)
                  for m in [_REF_NAME.search(v)] if m}
    used: set[str] = set(references)
    fields = []
    for path, key, value in walk_strings(config):
        where = format_path(path)
        if is_reference(value):
            if is_sensitive_key(key):
                match = _REF_NAME.search(value)
                fields.append(Field(where, key, match.group(1) if match else key, reference=value,
                                    owner=_owner(path, config)))
            continue
        owner = _owner(path, config)
        in_url = url_credentials(value)
        if in_url is not None:
            names = [_unique(var_name(owner, f"{key}_{label}"), used) for label in in_url[1]]
            template = fill_holes(in_url[0], [f"{{{{{n}}}}}" for n in names])
            fields += [Field(where, key, name, template=template, owner=owner) for name in names]
        elif is_secret(path, key, value):
            fields.append(Field(where, key, _unique(var_name(owner, key), used), owner=owner))
    return fields


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}_{n}"
    used.add(candidate)
    return candidate


def map_strings(tree: Any, change: Callable[[list[Token], str, str], str], path: list[Token] | None = None) -> Any:
    """A copy of the tree with every string passed through `change(path, key, value)`."""
    path = path or []
    if isinstance(tree, dict):
        return {k: _map_child(v, change, [*path, str(k)], str(k)) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_map_child(v, change, [*path, i], "") for i, v in enumerate(tree)]
    return tree


def _map_child(value: Any, change: Callable[[list[Token], str, str], str], path: list[Token], key: str) -> Any:
    if isinstance(value, str):
        return change(path, key or _list_key(path), value)
    return map_strings(value, change, path)


def mask(tree: Any) -> Any:
    """The tree with secrets shown as `********`; references and `{{inputs}}` stay visible,
    a URL keeps everything but its credential."""

    def hide(path: list[Token], key: str, value: str) -> str:
        if "{{" in value:
            return value
        in_url = url_credentials(value)
        if in_url is not None:
            return fill_holes(in_url[0], [MASK] * len(in_url[1]))
        return MASK if is_secret(path, key, value) else value

    return map_strings(tree, hide)
