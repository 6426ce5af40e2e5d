"""Building preset archives for tests, hostile ones included."""

from __future__ import annotations

import io
import json
import stat
import struct
import warnings
import zipfile
import zlib
from typing import Any

GIB = 1 << 30


def manifest(name: str = "demo", **extra: Any) -> dict[str, Any]:
    """A configurable preset whose one provider speaks Anthropic Messages."""
    return {"name": name, "version": "1.0.0", "description": "a test preset", "author": "tests",
            "Providers": [{"name": "direct", "api_base_url": "http://127.0.0.1:9/v1/messages",
                           "api_key": "{{apiKey}}", "models": ["m"]}],
            "Router": {"default": "direct,m"}, "noServer": True,
            "schema": [{"id": "apiKey", "type": "password", "label": "API Key", "required": True}],
            "configMappings": [{"target": "Providers[0].api_key", "value": "{{apiKey}}"}], **extra}


def zip_bytes(entries: list[tuple[str, bytes | str]], *, symlinks: tuple[str, ...] = ()) -> bytes:
    """A ZIP with these entries as written (names are not cleaned up); `symlinks` are stored
    with the symlink mode, as `zip -y` does."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names on purpose
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries:
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                mode = (stat.S_IFLNK | 0o777) if name in symlinks else (stat.S_IFREG | 0o644)
                info.external_attr = mode << 16
                zf.writestr(info, data)
    return buffer.getvalue()


def preset_zip(data: dict[str, Any] | None = None, *extra: tuple[str, bytes | str]) -> bytes:
    return zip_bytes([("manifest.json", json.dumps(data or manifest())), *extra])


def zero_bomb(size: int = GIB) -> bytes:
    """A ZIP holding manifest.json and `size` zero bytes as one deflated entry (about 1 MB per
    GB packed), written by hand: repeating one full-flushed deflate block takes milliseconds
    where compressing a GB takes seconds. The header sizes and CRC are the real ones."""
    chunk = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    packed = block * (size // len(chunk)) + deflate.flush()
    crc = 0
    for _ in range(size // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    head = json.dumps(manifest()).encode()
    files = [(b"manifest.json", zlib.crc32(head), len(head), len(head), 0, head),
             (b"zeros.bin", crc, len(packed), size, 8, packed)]
    out, central = bytearray(), bytearray()
    for name, file_crc, packed_size, real_size, method, body in files:
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, file_crc, packed_size, real_size,
                           len(name), 0) + name + body
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, 0, method, 0, 0, file_crc,
                               packed_size, real_size, len(name), 0, 0, 0, 0, (stat.S_IFREG | 0o644) << 16,
                               offset) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(files), len(files), len(central), len(out), 0)
    return bytes(out + central + end)
