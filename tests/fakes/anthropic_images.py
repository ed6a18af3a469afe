"""Image content blocks, as the Anthropic stand-in checks them (what the real API answers 400).

Sources (looked up 2026-12-01):

- [VISION] Images and vision, https://platform.claude.com/docs/en/build-with-claude/vision
  ("Basics and Limits"): base64 sources take ``image/jpeg``, ``image/png``, ``image/gif`` or
  ``image/webp``; "If you submit an image larger than 8000x8000 px, it will be rejected";
  at most 100 images in an API request (2000x2000 px each above 20).
- [5MB] the API's text for an image over 5 MB: "messages.N.content.M.image.source.base64:
  image exceeds 5 MB maximum: 6418576 bytes > 5242880 bytes" (quoted in
  anthropics/claude-code#11181 and #2104, earendil-works/pi#824). The path names the base64
  source; the fake measures the base64 text, the stricter reading.
- [TYPE] "messages.36.content.2.image.source.base64.media_type: Input should be 'image/jpeg',
  'image/png', 'image/gif' or 'image/webp'" (anthropics/claude-code#8184).
- [MATCH] bytes of another type than declared: "messages.N.content.M.image.source.base64.data:
  Image does not match the provided media type image/png" (anthropics/claude-code#13131,
  #12064).
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any

MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
MAX_BASE64 = 5_242_880  # [5MB]
MAX_SIDE = 8000  # [VISION]
MAX_IMAGES = 100  # [VISION]


def _kind(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _sides(data: bytes, kind: str) -> tuple[int, int] | None:
    if kind == "image/png" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])  # type: ignore[return-value]
    if kind == "image/gif" and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])  # type: ignore[return-value]
    return None


def image_problem(messages: list[dict[str, Any]]) -> str | None:
    """The first image block the API would refuse, or None."""
    count = 0
    for i, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for j, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") != "image":
                continue
            count += 1
            where = f"messages.{i}.content.{j}.image.source"
            source = block.get("source") or {}
            if source.get("type") != "base64":
                continue  # url / file sources: not used by FlowPilot
            media_type = source.get("media_type")
            if media_type not in MEDIA_TYPES:  # [TYPE]
                return (f"{where}.base64.media_type: Input should be 'image/jpeg', 'image/png', "
                        "'image/gif' or 'image/webp'")
            text = str(source.get("data") or "")
            if len(text) > MAX_BASE64:  # [5MB]
                return (f"{where}.base64: image exceeds 5 MB maximum: {len(text)} bytes > "
                        f"{MAX_BASE64} bytes")
            try:
                data = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                return f"{where}.base64.data: Invalid base64 data (wording ours)"
            if _kind(data) != media_type:  # [MATCH]
                return (f"{where}.base64.data: Image does not match the provided media type "
                        f"{media_type}")
            sides = _sides(data, media_type)
            if sides is not None and max(sides) > MAX_SIDE:  # [VISION] (wording ours)
                return (f"{where}.base64: image dimensions exceed max allowed size: "
                        f"{MAX_SIDE} pixels")
    if count > MAX_IMAGES:  # [VISION] (wording ours)
        return f"Too many images: at most {MAX_IMAGES} images per request (got {count})."
    return None
