"""teams: routing mode and round-robin cursor (issue 18)

Revision ID: 18_teams_branching
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "18_teams_branching"
down_revision: str | None = "17_knowledge_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER TABLE … ADD CONSTRAINT, so the table is rebuilt there.
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("routing", sa.String(length=20), nullable=False,
                                   server_default="tag_all"))
        batch.add_column(sa.Column("next_member", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.create_check_constraint("ck_teams_routing", "routing IN ('tag_all', 'round_robin')")
        batch.create_check_constraint("ck_teams_next_member", "next_member >= 0")


def downgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.drop_constraint("ck_teams_next_member", type_="check")
        batch.drop_constraint("ck_teams_routing", type_="check")
        batch.drop_column("next_member")
        batch.drop_column("routing")
