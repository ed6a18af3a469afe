"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 05:17:07.603293
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("slack_team_id", sa.String(length=32), nullable=False),
        sa.Column("slack_enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("uninstalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("total_output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("total_cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("total_cache_write_tokens", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("total_input_tokens >= 0", name="ck_accounts_input_tokens"),
        sa.CheckConstraint("total_output_tokens >= 0", name="ck_accounts_output_tokens"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slack_team_id"),
    )
    op.create_table(
        "slack_bots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("enterprise_name", sa.String(length=200), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("team_name", sa.String(length=200), nullable=True),
        sa.Column("bot_token", sa.String(length=200), nullable=True),
        sa.Column("bot_id", sa.String(length=32), nullable=True),
        sa.Column("bot_user_id", sa.String(length=32), nullable=True),
        sa.Column("bot_scopes", sa.String(length=1000), nullable=True),
        sa.Column("bot_refresh_token", sa.String(length=200), nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("installed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("slack_bots", schema=None) as batch_op:
        batch_op.create_index(
            "slack_bots_idx",
            ["client_id", "enterprise_id", "team_id", "installed_at"],
            unique=False,
        )

    op.create_table(
        "slack_installations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("enterprise_name", sa.String(length=200), nullable=True),
        sa.Column("enterprise_url", sa.String(length=200), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("team_name", sa.String(length=200), nullable=True),
        sa.Column("bot_token", sa.String(length=200), nullable=True),
        sa.Column("bot_id", sa.String(length=32), nullable=True),
        sa.Column("bot_user_id", sa.String(length=32), nullable=True),
        sa.Column("bot_scopes", sa.String(length=1000), nullable=True),
        sa.Column("bot_refresh_token", sa.String(length=200), nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("user_token", sa.String(length=200), nullable=True),
        sa.Column("user_scopes", sa.String(length=1000), nullable=True),
        sa.Column("user_refresh_token", sa.String(length=200), nullable=True),
        sa.Column("user_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("incoming_webhook_url", sa.String(length=200), nullable=True),
        sa.Column("incoming_webhook_channel", sa.String(length=200), nullable=True),
        sa.Column("incoming_webhook_channel_id", sa.String(length=200), nullable=True),
        sa.Column("incoming_webhook_configuration_url", sa.String(length=200), nullable=True),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("token_type", sa.String(length=32), nullable=True),
        sa.Column("installed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("slack_installations", schema=None) as batch_op:
        batch_op.create_index(
            "slack_installations_idx",
            ["client_id", "enterprise_id", "team_id", "user_id", "installed_at"],
            unique=False,
        )

    op.create_table(
        "slack_oauth_states",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("state", sa.String(length=200), nullable=False),
        sa.Column("expire_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "account_settings",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "psa_connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("credentials_encrypted", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('connectwise', 'webhook')", name="ck_psa_connections_kind"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("psa_connections", schema=None) as batch_op:
        batch_op.create_index("ix_psa_connections_account", ["account_id"], unique=False)

    op.create_table(
        "teams",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("slack_usergroup_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name", name="uq_teams_account_name"),
    )
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_account_id"), ["account_id"], unique=False)

    op.create_table(
        "trees",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("flow_key", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("yaml_text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('builtin', 'directory', 'workspace')", name="ck_trees_source"
        ),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("trees", schema=None) as batch_op:
        batch_op.create_index(
            "uq_trees_account_key",
            ["account_id", "flow_key"],
            unique=True,
            postgresql_where=sa.text("account_id IS NOT NULL"),
            sqlite_where=sa.text("account_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_trees_global_key",
            ["flow_key"],
            unique=True,
            postgresql_where=sa.text("account_id IS NULL"),
            sqlite_where=sa.text("account_id IS NULL"),
        )

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "slack_user_id", name="uq_users_account_slack_user"),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_account_id"), ["account_id"], unique=False)

    op.create_table(
        "ai_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("session_type", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("intake_type", sa.String(length=20), nullable=False),
        sa.Column(
            "intake_content",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("problem_summary", sa.Text(), nullable=True),
        sa.Column("problem_domain", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("confidence_tier", sa.String(length=20), nullable=False),
        sa.Column("confidence_score", sa.Float(), nullable=False),
        sa.Column("matched_flow_id", sa.Uuid(), nullable=True),
        sa.Column("match_score", sa.Float(), nullable=True),
        sa.Column("psa_ticket_id", sa.String(length=100), nullable=True),
        sa.Column("psa_connection_id", sa.Uuid(), nullable=True),
        sa.Column(
            "ticket_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("resolution_summary", sa.Text(), nullable=True),
        sa.Column("resolution_action", sa.Text(), nullable=True),
        sa.Column("escalation_reason", sa.Text(), nullable=True),
        sa.Column(
            "escalation_package",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("escalated_to_id", sa.Uuid(), nullable=True),
        sa.Column("session_rating", sa.Integer(), nullable=True),
        sa.Column("session_feedback", sa.Text(), nullable=True),
        sa.Column("analysis_status", sa.String(length=20), nullable=True),
        sa.Column("total_input_tokens", sa.Integer(), nullable=False),
        sa.Column("total_output_tokens", sa.Integer(), nullable=False),
        sa.Column("step_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("system_prompt_snapshot", sa.Text(), nullable=True),
        sa.Column(
            "conversation_messages",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "pending_task_lane",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("resolution_note_markdown", sa.Text(), nullable=True),
        sa.Column("resolution_note_posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_note_external_id", sa.String(length=128), nullable=True),
        sa.Column("escalation_package_markdown", sa.Text(), nullable=True),
        sa.Column("escalation_package_posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_package_external_id", sa.String(length=128), nullable=True),
        sa.Column("state_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("is_branching", sa.Boolean(), nullable=False),
        sa.Column("active_branch_id", sa.Uuid(), nullable=True),
        sa.Column("handoff_count", sa.Integer(), nullable=False),
        sa.Column("total_active_seconds", sa.Integer(), nullable=False),
        sa.Column("total_parked_seconds", sa.Integer(), nullable=False),
        sa.Column("slack_channel_id", sa.String(length=32), nullable=False),
        sa.Column("slack_thread_ts", sa.String(length=32), nullable=False),
        sa.Column("root_message_ts", sa.String(length=32), nullable=True),
        sa.Column(
            "participants",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("engine", sa.String(length=10), nullable=False),
        sa.Column(
            "engine_state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("flow_key", sa.String(length=100), nullable=True),
        sa.Column("total_cache_read_tokens", sa.Integer(), nullable=False),
        sa.Column("total_cache_write_tokens", sa.Integer(), nullable=False),
        sa.Column("last_turn_error", sa.Text(), nullable=True),
        sa.Column("turn_lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_human_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_nudge_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("nudge_count", sa.Integer(), nullable=False),
        sa.Column("last_nudged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_urgency", sa.String(length=20), nullable=True),
        sa.Column("escalation_channel_id", sa.String(length=32), nullable=True),
        sa.Column("escalation_message_ts", sa.String(length=32), nullable=True),
        sa.Column("escalation_requested_by_id", sa.Uuid(), nullable=True),
        sa.Column("escalation_post_attempts", sa.Integer(), nullable=False),
        sa.Column("escalation_post_next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_reping_count", sa.Integer(), nullable=False),
        sa.Column("job_lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("analysis_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "analysis_status IS NULL OR analysis_status IN ('pending', 'completed', 'failed', 'skipped')",
            name="ck_ai_sessions_analysis_status",
        ),
        sa.CheckConstraint(
            "confidence_tier IN ('guided', 'exploring', 'discovery')",
            name="ck_ai_sessions_confidence_tier",
        ),
        sa.CheckConstraint("engine IN ('claude', 'offline')", name="ck_ai_sessions_engine"),
        sa.CheckConstraint(
            "intake_type IN ('free_text', 'psa_ticket', 'screenshot', 'log_paste', 'combined')",
            name="ck_ai_sessions_intake_type",
        ),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'resolved', 'escalated', 'requesting_escalation', 'abandoned')",
            name="ck_ai_sessions_status",
        ),
        sa.CheckConstraint(
            "confidence_score >= 0 AND confidence_score <= 1", name="ck_ai_sessions_confidence"
        ),
        sa.CheckConstraint(
            "session_rating IS NULL OR (session_rating >= 1 AND session_rating <= 5)",
            name="ck_ai_sessions_rating",
        ),
        sa.CheckConstraint(
            "total_input_tokens >= 0 AND total_output_tokens >= 0 AND step_count >= 0 AND handoff_count >= 0 AND total_active_seconds >= 0 AND total_parked_seconds >= 0 AND state_version >= 0 AND nudge_count >= 0",
            name="ck_ai_sessions_counters",
        ),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["escalated_to_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["escalation_requested_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["matched_flow_id"], ["trees.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["psa_connection_id"], ["psa_connections.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ai_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ai_sessions_account_created", ["account_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ai_sessions_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            "ix_ai_sessions_analysis", ["analysis_status", "resolved_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ai_sessions_session_type"), ["session_type"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ai_sessions_status"), ["status"], unique=False)
        batch_op.create_index(
            "ix_ai_sessions_status_escalation_deadline",
            ["status", "escalation_deadline_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_ai_sessions_status_escalation_next",
            ["status", "escalation_post_next_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_ai_sessions_status_last_activity", ["status", "last_activity_at"], unique=False
        )
        batch_op.create_index(
            "ix_ai_sessions_status_next_nudge", ["status", "next_nudge_at"], unique=False
        )
        batch_op.create_index(
            "ix_ai_sessions_status_status_changed", ["status", "status_changed_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ai_sessions_team_id"), ["team_id"], unique=False)
        batch_op.create_index(
            "ix_ai_sessions_thread", ["slack_channel_id", "slack_thread_ts"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ai_sessions_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            "uq_ai_sessions_open_thread",
            ["slack_channel_id", "slack_thread_ts"],
            unique=True,
            postgresql_where=sa.text(
                "status IN ('active', 'paused', 'requesting_escalation', 'escalated')"
            ),
            sqlite_where=sa.text(
                "status IN ('active', 'paused', 'requesting_escalation', 'escalated')"
            ),
        )

    op.create_table(
        "ai_session_steps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("step_order", sa.Integer(), nullable=False),
        sa.Column("step_type", sa.String(length=20), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column(
            "content",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("slack_ts", sa.String(length=32), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "step_type IN ('intake', 'reply', 'answer', 'action', 'fix_decision', 'ai_turn', 'status', 'handoff', 'system')",
            name="ck_ai_session_steps_type",
        ),
        sa.CheckConstraint("step_order >= 0", name="ck_ai_session_steps_order"),
        sa.ForeignKeyConstraint(["actor_user_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "step_order", name="uq_ai_session_steps_order"),
    )
    with op.batch_alter_table("ai_session_steps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ai_session_steps_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "inbound_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("delivery_key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("slack_team_id", sa.String(length=32), nullable=True),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'done', 'ignored', 'failed')",
            name="ck_inbound_events_status",
        ),
        sa.CheckConstraint("attempts >= 0", name="ck_inbound_events_attempts"),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("delivery_key"),
    )
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbound_events_session_status",
            ["session_id", "status", "received_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_inbound_events_status_received", ["status", "received_at"], unique=False
        )

    op.create_table(
        "script_templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "parameters",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("source_session_id", sa.Uuid(), nullable=True),
        sa.Column("source_user_id", sa.Uuid(), nullable=True),
        sa.Column("source_ticket_ref", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["source_session_id"], ["ai_sessions.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["source_user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("script_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_script_templates_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "session_facts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_type", sa.String(length=20), nullable=True),
        sa.Column("source_ref", sa.String(length=64), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('intake', 'technician', 'action', 'inference')",
            name="ck_session_facts_source",
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("session_facts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_facts_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "session_handoffs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("from_user_id", sa.Uuid(), nullable=True),
        sa.Column("to_user_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('take_over', 'handoff')", name="ck_session_handoffs_kind"),
        sa.ForeignKeyConstraint(["from_user_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["to_user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("session_handoffs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_handoffs_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "session_resolution_outputs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("output_type", sa.String(length=30), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("content_markdown", sa.Text(), nullable=False),
        sa.Column(
            "content",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "output_type IN ('resolution_note', 'escalation_package')",
            name="ck_session_outputs_type",
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'posted', 'failed')", name="ck_session_outputs_status"
        ),
        sa.CheckConstraint(
            "target IN ('slack', 'psa', 'webhook')", name="ck_session_outputs_target"
        ),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "session_id", "output_type", "target", name="uq_session_outputs_target"
        ),
    )
    with op.batch_alter_table("session_resolution_outputs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_resolution_outputs_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "session_suggested_fixes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column(
            "steps",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("verify", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("risk", sa.String(length=10), nullable=False),
        sa.Column("node_id", sa.String(length=100), nullable=True),
        sa.Column("user_decision", sa.String(length=20), nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("supersedes_id", sa.Uuid(), nullable=True),
        sa.Column("superseded_by_id", sa.Uuid(), nullable=True),
        sa.Column("slack_message_ts", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("risk IN ('low', 'medium', 'high')", name="ck_session_fixes_risk"),
        sa.CheckConstraint(
            "user_decision IN ('pending', 'trying', 'worked', 'failed', 'rejected', 'superseded')",
            name="ck_session_fixes_decision",
        ),
        sa.CheckConstraint(
            "confidence >= 0 AND confidence <= 1", name="ck_session_fixes_confidence"
        ),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["session_suggested_fixes.id"], ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("session_suggested_fixes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_session_fixes_session_position", ["session_id", "position"], unique=False
        )

    op.create_table(
        "draft_templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "parameters",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("promoted_template_id", sa.Uuid(), nullable=True),
        sa.Column("reviewed_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'promoted', 'dismissed')", name="ck_draft_templates_status"
        ),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["promoted_template_id"], ["script_templates.id"], ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["reviewed_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("draft_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_draft_templates_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_draft_templates_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "fork_points",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.Uuid(), nullable=True),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["step_id"], ["ai_session_steps.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fork_points", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fork_points_session_id"), ["session_id"], unique=False)

    op.create_table(
        "session_branches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("fork_point_id", sa.Uuid(), nullable=True),
        sa.Column("parent_branch_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("branch_order", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["fork_point_id"], ["fork_points.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["parent_branch_id"], ["session_branches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("session_branches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_branches_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("session_branches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_branches_session_id"))

    op.drop_table("session_branches")
    with op.batch_alter_table("fork_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fork_points_session_id"))

    op.drop_table("fork_points")
    with op.batch_alter_table("draft_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_draft_templates_session_id"))
        batch_op.drop_index(batch_op.f("ix_draft_templates_account_id"))

    op.drop_table("draft_templates")
    with op.batch_alter_table("session_suggested_fixes", schema=None) as batch_op:
        batch_op.drop_index("ix_session_fixes_session_position")

    op.drop_table("session_suggested_fixes")
    with op.batch_alter_table("session_resolution_outputs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_resolution_outputs_session_id"))

    op.drop_table("session_resolution_outputs")
    with op.batch_alter_table("session_handoffs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_handoffs_session_id"))

    op.drop_table("session_handoffs")
    with op.batch_alter_table("session_facts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_facts_session_id"))

    op.drop_table("session_facts")
    with op.batch_alter_table("script_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_script_templates_account_id"))

    op.drop_table("script_templates")
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_events_status_received")
        batch_op.drop_index("ix_inbound_events_session_status")

    op.drop_table("inbound_events")
    with op.batch_alter_table("ai_session_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ai_session_steps_session_id"))

    op.drop_table("ai_session_steps")
    with op.batch_alter_table("ai_sessions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_ai_sessions_open_thread",
            postgresql_where=sa.text(
                "status IN ('active', 'paused', 'requesting_escalation', 'escalated')"
            ),
            sqlite_where=sa.text(
                "status IN ('active', 'paused', 'requesting_escalation', 'escalated')"
            ),
        )
        batch_op.drop_index(batch_op.f("ix_ai_sessions_user_id"))
        batch_op.drop_index("ix_ai_sessions_thread")
        batch_op.drop_index(batch_op.f("ix_ai_sessions_team_id"))
        batch_op.drop_index("ix_ai_sessions_status_status_changed")
        batch_op.drop_index("ix_ai_sessions_status_next_nudge")
        batch_op.drop_index("ix_ai_sessions_status_last_activity")
        batch_op.drop_index("ix_ai_sessions_status_escalation_next")
        batch_op.drop_index("ix_ai_sessions_status_escalation_deadline")
        batch_op.drop_index(batch_op.f("ix_ai_sessions_status"))
        batch_op.drop_index(batch_op.f("ix_ai_sessions_session_type"))
        batch_op.drop_index("ix_ai_sessions_analysis")
        batch_op.drop_index(batch_op.f("ix_ai_sessions_account_id"))
        batch_op.drop_index("ix_ai_sessions_account_created")

    op.drop_table("ai_sessions")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_account_id"))

    op.drop_table("users")
    with op.batch_alter_table("trees", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_trees_global_key",
            postgresql_where=sa.text("account_id IS NULL"),
            sqlite_where=sa.text("account_id IS NULL"),
        )
        batch_op.drop_index(
            "uq_trees_account_key",
            postgresql_where=sa.text("account_id IS NOT NULL"),
            sqlite_where=sa.text("account_id IS NOT NULL"),
        )

    op.drop_table("trees")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_account_id"))

    op.drop_table("teams")
    with op.batch_alter_table("psa_connections", schema=None) as batch_op:
        batch_op.drop_index("ix_psa_connections_account")

    op.drop_table("psa_connections")
    op.drop_table("account_settings")
    op.drop_table("slack_oauth_states")
    with op.batch_alter_table("slack_installations", schema=None) as batch_op:
        batch_op.drop_index("slack_installations_idx")

    op.drop_table("slack_installations")
    with op.batch_alter_table("slack_bots", schema=None) as batch_op:
        batch_op.drop_index("slack_bots_idx")

    op.drop_table("slack_bots")
    op.drop_table("accounts")
