"""Install, apply and delete installed presets; the steps the API and the CLI share.

Install, in order: the archive is checked (archive.py), the manifest validated (400 with
every error), the name derived (given, else the manifest's, else `preset-<ms>`) and checked,
risky Claude Code settings need `trust`, inputs given with the install are applied; then the
preset is unpacked into `presets/.tmp-<random>/` and renamed into place, so a failure leaves
nothing behind and a half-written preset never shows [FIX: CCR extracted in place, validated
afterwards and kept what failed].
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import trust, validate
from .archive import Archive, extract, open_archive
from .manifest import input_views, unfilled
from .parts import METADATA_KEYS
from .render import apply_inputs
from .store import PresetError, check_name, installed_names, locked, preset_dir, read_manifest, write_manifest


@dataclass
class Prepared:
    """A checked archive with the name it installs under."""

    archive: Archive
    name: str
    warnings: list[str] = field(default_factory=list)

    @property
    def manifest(self) -> dict[str, Any]:
        return self.archive.manifest

    @property
    def risks(self) -> list[str]:
        return validate.risks(self.manifest)


def prepare(data: bytes, name: str | None = None, fallback: str | None = None) -> Prepared:
    """Check the bytes and the manifest, and settle the name; nothing is written."""
    archive = open_archive(data)
    problems = validate.errors(archive.manifest)
    if problems:
        raise PresetError(400, "Invalid preset file: " + "; ".join(problems))
    if name:
        chosen, origin = name, ""
    elif archive.manifest.get("name"):
        chosen, origin = archive.manifest["name"], " (from the manifest; give another name)"
    else:
        chosen, origin = fallback or f"preset-{int(time.time() * 1000)}", ""
    check_name(chosen, origin)
    return Prepared(archive, chosen, validate.warnings(archive.manifest))


def trust_required(risks: list[str]) -> PresetError:
    return PresetError(400, "Trust required: this preset holds settings that run commands or widen "
                            "permissions: " + "; ".join(risks)
                            + '. Install it with "trust": true (CLI: --trust) once you have read them.')


def install(root: Path, prepared: Prepared, *, trusted: bool = False,
            secrets: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Install; the answer of POST /api/presets/install."""
    if prepared.risks and not trusted:
        raise trust_required(prepared.risks)
    manifest = apply_inputs(prepared.manifest, secrets) if secrets else prepared.manifest
    with locked(root):
        target = preset_dir(root, prepared.name)
        if os.path.lexists(target):
            raise PresetError(409, "Preset already installed")
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
        try:
            try:
                extract(prepared.archive, staging)
            except OSError as exc:
                raise PresetError(400, f"Invalid preset file: cannot unpack it: {exc.strerror or exc}") from None
            write_manifest(staging, manifest)
            if prepared.risks:
                trust.record(staging, manifest)
            os.rename(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return {"success": True, "presetName": prepared.name, "preset": public_view(manifest, prepared.warnings)}


def preview(root: Path, prepared: Prepared) -> dict[str, Any]:
    """What an install would do (`dryRun`): the inputs to ask, the risks, the warnings."""
    view = public_view(prepared.manifest, prepared.warnings, installed=False)
    return {"success": True, "dryRun": True, "presetName": prepared.name, "preset": view,
            "exists": os.path.lexists(Path(root) / prepared.name), "inputs": input_views(prepared.manifest),
            "risks": prepared.risks}


def public_view(manifest: Mapping[str, Any], warnings: list[str], installed: bool = True) -> dict[str, Any]:
    """CCR's `preset` in an install answer: the metadata keys, installed, and more [FIX]."""
    view = {k: manifest[k] for k in METADATA_KEYS if k in manifest}
    missing = unfilled(manifest)
    view.update(installed=installed, needsConfiguration=bool(missing), missing=missing, warnings=warnings)
    return view


def apply(root: Path, name: str, secrets: Mapping[str, Any]) -> dict[str, Any]:
    """Fill inputs of an installed preset; the new manifest, written atomically (0600)."""
    directory = preset_dir(root, name)  # a bad name touches nothing, not even the lock
    with locked(root):
        manifest = apply_inputs(read_manifest(directory), secrets)
        write_manifest(directory, manifest)
    return manifest


def trust_installed(root: Path, name: str) -> list[str]:
    """Record the user's trust in an installed preset's current settings; what they were."""
    directory = preset_dir(root, name)
    with locked(root):
        manifest = read_manifest(directory)
        trust.record(directory, manifest)
    return validate.risks(manifest)


def delete(root: Path, name: str) -> None:
    """Remove the preset's directory, and only it: a symlink is unlinked, never followed;
    the name is checked first (CCR's `DELETE /api/presets/%2E%2E` removed the config dir)."""
    target = preset_dir(root, name)
    if not os.path.lexists(target):
        raise PresetError(404, "Preset not found")
    with locked(root):
        if target.is_symlink():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        else:
            raise PresetError(404, "Preset not found")


def read_all(root: Path) -> list[tuple[str, dict[str, Any] | PresetError]]:
    """(id, manifest or why it cannot be read) for every installed preset, by id."""
    found: list[tuple[str, dict[str, Any] | PresetError]] = []
    for name in installed_names(root):
        try:
            found.append((name, read_manifest(preset_dir(root, name))))
        except PresetError as exc:
            found.append((name, exc))
    return found
