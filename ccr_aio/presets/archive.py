"""Reading a `.ccrsets` ZIP that may come from anyone: every entry is checked before a byte is
written, and extraction writes only regular files inside the target directory.

[FIX] Refused (400): absolute names, drive letters, backslashes, NUL, `..` segments, duplicate
names, symlinks and other special entries, encrypted entries, more than 1 000 entries, more
than 100 MB unpacked, an entry packed more than 100:1 (a bomb), a manifest over 1 MB (CCR's
adm-zip rewrote `../` instead of refusing it and had no limits). The manifest is the root
`manifest.json`, or `<top>/manifest.json` when every entry sits in one top-level folder (a
GitHub archive), that folder then stripped. A body starting with `{` is a bare JSON5 manifest.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..private_files import DIR_MODE, FILE_MODE
from .store import MANIFEST, MAX_MANIFEST_BYTES, TRUST_FILE, PresetError, parse_manifest

MAX_ENTRIES = 1000
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_RATIO = 100
RATIO_FLOOR = 64 * 1024  # below this size a high ratio is just a repetitive small file
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass
class Archive:
    """A checked archive: its manifest and the other entries to extract (paths relative to
    the preset directory; a trailing `/` marks a directory)."""

    manifest: dict[str, Any]
    zip: zipfile.ZipFile | None = None
    entries: dict[str, zipfile.ZipInfo] = field(default_factory=dict)


def invalid(reason: str) -> PresetError:
    return PresetError(400, f"Invalid preset file: {reason}"[:400])


def open_archive(data: bytes) -> Archive:
    if not data.startswith(b"PK") and data.lstrip()[:1] in (b"{", b"/"):
        return Archive(parse_manifest(data))  # a bare manifest (JSON5 may start with a comment)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise PresetError(400, "Invalid preset file: not a ZIP archive (.ccrsets) or a JSON manifest") from None
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise invalid(f"more than {MAX_ENTRIES} entries")
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = _checked_name(info)
        key = name.rstrip("/")
        if key in seen:
            raise invalid(f"the entry {name!r} appears twice")
        seen.add(key)
        total += info.file_size
        if total > MAX_UNPACKED_BYTES:
            raise invalid(f"it unpacks to more than {MAX_UNPACKED_BYTES // (1024 * 1024)} MB")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise invalid(f"the entry {name!r} is packed more than {MAX_RATIO}:1")
    prefix = _manifest_prefix([i.filename for i in infos])
    manifest_info = zf.getinfo(prefix + MANIFEST)
    manifest = parse_manifest(_read(zf, manifest_info, MAX_MANIFEST_BYTES), MANIFEST)
    entries = {}
    for info in infos:
        relative = info.filename[len(prefix):]
        if relative in ("", MANIFEST):
            continue
        if relative.rstrip("/") == TRUST_FILE:
            raise invalid(f"{TRUST_FILE} is a name ccr-aio keeps for itself")
        entries[relative] = info
    return Archive(manifest, zf, entries)


def _checked_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if not name or "\x00" in name or "\\" in name or name.startswith("/") or _DRIVE.match(name):
        raise invalid(f"the entry name {name!r} is not a relative path")
    parts = PurePosixPath(name.rstrip("/")).parts
    if any(part in ("..", ".") for part in name.rstrip("/").split("/")) or not parts:
        raise invalid(f"the entry name {name!r} leaves the preset directory")
    if info.flag_bits & 0x1:
        raise invalid(f"the entry {name!r} is encrypted")
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        what = "a symlink" if stat.S_ISLNK(mode) else "not a regular file"
        raise invalid(f"the entry {name!r} is {what}")
    return name


def _manifest_prefix(names: list[str]) -> str:
    if MANIFEST in names:
        return ""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names if n.rstrip("/") != next(iter(tops))):
        prefix = next(iter(tops)) + "/"
        if prefix + MANIFEST in names:
            return prefix
    raise PresetError(400, "Invalid preset file: manifest.json not found")


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The entry's bytes, at most `limit` of them (the header's size may lie)."""
    if info.file_size > limit:
        raise invalid(f"{info.filename} is over {limit // 1024} KB")
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise invalid(f"cannot read {info.filename}: {exc}") from None
    if len(data) > limit:
        raise invalid(f"{info.filename} is over {limit // 1024} KB")
    return data


def extract(archive: Archive, target: Path) -> None:
    """Write the non-manifest entries under `target` (an empty directory of ours): dirs 0700,
    files 0600, created fresh (never through an existing file or link)."""
    if archive.zip is None:
        return
    budget = MAX_UNPACKED_BYTES
    root = os.path.abspath(target)
    for relative, info in sorted(archive.entries.items()):
        path = os.path.abspath(os.path.join(root, relative))
        if os.path.commonpath([root, path]) != root or path == root:
            raise invalid(f"the entry {info.filename!r} leaves the preset directory")
        if relative.endswith("/"):
            os.makedirs(path, mode=DIR_MODE, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(path), mode=DIR_MODE, exist_ok=True)
        data = _read(archive.zip, info, min(budget, MAX_UNPACKED_BYTES))
        budget -= len(data)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
