"""lease holders: who holds a session's turn lease and a work item's lease

Revision ID: 11_outbox
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "11_outbox"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ai_sessions") as batch:
        batch.add_column(sa.Column("turn_lease_holder", sa.String(length=200), nullable=True))
    with op.batch_alter_table("inbound_events") as batch:
        batch.add_column(sa.Column("lease_holder", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_events") as batch:
        batch.drop_column("lease_holder")
    with op.batch_alter_table("ai_sessions") as batch:
        batch.drop_column("turn_lease_holder")
