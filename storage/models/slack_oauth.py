"""slack_sdk's OAuth tables (installations, bots, OAuth states), registered on our metadata so
Alembic owns them like every other table.

The token columns are widened to ``Text``: FlowPilot stores them encrypted
(``bot.installs.EncryptedInstallationStore``), and Fernet ciphertext of a Slack token is longer
than slack_sdk's ``String(200)`` (revision ``14_oauth_tokens``)."""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Text

from storage.db import Base

installations = SQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, "slack_installations"
)
bots = SQLAlchemyInstallationStore.build_bots_table(Base.metadata, "slack_bots")
oauth_states = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    Base.metadata, "slack_oauth_states"
)

# Columns that hold a credential, stored as ciphertext.
SECRET_COLUMNS = {
    "slack_installations": ("bot_token", "bot_refresh_token", "user_token",
                            "user_refresh_token", "incoming_webhook_url"),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}
for _table in (installations, bots):
    for _name in SECRET_COLUMNS[_table.name]:
        _table.c[_name].type = Text()
