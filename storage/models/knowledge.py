"""Flows (``trees``) and the knowledge flywheel's templates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, JSONType
from storage.models._common import UTCDateTime, created_at, updated_at, uuid_pk


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
    # How often technicians took it from a "Seen before" offer (issue 17).
    use_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                           server_default=sa.text("0"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
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
    # Issue 17: when it was reviewed, why it was rejected, and who wrote it (model or steps).
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    origin: Mapped[str] = mapped_column(String(20), nullable=False, default="claude",
                                        server_default="claude")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class KnowledgeEntry(Base):
    """One resolved session, redacted, as the "Seen before" search reads it.

    The integer key is the row id the SQLite FTS5 index (``knowledge_fts``, external content)
    points at; PostgreSQL adds a generated ``search_vector`` column with a GIN index and a
    trigram index on ``problem``. Those live in the migration only (``DB_ONLY``).
    """

    __tablename__ = "knowledge_entries"
    # (account_id, id): a workspace's newest entries first, so the PostgreSQL search walks
    # only its own workspace's rows, newest first (storage/knowledge_search.py).
    __table_args__ = (Index("ix_knowledge_entries_account_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    )
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    problem: Mapped[str] = mapped_column(Text, nullable=False, default="")
    facts: Mapped[str] = mapped_column(Text, nullable=False, default="")
    fix_title: Mapped[str] = mapped_column(Text, nullable=False, default="")
    fix_steps: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    domain: Mapped[str] = mapped_column(String(100), nullable=False, default="other")
    resolved_by_slack_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resolved_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    channel_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    thread_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)


class SeenBeforeOffer(Base):
    """A past resolution shown in a session's thread (once), and the fix it became if taken."""

    __tablename__ = "seen_before_offers"
    __table_args__ = (UniqueConstraint("session_id", "entry_id", name="uq_seen_before_offer"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    entry_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("knowledge_entries.id", ondelete="CASCADE"), nullable=False
    )
    rank: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    message_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    added_fix_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("session_suggested_fixes.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = created_at()


# Database objects the migration creates beside the models (full-text structures), which the
# schema-drift check leaves alone: FTS5 tables (and their shadow tables), PostgreSQL's
# generated tsvector column and its indexes.
DB_ONLY_PREFIXES = ("knowledge_fts",)
DB_ONLY = frozenset({"search_vector", "match_vector", "ix_knowledge_entries_search",
                     "ix_knowledge_entries_match", "ix_knowledge_entries_trgm"})


def db_only(name: str | None) -> bool:
    return bool(name) and (name in DB_ONLY or str(name).startswith(DB_ONLY_PREFIXES))
