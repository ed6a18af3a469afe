"""escalation to a team: the team an escalation targets (issue 18)

Revision ID: 18_escalation_team
Revises: 18_teams_branching
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "18_escalation_team"
down_revision: str | None = "18_teams_branching"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "ai_sessions_escalation_team_id_fkey"  # PostgreSQL's own name for an unnamed key


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot ADD a foreign key that reflects with its ON DELETE: the table is
        # rebuilt (batch mode), its indexes (the partial ones too) recreated from reflection.
        with op.batch_alter_table("ai_sessions") as batch:
            batch.add_column(sa.Column("escalation_team_id", sa.Uuid(), nullable=True))
            batch.create_foreign_key(FK, "teams", ["escalation_team_id"], ["id"],
                                     ondelete="SET NULL")
        return
    op.add_column("ai_sessions", sa.Column("escalation_team_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(FK, "ai_sessions", "teams", ["escalation_team_id"], ["id"],
                          ondelete="SET NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("ai_sessions") as batch:
            batch.drop_column("escalation_team_id")
        return
    op.drop_constraint(FK, "ai_sessions", type_="foreignkey")
    op.drop_column("ai_sessions", "escalation_team_id")
