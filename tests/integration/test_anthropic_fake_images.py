"""The Anthropic stand-in refuses the image blocks the real API refuses (sources and the API's
texts in tests/fakes/anthropic_images.py), through the real SDK."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from fakes.anthropic_server import FakeAnthropic

MODEL = "claude-sonnet-5-5"


def png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                               0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 7)) + chunk(b"IEND", b""))


@pytest.fixture
def client() -> Iterator[anthropic.Anthropic]:
    with FakeAnthropic() as fake:
        c = anthropic.Anthropic(base_url=fake.url, api_key="sk-ant-test", max_retries=0)
        yield c
        c.close()


def send(client: anthropic.Anthropic, media_type: str, data: bytes | str) -> Any:
    encoded = data if isinstance(data, str) else base64.b64encode(data).decode()
    return client.messages.create(model=MODEL, max_tokens=256, messages=[{
        "role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": media_type,
                                         "data": encoded}},
            {"type": "text", "text": "What does this error say?"}]}])


def refused(client: anthropic.Anthropic, media_type: str, data: bytes | str) -> str:
    with pytest.raises(anthropic.BadRequestError) as err:
        send(client, media_type, data)
    body = err.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "invalid_request_error"
    return str(body["error"]["message"])


def test_a_valid_png_is_accepted(client: anthropic.Anthropic) -> None:
    assert send(client, "image/png", png()).content


def test_unsupported_media_type(client: anthropic.Anthropic) -> None:
    assert refused(client, "image/bmp", b"BM\x00\x00") == (
        "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', "
        "'image/png', 'image/gif' or 'image/webp'")


def test_bytes_that_are_not_the_declared_type(client: anthropic.Anthropic) -> None:
    assert refused(client, "image/jpeg", png()) == (
        "messages.0.content.0.image.source.base64.data: Image does not match the provided "
        "media type image/jpeg")


def test_over_5_mb(client: anthropic.Anthropic) -> None:
    data = png() + b"\x00" * 4_000_000  # base64 of it is over 5,242,880 bytes
    message = refused(client, "image/png", data)
    assert message.startswith("messages.0.content.0.image.source.base64: image exceeds 5 MB "
                              "maximum: ") and message.endswith("> 5242880 bytes")


def test_over_8000_px(client: anthropic.Anthropic) -> None:
    assert "8000 pixels" in refused(client, "image/png", png(8001, 10))
