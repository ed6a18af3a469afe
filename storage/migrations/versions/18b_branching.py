"""branching: steps record their path; a path keeps its state while another is active (issue 18)

Revision ID: 18b_branching
Revises: 18_teams_branching
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "18b_branching"
down_revision: str | None = "18_escalation_team"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A soft pointer, like ai_sessions.active_branch_id: a foreign key would close a cycle
    # (steps -> session_branches -> fork_points -> steps).
    with op.batch_alter_table("ai_session_steps") as batch:
        batch.add_column(sa.Column("branch_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("session_branches") as batch:
        batch.add_column(sa.Column("summary", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("state", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session_branches") as batch:
        batch.drop_column("state")
        batch.drop_column("summary")
    with op.batch_alter_table("ai_session_steps") as batch:
        batch.drop_column("branch_id")
