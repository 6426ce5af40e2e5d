"""`ccr-aio preset export|install|list|info|delete` (install: preset_install.py; running a
preset: preset_run.py).

[FIX] over CCR's CLI: every name is checked (`delete ..` removed the config dir); errors exit 1
(export's exited 0); `delete` of a missing preset says so; nothing prompts without a terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ..config_store import read_raw
from ..presets import export as exporting
from ..presets import validate
from ..presets.archive import open_archive
from ..presets.install import delete as delete_preset
from ..presets.install import read_all
from ..presets.manifest import summary, unfilled
from ..presets.store import (
    ARCHIVE_SUFFIX, PresetError, check_name, ensure_root, preset_dir, presets_root, read_manifest,
)
from ..settings import ConfigError
from .commands import load
from .preset_install import install, read_source
from .preset_prompts import interactive

USAGE = """usage: ccr-aio preset <command> [options]

commands:
  export <name> [--output FILE] [--description TEXT] [--author NAME] [--tags a,b]
                [--include-sensitive] [--keep-local]
                    write the current config as a preset (.ccrsets), secrets replaced by ${VARS}
  install <file|url|name> [--name NAME] [--trust] [--strategy overwrite|merge|skip|ask]
                    install a preset (a .ccrsets file, an http(s) URL, or ./NAME.ccrsets) and
                    ask for its inputs; for an installed NAME, ask again (reconfigure);
                    --strategy also merges it into config.json (backup first)
  list              the installed presets
  info <name|file|url>
                    what a preset holds: providers, inputs, Claude Code settings
  delete <name>     remove an installed preset (also: rm, remove)

