"""Flows (``trees``) and the knowledge flywheel's templates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, JSONType
from storage.models._common import created_at, updated_at, uuid_pk


class Tree(Base):
    """A troubleshooting flow. ``account_id`` NULL = a built-in (or FLOWPILOT_FLOWS_DIR) flow
    recorded so sessions can point at it; set = a workspace's own flow, which overrides a
    built-in of the same ``flow_key``."""

    __tablename__ = "trees"
    __table_args__ = (
        CheckConstraint("source IN ('builtin', 'directory', 'workspace')", name="ck_trees_source"),
        Index(
            "uq_trees_account_key", "account_id", "flow_key", unique=True,
            postgresql_where=sa.text("account_id IS NOT NULL"),
            sqlite_where=sa.text("account_id IS NOT NULL"),
        ),
        Index(
            "uq_trees_global_key", "flow_key", unique=True,
            postgresql_where=sa.text("account_id IS NULL"),
            sqlite_where=sa.text("account_id IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True
    )
    flow_key: Mapped[str] = mapped_column(String(100), nullable=False)
    title: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    domain: Mapped[str] = mapped_column(String(100), nullable=False, default="other")
    source: Mapped[str] = mapped_column(String(20), nullable=False, default="builtin")
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    yaml_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class ScriptTemplate(Base):
    """A reusable script an admin promoted from a draft (provenance kept)."""

    __tablename__ = "script_templates"

    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    language: Mapped[str] = mapped_column(String(40), nullable=False, default="text")
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    parameters: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    source_session_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("ai_sessions.id", ondelete="SET NULL"), nullable=True
    )
    source_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    source_ticket_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class DraftTemplate(Base):
    """Post-resolve templatization queue; an admin promotes a draft to a ScriptTemplate."""

    __tablename__ = "draft_templates"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'promoted', 'dismissed')", name="ck_draft_templates_status"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("ai_sessions.id", ondelete="SET NULL"), nullable=True, index=True
    )
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    language: Mapped[str] = mapped_column(String(40), nullable=False, default="text")
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    parameters: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    promoted_template_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("script_templates.id", ondelete="SET NULL"), nullable=True
    )
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
