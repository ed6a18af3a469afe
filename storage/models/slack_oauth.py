"""slack_sdk's OAuth tables (installations, bots, OAuth states), registered on our metadata so
Alembic owns them like every other table."""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from storage.db import Base

installations = SQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, "slack_installations"
)
bots = SQLAlchemyInstallationStore.build_bots_table(Base.metadata, "slack_bots")
oauth_states = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    Base.metadata, "slack_oauth_states"
)
