"""The outbox: every message the bot must deliver (a Slack post now; PSA notes and webhooks
later), recorded before it is sent and marked sent with the reference the target returned."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, JSONType
from storage.models._common import UTCDateTime, created_at, uuid_pk

OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")


class OutboxMessage(Base):
    """``dedupe_key`` is unique (one row per thing to say, however often it is enqueued).
    ``pending`` rows are due at ``next_attempt_at``; ``sending`` means an attempt is in flight
    (or its process died: the outcome is unknown until the target is checked)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')",
                        name="ck_outbox_messages_status"),
        CheckConstraint("attempts >= 0", name="ck_outbox_messages_attempts"),
        Index("ix_outbox_messages_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    target: Mapped[str] = mapped_column(String(20), nullable=False)  # slack | psa | webhook
    kind: Mapped[str] = mapped_column(String(40), nullable=False)  # turn | header | …
    dedupe_key: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)  # Slack: the ts
    told_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = created_at()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
