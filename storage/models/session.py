"""The seed's ``AISession``: one FlowPilot troubleshooting session, from intake to the end.

Columns and constraints follow the seed (shared/design/seed/ai_session.py.txt); the block
marked *Slack* adds what a session needs to live in a Slack thread and be driven by jobs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.db import Base, JSONType
from storage.models._common import UTCDateTime, created_at, updated_at, uuid_pk

if TYPE_CHECKING:
    from storage.models.accounts import Account, PsaConnection, Team, User
    from storage.models.knowledge import Tree
    from storage.models.session_parts import (
        AISessionStep,
        SessionBranch,
        SessionFact,
        SessionHandoff,
        SessionResolutionOutput,
        SessionSuggestedFix,
    )

STATUSES = ("active", "paused", "resolved", "escalated", "requesting_escalation", "abandoned")
OPEN_STATUSES = ("active", "paused", "requesting_escalation", "escalated")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AISession(Base):
    __tablename__ = "ai_sessions"
    __table_args__ = (
        CheckConstraint(
            _in("intake_type", ("free_text", "psa_ticket", "screenshot", "log_paste", "combined")),
            name="ck_ai_sessions_intake_type",
        ),
        CheckConstraint(_in("status", STATUSES), name="ck_ai_sessions_status"),
        CheckConstraint(
            _in("confidence_tier", ("guided", "exploring", "discovery")),
            name="ck_ai_sessions_confidence_tier",
        ),
        CheckConstraint(
            "session_rating IS NULL OR (session_rating >= 1 AND session_rating <= 5)",
            name="ck_ai_sessions_rating",
        ),
        CheckConstraint(
            "confidence_score >= 0 AND confidence_score <= 1", name="ck_ai_sessions_confidence"
        ),
        CheckConstraint(
            "total_input_tokens >= 0 AND total_output_tokens >= 0 AND step_count >= 0 "
            "AND handoff_count >= 0 AND total_active_seconds >= 0 "
            "AND total_parked_seconds >= 0 AND state_version >= 0 AND nudge_count >= 0",
            name="ck_ai_sessions_counters",
        ),
        CheckConstraint(
            "analysis_status IS NULL OR "
            + _in("analysis_status", ("pending", "completed", "failed", "skipped")),
            name="ck_ai_sessions_analysis_status",
        ),
        CheckConstraint(_in("engine", ("claude", "offline")), name="ck_ai_sessions_engine"),
        # One open session per Slack thread; a thread may hold earlier, finished ones.
        Index(
            "uq_ai_sessions_open_thread",
            "slack_channel_id",
            "slack_thread_ts",
            unique=True,
            postgresql_where=sa.text(
                "status IN ('active', 'paused', 'requesting_escalation', 'escalated')"
            ),
            sqlite_where=sa.text(
                "status IN ('active', 'paused', 'requesting_escalation', 'escalated')"
            ),
        ),
        Index("ix_ai_sessions_thread", "slack_channel_id", "slack_thread_ts"),
        # Index-driven scheduled jobs (see bot/jobs/): each job reads one of these ranges.
        Index("ix_ai_sessions_status_next_nudge", "status", "next_nudge_at"),
        Index("ix_ai_sessions_status_last_activity", "status", "last_activity_at"),
        Index("ix_ai_sessions_status_status_changed", "status", "status_changed_at"),
        Index("ix_ai_sessions_status_escalation_next", "status", "escalation_post_next_at"),
        Index("ix_ai_sessions_status_escalation_deadline", "status", "escalation_deadline_at"),
        Index("ix_ai_sessions_analysis", "analysis_status", "resolved_at"),
        Index("ix_ai_sessions_account_created", "account_id", "created_at"),
    )

    # ── the seed ──
    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("teams.id", ondelete="SET NULL"), nullable=True, index=True
    )
    session_type: Mapped[str] = mapped_column(String(10), nullable=False, default="guided", index=True)
    title: Mapped[str | None] = mapped_column(String(255), nullable=True)
    intake_type: Mapped[str] = mapped_column(String(20), nullable=False, default="free_text")
    intake_content: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    problem_summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    problem_domain: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status: Mapped[str] = mapped_column(String(30), nullable=False, default="active", index=True)
    confidence_tier: Mapped[str] = mapped_column(String(20), nullable=False, default="discovery")
    confidence_score: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    matched_flow_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("trees.id", ondelete="SET NULL"), nullable=True
    )
    match_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    psa_ticket_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    psa_connection_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("psa_connections.id", ondelete="SET NULL"), nullable=True
    )
    ticket_data: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    resolution_summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolution_action: Mapped[str | None] = mapped_column(Text, nullable=True)
    escalation_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    escalation_package: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    escalated_to_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    session_rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    session_feedback: Mapped[str | None] = mapped_column(Text, nullable=True)
    analysis_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    total_input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total_output_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    step_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    system_prompt_snapshot: Mapped[str | None] = mapped_column(Text, nullable=True)
    conversation_messages: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    pending_task_lane: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    resolution_note_markdown: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolution_note_posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolution_note_external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    escalation_package_markdown: Mapped[str | None] = mapped_column(Text, nullable=True)
    escalation_package_posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    escalation_package_external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Bumped by every state-changing write (SQLAlchemy's version counter: each ORM UPDATE
    # sets it to old + 1 *where* it still is old, so concurrent writers cannot both win).
    state_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=sa.text("0")
    )
    is_branching: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    active_branch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    handoff_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total_active_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total_parked_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    # ── Slack: where the session lives ──
    slack_channel_id: Mapped[str] = mapped_column(String(32), nullable=False)
    slack_thread_ts: Mapped[str] = mapped_column(String(32), nullable=False)
    root_message_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the header
    participants: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    engine: Mapped[str] = mapped_column(String(10), nullable=False, default="offline")
    engine_state: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    flow_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    total_cache_read_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total_cache_write_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_turn_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    turn_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # host|boot id|pid|start of the process holding the turn lease (bot/liveness.py)
    turn_lease_holder: Mapped[str | None] = mapped_column(String(200), nullable=True)

    # ── time and activity (exact accounting: the ledger runs from status_changed_at) ──
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_human_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # ── nudges (time-based state lives in columns, so a restart loses nothing) ──
    next_nudge_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    nudge_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # ── escalation delivery ──
    escalation_urgency: Mapped[str | None] = mapped_column(String(20), nullable=True)
    escalation_channel_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    escalation_message_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    escalation_requested_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    escalation_post_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    escalation_post_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    escalation_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    escalation_reping_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The team an escalation targets (issue 18): its members are tagged (or one in turn), and
    # the SLA re-ping tags the same team. NULL: the default engineer group / the channel.
    escalation_team_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("teams.id", ondelete="SET NULL"), nullable=True
    )
    # A job's claim on this row (lease): set when claimed, cleared when done.
    job_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    analysis_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    # A new row starts at 0 (the seed's default); SQLAlchemy's own generator would insert 1.
    __mapper_args__ = {
        "version_id_col": state_version,
        "version_id_generator": lambda version: 0 if version is None else version + 1,
    }

    # ── relationships ──
    user: Mapped[User] = relationship("User", foreign_keys=[user_id])
    account: Mapped[Account] = relationship("Account")
    team: Mapped[Team | None] = relationship("Team", foreign_keys=[team_id])
    matched_flow: Mapped[Tree | None] = relationship("Tree", foreign_keys=[matched_flow_id])
    escalated_to: Mapped[User | None] = relationship("User", foreign_keys=[escalated_to_id])
    escalation_team: Mapped[Team | None] = relationship("Team", foreign_keys=[escalation_team_id])
    psa_connection: Mapped[PsaConnection | None] = relationship("PsaConnection")
    steps: Mapped[list[AISessionStep]] = relationship(
        "AISessionStep", back_populates="session", cascade="all, delete-orphan",
        order_by="AISessionStep.step_order",
    )
    facts: Mapped[list[SessionFact]] = relationship(
        "SessionFact", back_populates="session", cascade="all, delete-orphan",
        order_by="SessionFact.created_at",
    )
    fixes: Mapped[list[SessionSuggestedFix]] = relationship(
        "SessionSuggestedFix", back_populates="session", cascade="all, delete-orphan",
        order_by="SessionSuggestedFix.position",
        foreign_keys="SessionSuggestedFix.session_id",
    )
    branches: Mapped[list[SessionBranch]] = relationship(
        "SessionBranch", foreign_keys="SessionBranch.session_id", back_populates="session",
        cascade="all, delete-orphan", order_by="SessionBranch.branch_order",
    )
    handoffs: Mapped[list[SessionHandoff]] = relationship(
        "SessionHandoff", back_populates="session", cascade="all, delete-orphan",
        order_by="SessionHandoff.created_at",
    )
    resolution_outputs: Mapped[list[SessionResolutionOutput]] = relationship(
        "SessionResolutionOutput", back_populates="session", cascade="all, delete-orphan",
    )
