"""Files shared with a session (issue 18): which are text, which are images, what they weigh,
and what a session's intake type becomes. Pure: bytes and names in, decisions out.

Limits (decided here, told to people in one line when they bite):

- a file whose declared size is over ``MAX_FILE_BYTES`` (10 MB) is refused before any
  download (Slack's event and ``files.info`` give the size);
- a text file is read up to ``MAX_TEXT_BYTES`` (1 MB, the download stream is cut there), and
  of the text, like a pasted log, the first 60,000 characters are kept (``MAX_LOG_CHARS`` in
  bot/services/sessions.py);
- an image goes to Claude only as JPEG, PNG, GIF or WebP (sniffed from its bytes, not its
  name), at most ``MAX_IMAGE_BYTES`` (3.75 MB, so its base64 stays under the API's 5 MB per
  image whichever of the two it measures) and 8000 px a side (the API refuses larger:
  platform.claude.com/docs/en/build-with-claude/vision, "Basics and Limits"; the 5 MB from the
  API's own error, "image exceeds 5 MB maximum: … bytes > 5242880 bytes", quoted in
  anthropics/claude-code#11181).
"""

from __future__ import annotations

import codecs
import struct

MAX_FILES = 5  # per message; more are named as not read
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_TEXT_BYTES = 1024 * 1024
MAX_IMAGE_BYTES = 5 * 1024 * 1024 * 3 // 4  # 3,932,160: base64 of it is 5,242,880
MAX_IMAGE_SIDE = 8000
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")

TEXT_EXTENSIONS = frozenset({
    "txt", "log", "csv", "tsv", "json", "xml", "yaml", "yml", "ini", "cfg", "conf", "md",
    "ps1", "psm1", "bat", "cmd", "sh", "py", "reg", "html", "htm", "out", "err", "trace",
})
TEXT_FILETYPES = frozenset({"text", "csv", "json", "xml", "yaml", "powershell", "shell",
                            "python", "markdown", "html", "post", "javascript", "ini"})
TEXT_MIMETYPES = ("application/json", "application/xml", "application/x-yaml",
                  "application/csv", "application/x-sh", "application/x-powershell")
IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "webp", "bmp", "heic", "tif",
                              "tiff"})


def kind_of(name: str, mimetype: str, filetype: str = "") -> str:
    """``image``, ``text`` or ``other``, from what Slack says of the file (confirmed later
    from the bytes: a binary file named .log is refused once read)."""
    mimetype = (mimetype or "").lower().split(";")[0].strip()
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if mimetype.startswith("image/") or ext in IMAGE_EXTENSIONS:
        return "image"
    if mimetype.startswith("text/") or mimetype in TEXT_MIMETYPES:
        return "text"
    if ext in TEXT_EXTENSIONS or (filetype or "").lower() in TEXT_FILETYPES:
        return "text"
    return "other"


def sniff_image(data: bytes) -> str | None:
    """The media type the bytes really are (of the four Claude takes), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_size(data: bytes, media_type: str) -> tuple[int, int] | None:
    """(width, height) from the image header, or None when it cannot be read."""
    try:
        if media_type == "image/png" and len(data) >= 24:
            w, h = struct.unpack(">II", data[16:24])
            return int(w), int(h)
        if media_type == "image/gif" and len(data) >= 10:
            w, h = struct.unpack("<HH", data[6:10])
            return int(w), int(h)
        if media_type == "image/jpeg":
            return _jpeg_size(data)
        if media_type == "image/webp" and data[12:16] == b"VP8X" and len(data) >= 30:
            w = int.from_bytes(data[24:27], "little") + 1
            h = int.from_bytes(data[27:30], "little") + 1
            return w, h
    except struct.error:
        return None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                      0xCF):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return int(w), int(h)
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        i += 2 + length
    return None


def image_problem(data: bytes) -> tuple[str | None, str | None]:
    """(media type, None) for an image Claude accepts, or (None, why not: one short phrase)."""
    if not data:
        return None, "it is empty"
    media_type = sniff_image(data)
    if media_type is None:
        return None, "it is not a JPEG, PNG, GIF or WebP image"
    if len(data) > MAX_IMAGE_BYTES:
        return None, f"it is over {MAX_IMAGE_BYTES / 1024 / 1024:.2f} MB"
    size = image_size(data, media_type)
    if size is not None and max(size) > MAX_IMAGE_SIDE:
        return None, f"it is {size[0]}×{size[1]} px (at most {MAX_IMAGE_SIDE} px a side)"
    return media_type, None


def looks_binary(data: bytes) -> bool:
    """A NUL in the first 8 KB (text in UTF-16 announces itself with a BOM first), or mostly
    control characters: not text, whatever its name says."""
    head = data[:8192]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return bool(head) and controls / len(head) > 0.1


def decode_text(data: bytes) -> str:
    """Text from bytes, never failing: a BOM's encoding, else UTF-8, else Windows-1252 (what
    Windows tools write) when UTF-8 would mangle more than a few characters."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    text = data.decode("utf-8", "replace")
    if text.count("\ufffd") > max(3, len(text) // 200):
        return data.decode("cp1252", "replace")
    return text


def intake_type_for(*, text: bool, log: bool, image: bool, ticket: bool) -> str:
    """What opened the session: ``psa_ticket`` (a ticket), ``screenshot`` (only images),
    ``log_paste`` (only a pasted log or text file), ``combined`` (more than one of typed text,
    a log, an image), ``free_text`` (typed text alone)."""
    if ticket:
        return "psa_ticket"
    given = sum((text, log, image))
    if given > 1:
        return "combined"
    if image:
        return "screenshot"
    if log:
        return "log_paste"
    return "free_text"


def with_later_input(current: str, *, log: bool, image: bool) -> str:
    """The intake type once a file arrives in the thread: a session given a second kind of
    input becomes ``combined``; a ticket stays a ticket."""
    if current == "psa_ticket" or not (log or image):
        return current
    if current == "free_text" or current == "combined":
        return "combined"
    if current == "screenshot":
        return "combined" if log else "screenshot"
    if current == "log_paste":
        return "combined" if image else "log_paste"
    return current
