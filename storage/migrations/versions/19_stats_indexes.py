"""stats: one technician's sessions by creation time (issue 19)

``/flowpilot stats`` for a non-admin and App Home's "your week" read one owner's sessions in
a window; (user_id, created_at) finds them without walking the workspace's window.

Revision ID: 19_stats_indexes
Revises: 18_teams_branching
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "19_stats_indexes"
down_revision: str | None = "18b_branching"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_ai_sessions_user_created", "ai_sessions", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_ai_sessions_user_created", table_name="ai_sessions")
