"""Image URLs in unified `image_url` parts."""

from __future__ import annotations

# Leading base64 characters of common image formats, for raw data without a media type.
_MAGIC = (("iVBORw0KGgo", "image/png"), ("/9j/", "image/jpeg"), ("R0lGOD", "image/gif"), ("UklGR", "image/webp"))


def data_url(url: str, media_type: str | None) -> str:
    """`url` as an http(s) or data URL: only raw base64 gets the `data:<type>;base64,` prefix
    (the reference prefixed data URLs a second time [FIX])."""
    if url.startswith(("http://", "https://", "data:")):
        return url
    if not media_type:
        media_type = next((kind for magic, kind in _MAGIC if url.startswith(magic)), "image/png")
    return f"data:{media_type};base64,{url}"
