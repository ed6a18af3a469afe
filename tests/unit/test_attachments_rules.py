"""bot/domain/attachments.py: which files are text or images, the image limits Claude sets,
binary detection, decoding, and the intake type vocabulary."""

from __future__ import annotations

import codecs
import struct

import pytest

from bot.domain import attachments as a
from bot.domain.vocabulary import INTAKE_TYPES


@pytest.mark.parametrize(("name", "mimetype", "filetype", "kind"), [
    ("outlook.log", "text/plain", "text", "text"),
    ("export.csv", "text/csv", "csv", "text"),
    ("event.json", "application/json", "json", "text"),
    ("gpresult.xml", "application/xml", "xml", "text"),
    ("trace.log", "application/octet-stream", "binary", "text"),  # named .log: read, then sniffed
    ("screen.png", "image/png", "png", "image"),
    ("Photo.JPG", "", "", "image"),
    ("System.evtx", "application/octet-stream", "binary", "other"),
    ("setup.exe", "application/x-msdownload", "binary", "other"),
    ("noextension", "", "", "other"),
])
def test_kind_of(name: str, mimetype: str, filetype: str, kind: str) -> None:
    assert a.kind_of(name, mimetype, filetype) == kind


def _png(width: int, height: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(
        ">IIBBBBB", width, height, 8, 2, 0, 0, 0) + b"\x00" * 4


def test_images_are_sniffed_from_their_bytes_and_limited() -> None:
    assert a.image_problem(_png(800, 600)) == ("image/png", None)
    assert a.image_problem(b"GIF89a" + struct.pack("<HH", 10, 10) + b"\x00" * 8)[0] == "image/gif"
    assert a.image_problem(b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 20)[0] == "image/webp"
    jpeg = (b"\xff\xd8\xff\xe0" + struct.pack(">H", 4) + b"\x00\x00"
            + b"\xff\xc0" + struct.pack(">HBHH", 11, 8, 9001, 20) + b"\x00" * 8)
    assert a.image_problem(jpeg) == (None, "it is 20×9001 px (at most 8000 px a side)")
    assert a.image_problem(_png(8001, 10))[1] == "it is 8001×10 px (at most 8000 px a side)"
    assert a.image_problem(b"BM" + b"\x00" * 100)[1] == "it is not a JPEG, PNG, GIF or WebP image"
    assert a.image_problem(b"")[1] == "it is empty"
    big = _png(10, 10) + b"\x00" * a.MAX_IMAGE_BYTES
    assert "over 3.75 MB" in str(a.image_problem(big)[1])
    # The cap keeps the base64 under the API's 5 MB (5,242,880 bytes).
    assert (a.MAX_IMAGE_BYTES + 2) // 3 * 4 <= 5_242_880


def test_binary_is_detected_whatever_the_name_and_text_decodes_safely() -> None:
    assert a.looks_binary(b"MZ\x90\x00\x03\x00")
    assert a.looks_binary(bytes(range(1, 9)) * 100)
    assert not a.looks_binary(b"2026-12-01 ERROR 0x800CCC0E\n")
    utf16 = codecs.BOM_UTF16_LE + "Fehler: Zugriff verweigert".encode("utf-16-le")
    assert not a.looks_binary(utf16)
    assert a.decode_text(utf16) == "Fehler: Zugriff verweigert"
    assert a.decode_text(codecs.BOM_UTF8 + "café".encode()) == "café"
    assert a.decode_text("Größe überschritten – ÄÖÜ äöü ß".encode("cp1252")) == \
        "Größe überschritten – ÄÖÜ äöü ß"
    assert a.decode_text(b"\xff\xfe\xfd broken") != ""  # never raises


def test_intake_types_use_the_vocabulary() -> None:
    cases = {
        a.intake_type_for(text=True, log=False, image=False, ticket=False): "free_text",
        a.intake_type_for(text=False, log=False, image=True, ticket=False): "screenshot",
        a.intake_type_for(text=False, log=True, image=False, ticket=False): "log_paste",
        a.intake_type_for(text=True, log=False, image=True, ticket=False): "combined",
        a.intake_type_for(text=True, log=True, image=True, ticket=True): "psa_ticket",
    }
    assert cases == {k: k for k in cases}
    assert set(cases) <= set(INTAKE_TYPES)
    assert a.with_later_input("free_text", log=True, image=False) == "combined"
    assert a.with_later_input("screenshot", log=False, image=True) == "screenshot"
    assert a.with_later_input("screenshot", log=True, image=False) == "combined"
    assert a.with_later_input("log_paste", log=False, image=True) == "combined"
    assert a.with_later_input("psa_ticket", log=True, image=True) == "psa_ticket"
    assert a.with_later_input("free_text", log=False, image=False) == "free_text"
