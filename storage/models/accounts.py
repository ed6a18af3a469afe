"""Workspaces (accounts), their teams, users, settings and PSA connections."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
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


class Account(Base):
    """A Slack workspace (an MSP, or an internal IT team)."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("total_input_tokens >= 0", name="ck_accounts_input_tokens"),
        CheckConstraint("total_output_tokens >= 0", name="ck_accounts_output_tokens"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    slack_team_id: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    slack_enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Workspace-wide model usage (the session counters summed, kept for cost reporting).
    total_input_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    total_output_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    total_cache_read_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    total_cache_write_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Team(Base):
    """A group of people within a workspace (e.g. the tier-3 escalation engineers)."""

    __tablename__ = "teams"
    __table_args__ = (
        UniqueConstraint("account_id", "name", name="uq_teams_account_name"),
        CheckConstraint("routing IN ('tag_all', 'round_robin')", name="ck_teams_routing"),
        CheckConstraint("next_member >= 0", name="ck_teams_next_member"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    slack_usergroup_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Issue 18: how an escalation to the team is routed: tag every member, or one member in
    # turn (``next_member`` is the round-robin cursor into the members ordered by Slack id).
    routing: Mapped[str] = mapped_column(
        String(20), nullable=False, default="tag_all", server_default="tag_all"
    )
    next_member: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=sa.text("0")
    )
    created_at: Mapped[datetime] = created_at()

    account: Mapped[Account] = relationship("Account")


class User(Base):
    """A Slack user of a workspace, created on first sight."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("account_id", "slack_user_id", name="uq_users_account_slack_user"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("teams.id", ondelete="SET NULL"), nullable=True
    )
    slack_user_id: Mapped[str] = mapped_column(String(32), nullable=False)
    display_name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    tz: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    account: Mapped[Account] = relationship("Account")


class AccountSettings(Base):
    """Per-account JSON preferences grab-bag; rows are created lazily by ``set_setting``."""

    __tablename__ = "account_settings"

    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    updated_at: Mapped[datetime] = updated_at()


class PsaConnection(Base):
    """A workspace's PSA (ConnectWise Manage, or a plain webhook). Credentials encrypted."""

    __tablename__ = "psa_connections"
    __table_args__ = (
        CheckConstraint("kind IN ('connectwise', 'webhook')", name="ck_psa_connections_kind"),
        Index("ix_psa_connections_account", "account_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    credentials_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
