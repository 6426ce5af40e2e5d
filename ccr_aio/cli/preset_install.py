"""`ccr-aio preset install <file|url|name> [--name N] [--trust] [--strategy S]`.

Sources, in CCR's order: an http(s) URL is downloaded; a value with `/` or `\\` (or an
existing file) is read; a bare NAME is `./NAME.ccrsets`, else `presets/NAME.ccrsets`, else the
installed preset NAME, which is then reconfigured (its inputs asked again; `--trust` records
trust in its current settings). Every source goes through the same checks as the API.
On a terminal the inputs are asked (passwords without echo) before anything is written; without
one the preset is installed unconfigured and the command says how to finish. [FIX: CCR's URL
install always failed, `--name` was not parsed, and no input was ever asked.]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from ..presets import install as installing
from ..presets import fetch
from ..presets.inputs import effective_inputs
from ..presets.manifest import unfilled
from ..presets.merge import Ask, merge_into_file
from ..presets.store import ARCHIVE_SUFFIX, PresetError, is_installed, preset_dir, presets_root, read_manifest
from ..settings import Settings
from .commands import load
from .preset_prompts import ask_inputs, confirm, interactive


def read_source(source: str, settings: Settings) -> tuple[bytes, str | None]:
    """(the bytes, a name to fall back on) of a URL or a file."""
    if source.lower().startswith(("http://", "https://")):
        data = asyncio.run(fetch.download(source, proxy=settings.proxy_url))
        stem = source.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        return data, stem[: -len(ARCHIVE_SUFFIX)] if stem.endswith(ARCHIVE_SUFFIX) else None
    path = Path(source).expanduser()
    if not path.is_file():
        raise PresetError(404, f"Preset file not found: {source}")
    if path.stat().st_size > fetch.MAX_DOWNLOAD_BYTES:
        raise fetch.too_large()
    return path.read_bytes(), path.name[: -len(ARCHIVE_SUFFIX)] if path.name.endswith(ARCHIVE_SUFFIX) else None


def _locate(source: str, root: Path) -> str | None:
    """The file a bare name means, or None when it means the installed preset."""
    for candidate in (Path(f"{source}{ARCHIVE_SUFFIX}"), root / f"{source}{ARCHIVE_SUFFIX}"):
        if candidate.is_file():
            return str(candidate)
    if is_installed(root, source):
        return None
    raise PresetError(404, f"Preset '{source}' not found in current directory or presets directory.")


def install(args: argparse.Namespace) -> int:
    settings = load(args)
    root = presets_root(settings.home)
    source = args.source
    is_path = "://" in source or "/" in source or "\\" in source or os.path.isfile(source)
    located = source if is_path else _locate(source, root)
    if located is None:
        return _reconfigure(args, settings, root, source)
    data, fallback = read_source(located, settings)
    prepared = installing.prepare(data, args.name, fallback)
    if os.path.lexists(root / prepared.name):
        raise PresetError(409, f"Preset already installed: {prepared.name} (reconfigure it with "
                               f"`ccr-aio preset install {prepared.name}`, or give --name)")
    for warning in prepared.warnings:
        print(f"  ! {warning}", file=sys.stderr)
    trusted = args.trust or (bool(prepared.risks) and _confirm_risks(prepared.risks))
    if prepared.risks and not trusted:
        raise installing.trust_required(prepared.risks)
    secrets = ask_inputs(prepared.manifest) if interactive() and effective_inputs(prepared.manifest) else None
    result = installing.install(root, prepared, trusted=trusted, secrets=secrets)
    print(f"✓ Preset installed: {prepared.name} ({root / prepared.name})")
    manifest = read_manifest(preset_dir(root, prepared.name))
    return _finish(args, settings, prepared.name, manifest, result["preset"]["missing"])


def _confirm_risks(risks: list[str]) -> bool:
    print("This preset holds settings that run commands or widen permissions:", file=sys.stderr)
    for line in risks:
        print(f"  {line}", file=sys.stderr)
    return interactive() and confirm("Install it and allow these settings?")


def _reconfigure(args: argparse.Namespace, settings: Settings, root: Path, name: str) -> int:
    directory = preset_dir(root, name)
    if args.trust:
        risks = installing.trust_installed(root, name)
        if risks:
            print(f"✓ Trusted the Claude Code settings of {name}: {', '.join(r.split(' = ')[0] for r in risks)}")
    manifest = read_manifest(directory)
    if interactive() and effective_inputs(manifest):
        secrets = ask_inputs(manifest, reconfigure=True)
        if secrets:
            manifest = installing.apply(root, name, secrets)
    return _finish(args, settings, name, manifest, unfilled(manifest))


def _finish(args: argparse.Namespace, settings: Settings, name: str, manifest: dict[str, Any],
            missing: list[str]) -> int:
    if missing:
        print(f"Inputs still to fill: {', '.join(missing)}")
        print(f"Run: ccr-aio preset install {name}  (on a terminal; or set the ${{VARS}} it names)")
    else:
        print(f"✓ Preset configured. Run Claude Code with it: ccr-aio {name}")
    if not args.strategy:
        return 0
    return _merge(args, settings, manifest)


def _merge(args: argparse.Namespace, settings: Settings, manifest: dict[str, Any]) -> int:
    from .model import notify_server

    ask = _ask_callbacks() if args.strategy == "ask" and interactive() else None
    target = load(args, create=True).config_path
    backup = merge_into_file(target, manifest, args.strategy, ask, check=_checks(load(args)))
    print(f"✓ Merged into {target}" + (f" (backup {backup.name})" if backup else ""))
    return notify_server(load(args), args)


def _checks(running: Settings) -> Any:
    from ..routes.preset_merge import checked_snapshot  # imports every transformer: only when merging

    return lambda raw: checked_snapshot(raw, running, os.environ)


def _ask_callbacks() -> Ask:
    def provider(name: str) -> str:
        answer = input(f'Provider "{name}" exists: keep, overwrite, merge or skip? [skip] ').strip().lower()
        return answer if answer in ("keep", "overwrite", "merge", "skip") else "skip"

    return Ask(provider=provider,
               router=lambda key, old, new: confirm(f"Router.{key}: replace {old!r} by {new!r}?"),
               transformer=lambda path: confirm(f"Replace the transformer {path}?"),
               other=lambda key, old, new: confirm(f"Replace {key}?"))
