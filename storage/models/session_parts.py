"""The session's companions: steps, facts, suggested fixes, handoffs, branches, outputs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.db import Base, JSONType
from storage.models._common import UTCDateTime, created_at, updated_at, uuid_pk

if TYPE_CHECKING:
    from storage.models.session import AISession

STEP_TYPES = (
    "intake", "reply", "answer", "action", "fix_decision", "ai_turn", "status", "handoff",
    "system",
)
FACT_SOURCES = ("intake", "technician", "action", "inference")
FIX_DECISIONS = ("pending", "trying", "worked", "failed", "rejected", "superseded")
RISKS = ("low", "medium", "high")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AISessionStep(Base):
    """One thing that happened in a session, in order (an intake, a reply, a model turn…)."""

    __tablename__ = "ai_session_steps"
    __table_args__ = (
        UniqueConstraint("session_id", "step_order", name="uq_ai_session_steps_order"),
        CheckConstraint(_in("step_type", STEP_TYPES), name="ck_ai_session_steps_type"),
        CheckConstraint("step_order >= 0", name="ck_ai_session_steps_order"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    step_order: Mapped[int] = mapped_column(Integer, nullable=False)
    step_type: Mapped[str] = mapped_column(String(20), nullable=False)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    content: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    slack_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = created_at()
    # The path (session_branches row) this step was taken on; NULL before the session's first
    # fork. A soft pointer like ai_sessions.active_branch_id: a foreign key would close a
    # cycle (steps -> session_branches -> fork_points -> steps).
    branch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)

    session: Mapped[AISession] = relationship("AISession", back_populates="steps")


class SessionFact(Base):
    """A "What we know" fact. ``source_ref`` points at a task-lane item id inside
    ``ai_sessions.pending_task_lane`` (or a fix / step id): polymorphic, not a foreign key."""

    __tablename__ = "session_facts"
    __table_args__ = (CheckConstraint(_in("source", FACT_SOURCES), name="ck_session_facts_source"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    text: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False, default="inference")
    source_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    source_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = created_at()

    session: Mapped[AISession] = relationship("AISession", back_populates="facts")


class SessionSuggestedFix(Base):
    """A proposed resolution, with the user-decision state machine and supersession."""

    __tablename__ = "session_suggested_fixes"
    __table_args__ = (
        CheckConstraint(_in("user_decision", FIX_DECISIONS), name="ck_session_fixes_decision"),
        CheckConstraint(_in("risk", RISKS), name="ck_session_fixes_risk"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="ck_session_fixes_confidence"),
        Index("ix_session_fixes_session_position", "session_id", "position"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    steps: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    rationale: Mapped[str] = mapped_column(Text, nullable=False, default="")
    verify: Mapped[str] = mapped_column(Text, nullable=False, default="")
    confidence: Mapped[float] = mapped_column(Float, nullable=False, default=0.5)
    risk: Mapped[str] = mapped_column(String(10), nullable=False, default="low")
    node_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    user_decision: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("session_suggested_fixes.id", ondelete="SET NULL"), nullable=True
    )
    superseded_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    slack_message_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    session: Mapped[AISession] = relationship(
        "AISession", back_populates="fixes", foreign_keys=[session_id]
    )


class SessionHandoff(Base):
    """The session changed hands (an escalation taken over, or a plain handoff)."""

    __tablename__ = "session_handoffs"
    __table_args__ = (
        CheckConstraint(_in("kind", ("take_over", "handoff")), name="ck_session_handoffs_kind"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    from_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    to_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="take_over")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = created_at()

    session: Mapped[AISession] = relationship("AISession", back_populates="handoffs")


class ForkPoint(Base):
    """A step at which the conversation was branched."""

    __tablename__ = "fork_points"

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    step_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("ai_session_steps.id", ondelete="SET NULL"), nullable=True
    )
    label: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    created_at: Mapped[datetime] = created_at()


class SessionBranch(Base):
    """An alternative line of investigation from a fork point."""

    __tablename__ = "session_branches"
    # A branch's row may already be gone when the ORM deletes it: deleting its parent branch
    # (or fork point) cascades in the database first.
    __mapper_args__ = {"confirm_deleted_rows": False}

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    fork_point_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("fork_points.id", ondelete="CASCADE"), nullable=True
    )
    parent_branch_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("session_branches.id", ondelete="CASCADE"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    branch_order: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = created_at()
    # Beyond the seed: one line of what was tried on this path and how it ended (written when
    # the path is left), and the path's working state while another path is active (facts,
    # fixes, task lane, engine state, conversation; NULL while it is the active path).
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    state: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)

    session: Mapped[AISession] = relationship(
        "AISession", back_populates="branches", foreign_keys=[session_id]
    )


OUTPUT_TYPES = ("resolution_note", "escalation_package", "time_entry", "take_over_note",
                "status_change")


class SessionResolutionOutput(Base):
    """One external output of a session and where it goes (the outbox): a resolution note,
    an escalation package, a time entry, a take-over note or a ticket status change, for
    Slack, the PSA or a webhook. ``posted`` means sent; ``failed`` means given up."""

    __tablename__ = "session_resolution_outputs"
    __table_args__ = (
        CheckConstraint(
            _in("output_type", OUTPUT_TYPES),
            name="ck_session_outputs_type",
        ),
        CheckConstraint(_in("target", ("slack", "psa", "webhook")), name="ck_session_outputs_target"),
        CheckConstraint(
            _in("status", ("pending", "posted", "failed")), name="ck_session_outputs_status"
        ),
        UniqueConstraint("session_id", "output_type", "target", name="uq_session_outputs_target"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    output_type: Mapped[str] = mapped_column(String(30), nullable=False)
    target: Mapped[str] = mapped_column(String(20), nullable=False, default="slack")
    content_markdown: Mapped[str] = mapped_column(Text, nullable=False, default="")
    content: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When ``deliver_outputs`` may try it (next); while a pass works on it, the lease's end.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True,
                                                             index=True)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    session: Mapped[AISession] = relationship("AISession", back_populates="resolution_outputs")


class TurnFeedback(Base):
    """A 👍/👎 on one turn (issue 19): one vote per person per turn, changeable. A quality
    signal rolled up in stats (``bot/services/feedback.py``)."""

    __tablename__ = "turn_feedback"
    __table_args__ = (
        UniqueConstraint("step_id", "user_id", name="uq_turn_feedback_step_user"),
        CheckConstraint("vote IN ('up', 'down')", name="ck_turn_feedback_vote"),
        Index("ix_turn_feedback_account_created", "account_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    )
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    step_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ai_session_steps.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    vote: Mapped[str] = mapped_column(String(10), nullable=False)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
