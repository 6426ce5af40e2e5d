"""/api/presets: CCR's preset endpoints, and export (for a download button).

- GET /api/presets -> {"presets": [{id, name, version, ..., installed, needsConfiguration}]}, by id
- GET /api/presets/{name} -> {id, metadata, config, schema?, template?, configMappings?,
  requiredInputs?, inputs, needsConfiguration, missing, warnings}; secrets masked
- POST /api/presets/install {url, name?, trust?, secrets?, dryRun?} -> {success, presetName,
  preset}; dryRun installs nothing and adds inputs, risks, exists
- POST /api/presets/upload: multipart, one file part and the fields name, trust, secrets (JSON),
  dryRun in any order -> as install
- POST /api/presets/install/github {repo, ref?, name?, trust?, secrets?, dryRun?} -> as install
- POST /api/presets/{name}/apply {secrets, merge?: overwrite|merge|skip} -> {success, message,
  needsConfiguration, missing, merged?, backup?, warnings?}
- DELETE /api/presets/{name} -> {success, message}
- POST /api/presets/export {name, description?, author?, keywords?, format?: zip|json} -> the
  .ccrsets file (or {manifest, sanitizedCount, warnings})
- GET /api/presets/market -> 501: no market offline

Errors are the usual envelope: 400 bad input or archive, 404 missing preset, 409 already
installed, 413 too large, 502 a download that failed. Blocking work runs in threads. Secrets
(the `secrets` field) are never logged.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import structlog
from aiohttp import BodyPartReader, web

from ..config_store import read_raw
from ..errors import ApiError
from ..presets import export as exporting
from ..presets import install as installing
from ..presets import validate
from ..presets import fetch
from ..presets.manifest import detail, summary, unfilled
from ..presets.merge import merge_into_file
from ..presets.store import ARCHIVE_SUFFIX, PresetError, preset_dir, presets_root, read_manifest
from ..settings import ConfigError
from ..state import STATE
from .admin import ADMIN
from .admin import apply as swap_in
from .preset_merge import checked_snapshot
from .json_body import read_json_object

routes = web.RouteTableDef()
log = structlog.get_logger("ccr_aio.presets")
MAX_FIELD_BYTES = 1024 * 1024
MERGE_STRATEGIES = ("overwrite", "merge", "skip")


def _root(request: web.Request) -> Path:
    return presets_root(request.app[STATE].current.settings.home)


@routes.get("/api/presets")
async def list_presets(request: web.Request) -> web.Response:
    found = await asyncio.to_thread(installing.read_all, _root(request))
    presets = []
    for name, manifest in found:
        if isinstance(manifest, PresetError):
            log.warning("preset_unreadable", preset=name, error=manifest.message)
        else:
            presets.append(summary(manifest, name))
    return web.json_response({"presets": presets})


@routes.get("/api/presets/market")
async def market(request: web.Request) -> web.Response:
    raise ApiError(501, "The preset market is not available offline: install a preset from a file "
                        "(POST /api/presets/upload) or an http(s) URL (POST /api/presets/install)")


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, f'"{key}" must be a string')
    return value


def _options(body: dict[str, Any]) -> tuple[bool, dict[str, Any] | None, bool]:
    """(trust, secrets, dryRun) from an install body."""
    secrets = body.get("secrets")
    if secrets is not None and not isinstance(secrets, dict):
        raise ApiError(400, '"secrets" must be an object of input ids (or field paths) to values')
    return body.get("trust") is True, secrets or None, body.get("dryRun") is True


async def _install(request: web.Request, data: bytes, body: dict[str, Any], fallback: str | None) -> web.Response:
    trusted, secrets, dry_run = _options(body)
    root = _root(request)
    prepared = await asyncio.to_thread(installing.prepare, data, _text(body, "name"), fallback)
    if dry_run:
        return web.json_response(await asyncio.to_thread(installing.preview, root, prepared))
    result = await asyncio.to_thread(installing.install, root, prepared, trusted=trusted, secrets=secrets)
    log.info("preset_installed", preset=prepared.name, trusted=bool(prepared.risks) and trusted,
             configured=not result["preset"]["needsConfiguration"])
    return web.json_response(result)


def _proxy(request: web.Request) -> str | None:
    return request.app[STATE].current.settings.proxy_url


@routes.post("/api/presets/install")
async def install_from_url(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    url = _text(body, "url")
    if url is None:
        raise ApiError(400, "Please provide a URL or upload a file")
    data = await fetch.download(url, proxy=_proxy(request))
    stem = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return await _install(request, data, body, stem[: -len(ARCHIVE_SUFFIX)] if stem.endswith(ARCHIVE_SUFFIX) else None)


@routes.post("/api/presets/install/github")
async def install_from_github(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    if not body.get("repo"):
        raise ApiError(400, "Repository URL is required")
    url, repo = fetch.github_archive_url(body.get("repo"), body.get("ref"))
    return await _install(request, await fetch.download(url, proxy=_proxy(request)), body, repo)


@routes.post("/api/presets/upload")
async def upload(request: web.Request) -> web.Response:
    if not request.content_type.startswith("multipart/"):
        raise ApiError(400, "Send the preset as multipart/form-data: a file part, and optional "
                            "name, trust, secrets (JSON) and dryRun fields")
    reader = await request.multipart()
    data: bytes | None = None
    filename: str | None = None
    fields: dict[str, str] = {}
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise ApiError(400, "Nested multipart bodies are not accepted")
        if part.filename is not None:
            if data is not None:
                raise ApiError(400, "Upload one preset file at a time")
            data, filename = await _read_part(part, fetch.MAX_DOWNLOAD_BYTES, fetch.too_large()), part.filename
        elif part.name:
            too_long = ApiError(413, f"The field {part.name!r} is over {MAX_FIELD_BYTES // 1024} KB")
            fields[part.name] = (await _read_part(part, MAX_FIELD_BYTES, too_long)).decode("utf-8", "replace")
    if data is None:
        raise ApiError(400, "No file uploaded")
    yes = ("true", "1", "yes", "on")
    body: dict[str, Any] = {"name": fields.get("name"), "trust": fields.get("trust", "").lower() in yes,
                            "dryRun": fields.get("dryRun", "").lower() in yes}
    if fields.get("secrets"):
        try:
            body["secrets"] = json.loads(fields["secrets"])
        except ValueError:
            raise ApiError(400, 'The "secrets" field must be a JSON object') from None
    stem = (filename or "").rsplit("/", 1)[-1]
    return await _install(request, data, body, stem[: -len(ARCHIVE_SUFFIX)] if stem.endswith(ARCHIVE_SUFFIX) else None)


async def _read_part(part: BodyPartReader, limit: int, too_large: ApiError) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise too_large
    return bytes(data)


@routes.post("/api/presets/export")
async def export_config(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    settings = request.app[STATE].current.settings
    try:
        raw = await asyncio.to_thread(read_raw, settings.config_path)
    except FileNotFoundError:
        raw = settings.raw
    except ConfigError as exc:
        raise ApiError(500, f"The config file does not parse: {exc}") from None
    name = _text(body, "name")
    if name is None:
        raise ApiError(400, "Preset name is required")
    keywords = body.get("keywords", body.get("tags"))
    exported = exporting.build(raw, name, description=_text(body, "description") or "",
                               author=_text(body, "author") or "",
                               tags=keywords if isinstance(keywords, (str, list)) else None)
    if body.get("format") == "json":
        return web.json_response({"manifest": exported.manifest, "sanitizedCount": exported.sanitized,
                                  "warnings": exported.warnings})
    return web.Response(body=exporting.archive_bytes(exported.manifest), content_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}{ARCHIVE_SUFFIX}"',
        "X-Preset-Sanitized-Count": str(exported.sanitized),
        "X-Preset-Warnings": json.dumps(exported.warnings)})


@routes.get("/api/presets/{name}")
async def get_preset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    directory = preset_dir(_root(request), name)
    manifest = await asyncio.to_thread(read_manifest, directory)
    return web.json_response(detail(manifest, name, validate.warnings(manifest)))


@routes.post("/api/presets/{name}/apply")
async def apply_inputs(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    preset_dir(_root(request), name)  # a bad name is a 400 before the body matters
    body = await read_json_object(request)
    strategy = body.get("merge")
    if strategy is not None and strategy not in MERGE_STRATEGIES:
        raise ApiError(400, f'"merge" must be one of {", ".join(MERGE_STRATEGIES)}')
    secrets = body.get("secrets", {} if strategy else None)
    if not isinstance(secrets, dict):
        raise ApiError(400, '"secrets" must be an object of input ids (or field paths) to values')
    manifest = await asyncio.to_thread(installing.apply, _root(request), name, secrets)
    missing = unfilled(manifest)
    answer: dict[str, Any] = {"success": True, "message": "Preset applied successfully",
                              "needsConfiguration": bool(missing), "missing": missing}
    if strategy:
        backup, notes = await _merge(request, manifest, strategy)
        answer.update(merged=True, backup=backup.name if backup else None, warnings=notes)
    log.info("preset_applied", preset=name, inputs=len(secrets), merge=strategy)
    return web.json_response(answer)


async def _merge(request: web.Request, manifest: dict[str, Any], strategy: str) -> tuple[Path | None, list[str]]:
    """Merge into config.json like a save: checked and built first (preset_merge.py), backed
    up, replaced atomically, and applied to the running server at once; (backup, notes)."""
    app, admin = request.app, request.app[ADMIN]
    running = app[STATE].current.settings
    built = []

    def check(raw: dict[str, Any]) -> None:
        built.append(checked_snapshot(raw, running, admin.env, admin.overrides))

    async with admin.lock:
        backup = await asyncio.to_thread(merge_into_file, running.config_path, manifest, strategy, None, check)
        notes = await swap_in(app, built[-1])
    admin.tell_others()  # with several workers: they all run the merged config
    log.info("preset_merged", config=str(running.config_path), strategy=strategy,
             backup=str(backup) if backup else None)
    return backup, notes


@routes.delete("/api/presets/{name}")
async def delete_preset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    await asyncio.to_thread(installing.delete, _root(request), name)
    log.info("preset_deleted", preset=name)
    return web.json_response({"success": True, "message": "Preset deleted successfully"})
