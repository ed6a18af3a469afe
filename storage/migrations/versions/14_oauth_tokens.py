"""Widen the Slack token columns for ciphertext (tokens are stored encrypted).

Revision ID: 14_oauth_tokens
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "14_oauth_tokens"
down_revision: str | None = "13_psa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {
    "slack_installations": ("bot_token", "bot_refresh_token", "user_token",
                            "user_refresh_token", "incoming_webhook_url"),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}


def upgrade() -> None:
    for table, names in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in names:
                batch_op.alter_column(name, existing_type=sa.String(length=200),
                                      type_=sa.Text(), existing_nullable=True)


def downgrade() -> None:
    for table, names in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in names:
                batch_op.alter_column(name, existing_type=sa.Text(),
                                      type_=sa.String(length=200), existing_nullable=True)
