"""PSA round trip: the outbox's next attempt time, and more output kinds

Revision ID: 13_psa
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "13_psa"
down_revision: str | None = "11_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "output_type IN ('resolution_note', 'escalation_package')"
NEW = ("output_type IN ('resolution_note', 'escalation_package', 'time_entry', "
       "'take_over_note', 'status_change')")


def upgrade() -> None:
    with op.batch_alter_table("session_resolution_outputs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.create_index(batch_op.f("ix_session_resolution_outputs_next_attempt_at"),
                              ["next_attempt_at"], unique=False)
        batch_op.drop_constraint("ck_session_outputs_type", type_="check")
        batch_op.create_check_constraint("ck_session_outputs_type", NEW)


def downgrade() -> None:
    op.execute("DELETE FROM session_resolution_outputs WHERE output_type IN "
               "('time_entry', 'take_over_note', 'status_change')")
    with op.batch_alter_table("session_resolution_outputs", schema=None) as batch_op:
        batch_op.drop_constraint("ck_session_outputs_type", type_="check")
        batch_op.create_check_constraint("ck_session_outputs_type", OLD)
        batch_op.drop_index(batch_op.f("ix_session_resolution_outputs_next_attempt_at"))
        batch_op.drop_column("next_attempt_at")
