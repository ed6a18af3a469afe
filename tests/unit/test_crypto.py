"""Encryption at rest: round trip, rotation across keys, refusals with readable messages."""

from __future__ import annotations

import pytest

from bot.crypto import SecretBox, generate_key, is_encrypted
from bot.errors import ConfigError


def test_round_trip_and_not_clear() -> None:
    box = SecretBox(generate_key())
    stored = box.encrypt("xoxb-123-secret")
    assert is_encrypted(stored)
    assert "xoxb" not in stored
    assert box.decrypt(stored) == "xoxb-123-secret"


def test_rotation_keeps_old_values_readable_then_moves_them_to_the_new_key() -> None:
    old, new = generate_key(), generate_key()
    stored = SecretBox(old).encrypt("pw")
    both = SecretBox(f"{new},{old}")
    assert both.decrypt(stored) == "pw"
    rotated = both.rotate(stored)
    assert SecretBox(new).decrypt(rotated) == "pw"
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        SecretBox(old).decrypt(rotated)


@pytest.mark.parametrize("key", ["", " , ", "not-a-key", "é" * 44])
def test_malformed_keys_are_refused_in_one_line(key: str) -> None:
    with pytest.raises(ConfigError) as err:
        SecretBox(key)
    assert "\n" not in str(err.value)
    assert "FLOWPILOT_SECRET_KEY" in str(err.value)


def test_clear_text_is_recognised() -> None:
    box = SecretBox(generate_key())
    with pytest.raises(ConfigError, match="not encrypted"):
        box.decrypt("xoxb-plain")
    assert box.decrypt(box.rotate("xoxb-plain")) == "xoxb-plain"
