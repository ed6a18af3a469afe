"""Every inbound Slack delivery, recorded before Slack gets its 200 (exactly-once)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, JSONType
from storage.models._common import UTCDateTime, created_at, uuid_pk

EVENT_STATUSES = ("pending", "processing", "done", "ignored", "failed")


class InboundEvent(Base):
    """``delivery_key`` is unique: Slack's ``event_id``, or ``(channel, message ts)`` for a
    thread message (so a mention that also arrives as a message event counts once), or the
    action's ``(message ts, action_id, action_ts)`` for a click. Turn inputs stay ``pending``
    until a turn consumed them, so a crash is recovered by the ``recover_turns`` job."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'processing', 'done', 'ignored', 'failed')",
            name="ck_inbound_events_status",
        ),
        CheckConstraint("attempts >= 0", name="ck_inbound_events_attempts"),
        Index("ix_inbound_events_session_status", "session_id", "status", "received_at"),
        Index("ix_inbound_events_status_received", "status", "received_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    delivery_key: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    slack_team_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_holder: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = created_at()
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
