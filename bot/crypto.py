"""Encryption at rest for stored credentials (PSA keys, Slack tokens): Fernet
(AES-128-CBC + HMAC-SHA256, from ``cryptography``) keyed by ``FLOWPILOT_SECRET_KEY``.

``FLOWPILOT_SECRET_KEY`` holds one Fernet key, or several separated by commas, newest first:
new values are encrypted with the first, and any of them decrypts (``MultiFernet``). To rotate,
put a new key in front, run ``flowpilot secrets rotate`` (re-encrypts every stored secret
with the first key), then drop the old key.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.errors import ConfigError

# Marks a stored value as ours, so a clear-text value written by an older version (or by a
# library that bypassed us) is recognised rather than failing to decrypt.
PREFIX = "fp1:"


def generate_key() -> str:
    """A fresh key for ``FLOWPILOT_SECRET_KEY``."""
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Encrypts and decrypts short secrets. Built once (bootstrap) from the configured key."""

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise ConfigError("FLOWPILOT_SECRET_KEY is empty")
        try:
            self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in parts])
        except (ValueError, UnicodeEncodeError) as exc:
            raise ConfigError(
                "FLOWPILOT_SECRET_KEY is malformed: each key must be 32 url-safe base64-encoded "
                "bytes (make one with `flowpilot secrets new-key`)"
            ) from exc

    def encrypt(self, plain: str) -> str:
        return PREFIX + self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        if not is_encrypted(stored):
            raise ConfigError("a stored secret is not encrypted; run `flowpilot secrets rotate`")
        try:
            return self._fernet.decrypt(stored[len(PREFIX):].encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise ConfigError(
                "a stored secret cannot be decrypted with FLOWPILOT_SECRET_KEY "
                "(was the key changed without keeping the old one after a comma?)"
            ) from exc

    def rotate(self, stored: str) -> str:
        """Re-encrypt with the newest key (clear text is encrypted)."""
        if not is_encrypted(stored):
            return self.encrypt(stored)
        token = self._fernet.rotate(stored[len(PREFIX):].encode("ascii"))
        return PREFIX + token.decode("ascii")


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def secret_box(key: str | None) -> SecretBox | None:
    """The box for a configured key, or None when no key is set."""
    return SecretBox(key) if key else None
