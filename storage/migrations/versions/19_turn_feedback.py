"""turn_feedback: a 👍/👎 per person per turn (issue 19)

Revision ID: 19_turn_feedback
Revises: 18_teams_branching
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "19_turn_feedback"
down_revision: str | None = "19_stats_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "turn_feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("vote", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("vote IN ('up', 'down')", name="ck_turn_feedback_vote"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["step_id"], ["ai_session_steps.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("step_id", "user_id", name="uq_turn_feedback_step_user"),
    )
    with op.batch_alter_table("turn_feedback") as batch:
        batch.create_index("ix_turn_feedback_account_created", ["account_id", "created_at"],
                           unique=False)
        batch.create_index("ix_turn_feedback_session_id", ["session_id"], unique=False)
        batch.create_index("ix_turn_feedback_user_id", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("turn_feedback")
