"""Presets: shareable configuration bundles (providers without their secrets, router,
transformers, Claude Code settings), as Claude Code Router has them.

A preset is a `.ccrsets` ZIP holding a flat `manifest.json`; installed, it is the directory
`<config dir>/presets/<name>/`. Export writes one (secrets replaced by `${VAR}` placeholders
and declared as inputs); install checks and unpacks one; apply fills its inputs; `ccr-aio
<name>` runs Claude Code with it (launch.py). Nothing here touches config.json unless a merge
is asked for (merge.py), and then through the config validator with a backup.

Every module here blocks (files, zip); the server calls them through `asyncio.to_thread`.
Errors are `PresetError`, an `ApiError`: the HTTP status comes with the message.
"""