run Claude Code with a preset:  ccr-aio <name> [claude args]"""
ALIASES = {"rm": "delete", "remove": "delete"}
Common = Callable[..., argparse.ArgumentParser]


def _parser(sub: str, common: Common) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"ccr-aio preset {sub}", parents=[common(nested=True)])
    if sub == "export":
        parser.add_argument("name", nargs="?")
        parser.add_argument("--output", help="the file to write (default: presets/NAME.ccrsets)")
        parser.add_argument("--description")
        parser.add_argument("--author")
        parser.add_argument("--tags", help="keywords, separated by commas")
        parser.add_argument("--include-sensitive", action="store_true",
                            help="keep the secrets in the file (do not share it)")
        parser.add_argument("--keep-local", action="store_true",
                            help="also export PORT, HOST, APIKEY, LOG, LOG_LEVEL, CUSTOM_ROUTER_PATH")
    elif sub == "install":
        parser.add_argument("source", nargs="?")
        parser.add_argument("--name", help="install under this name (default: the manifest's)")
        parser.add_argument("--trust", action="store_true",
                            help="allow the Claude Code settings that run commands (read them first: `info`)")
        parser.add_argument("--strategy", choices=("ask", "overwrite", "merge", "skip"),
                            help="also merge the preset into config.json")
    elif sub in ("info", "delete"):
        parser.add_argument("name", nargs="?")
    return parser


def preset_command(args: argparse.Namespace, argv: list[str], common: Common) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 1
    sub = ALIASES.get(argv[0], argv[0])
    handler = HANDLERS.get(sub)
    if handler is None:
        print(f'Error: Unknown preset command "{argv[0]}"\n\n{USAGE}', file=sys.stderr)
        return 1
    parsed = _parser(sub, common).parse_args(argv[1:], namespace=argparse.Namespace(**vars(args)))
    missing = {"install": ("source", "Preset source is required")}.get(sub, ("name", "Preset name is required"))
    if sub != "list" and not getattr(parsed, missing[0]):
        print(f"Error: {missing[1]}", file=sys.stderr)
        return 1
    try:
        return handler(parsed)
    except PresetError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


def _ask(label: str, given: str | None) -> str:
    if given is not None or not interactive():
        return given or ""
    try:
        return input(f"{label} (optional): ").strip()
    except EOFError:
        return ""


def export_command(args: argparse.Namespace) -> int:
    name = check_name(args.name)
    settings = load(args)
    if not settings.config_path.exists():
        raise PresetError(400, f"{settings.config_path} does not exist: nothing to export")
    raw = read_raw(settings.config_path)
    exported = exporting.build(raw, name, description=_ask("Description", args.description),
                               author=_ask("Author", args.author),
                               tags=_ask("Keywords, separated by commas", args.tags),
                               include_sensitive=args.include_sensitive, keep_local=args.keep_local)
    if args.output:
        output = Path(args.output).expanduser()
        if not output.parent.is_dir():
            raise PresetError(400, f"{output.parent} does not exist")
    else:
        root = presets_root(settings.home)
        ensure_root(root)
        output = root / f"{name}{ARCHIVE_SUFFIX}"
    exporting.write_archive(output, exported.manifest)
    manifest = exported.manifest
    print("✓ Preset exported successfully")
    print(f"  Location: {output}")
    print(f"  Providers: {len(manifest.get('Providers') or [])}")
    print(f"  Router rules: {len(manifest.get('Router') or {})}")
    print(f"  Sensitive fields sanitized: {exported.sanitized}")
    for warning in exported.warnings:
        print(f"  ! {warning}", file=sys.stderr)
    inputs = [s["id"] for s in manifest.get("schema") or []]
    if inputs:
        print(f"  Inputs asked on install: {', '.join(inputs)}")
    print(f"Share it: ccr-aio preset install {output.name}  (or any http(s) URL to it)")
    return 0


def list_command(args: argparse.Namespace) -> int:
    root = presets_root(load(args).home)
    if not root.is_dir():
        print("No presets directory found.\nCreate your first preset with: ccr-aio preset export <name>")
        return 0
    found = read_all(root)
    if not found:
        print("No presets found.\nInstall a preset with: ccr-aio preset install <file>")
        return 0
    print("Available presets:")
    for name, manifest in found:
        if isinstance(manifest, PresetError):
            print(f"  • {name} (Error reading preset)")
            continue
        entry = summary(manifest, name)
        version = f" (v{manifest['version']})" if manifest.get("version") else ""
        unconfigured = f"  [needs configuring: ccr-aio preset install {name}]" if entry["needsConfiguration"] else ""
        print(f"  • {name}{version}{unconfigured}")
        if manifest.get("description"):
            print(f"    {manifest['description']}")
        if manifest.get("author"):
            print(f"    by {manifest['author']}")
    return 0


def info_command(args: argparse.Namespace) -> int:
    source = args.name
    if "/" in source or "\\" in source or source.endswith(ARCHIVE_SUFFIX):
        manifest = open_archive(read_source(source, load(args))[0]).manifest
    else:
        manifest = read_manifest(preset_dir(presets_root(load(args).home), source))
    for label, key in (("Preset", "name"), ("Version", "version"), ("Description", "description"),
                       ("Author", "author")):
        if manifest.get(key):
            print(f"{label}: {manifest[key]}")
    if manifest.get("keywords"):
        print(f"Keywords: {', '.join(map(str, manifest['keywords']))}")
    print("Configuration:")
    print(f"  Providers: {len(manifest.get('Providers') or [])}")
    print(f"  Router rules: {len(manifest.get('Router') or {})}")
    if manifest.get("requiredInputs"):
        print("Required inputs:")
        for item in manifest["requiredInputs"]:
            if isinstance(item, dict):
                print(f"  - {item.get('field')} ({item.get('placeholder') or item.get('field')})")
    if manifest.get("schema"):
        print("Inputs:")
        for spec in manifest["schema"]:
            if isinstance(spec, dict):
                optional = "" if spec.get("required", True) is not False else ", optional"
                print(f"  - {spec.get('id')} ({spec.get('type') or 'password'}{optional}): {spec.get('label') or ''}")
    settings = manifest.get("claudeCodeSettings")
    if isinstance(settings, dict) and settings:
        print(f"Claude Code settings: {', '.join(settings)}")
    for warning in validate.warnings(manifest):
        print(f"  ! {warning}")
    missing = unfilled(manifest)
    if missing:
        print(f"Needs configuring: {', '.join(missing)}")
    return 0


def delete_command(args: argparse.Namespace) -> int:
    try:
        delete_preset(presets_root(load(args).home), args.name)
    except PresetError as exc:
        if exc.status == 404:
            raise PresetError(404, f'Preset "{args.name}" not found.') from None
        raise
    print(f'✓ Preset "{args.name}" deleted.')
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "export": export_command, "install": install, "list": list_command, "info": info_command,
    "delete": delete_command,
}
