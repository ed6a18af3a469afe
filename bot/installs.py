"""Installations of FlowPilot in Slack workspaces, with their tokens encrypted at rest.

``EncryptedInstallationStore`` is slack_sdk's ``SQLAlchemyInstallationStore`` on our tables
(``storage.models.slack_oauth``, Alembic-owned) that encrypts every token with
``FLOWPILOT_SECRET_KEY`` (``bot.crypto.SecretBox``) before it is written and decrypts it when
a row is read back. The upstream store keeps tokens in plain text (reference §1.5).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.sqlalchemy_utils import normalize_datetime_for_db
from sqlalchemy import Engine

from bot.crypto import SecretBox, is_encrypted
from storage.models.slack_oauth import SECRET_COLUMNS

log = logging.getLogger(__name__)

INSTALL_SECRETS = SECRET_COLUMNS["slack_installations"]
BOT_SECRETS = SECRET_COLUMNS["slack_bots"]


class EncryptedInstallationStore(SQLAlchemyInstallationStore):
    """The SDK's store (Bolt's OAuth flow saves through it), tokens encrypted."""

    def __init__(self, client_id: str, engine: Engine, box: SecretBox) -> None:
        super().__init__(client_id=client_id, engine=engine,
                         bots_table_name="slack_bots",
                         installations_table_name="slack_installations", logger=log)
        self.box = box

    def _seal(self, value: str | None) -> str | None:
        # Already sealed: ``save`` hands ``save_bot`` the bot of an encrypted installation.
        if value is None or is_encrypted(value):
            return value
        return self.box.encrypt(value)

    def _open(self, value: str | None) -> str | None:
        return None if value is None else self.box.decrypt(value)

    def save(self, installation: Installation) -> None:
        sealed = copy.copy(installation)
        for name in INSTALL_SECRETS:
            setattr(sealed, name, self._seal(getattr(installation, name, None)))
        super().save(sealed)

    def save_bot(self, bot: Bot) -> None:
        sealed = copy.copy(bot)
        for name in BOT_SECRETS:
            setattr(sealed, name, self._seal(getattr(bot, name, None)))
        super().save_bot(sealed)

    def sealed_bot_row(self, bot: Bot) -> dict[str, Any]:
        """The ``slack_bots`` row for ``bot``, tokens encrypted (token rotation writes it inside
        its own locked transaction)."""
        row = bot.to_dict()
        row["client_id"] = self.client_id
        row["installed_at"] = normalize_datetime_for_db(row.get("installed_at"))
        row["bot_token_expires_at"] = normalize_datetime_for_db(row.get("bot_token_expires_at"))
        for name in BOT_SECRETS:
            row[name] = self._seal(row.get(name))
        return row

    def build_bot_entity(self, row: Any) -> Bot:  # type: ignore[override]
        opened = dict(row)
        for name in BOT_SECRETS:
            opened[name] = self._open(opened.get(name))
        return super().build_bot_entity(opened)

    def build_installation_entity(self, row: Any) -> Installation:  # type: ignore[override]
        opened = dict(row)
        for name in INSTALL_SECRETS:
            opened[name] = self._open(opened.get(name))
        return super().build_installation_entity(opened)
