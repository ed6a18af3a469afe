"""knowledge search: "Seen before" index, offers, draft review and script use

Revision ID: 17_knowledge_search
Revises: 0001

SQLite: an FTS5 table with external content (``knowledge_fts``) over ``knowledge_entries``,
kept in step by triggers (https://www.sqlite.org/fts5.html#external_content_tables).
PostgreSQL: a generated, weighted ``tsvector`` column with a GIN index
(https://www.postgresql.org/docs/15/textsearch-tables.html) and a pg_trgm GIN index on the
problem text (https://www.postgresql.org/docs/15/pgtrgm.html).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "17_knowledge_search"
down_revision: str | None = "14_oauth_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

SQLITE_FTS = [
    """CREATE VIRTUAL TABLE knowledge_fts USING fts5(
        problem, facts, fix_title, note,
        content='knowledge_entries', content_rowid='id', tokenize='porter unicode61')""",
    """CREATE TRIGGER knowledge_fts_ai AFTER INSERT ON knowledge_entries BEGIN
        INSERT INTO knowledge_fts(rowid, problem, facts, fix_title, note)
        VALUES (new.id, new.problem, new.facts, new.fix_title, new.note);
    END""",
    """CREATE TRIGGER knowledge_fts_ad AFTER DELETE ON knowledge_entries BEGIN
        INSERT INTO knowledge_fts(knowledge_fts, rowid, problem, facts, fix_title, note)
        VALUES ('delete', old.id, old.problem, old.facts, old.fix_title, old.note);
    END""",
    """CREATE TRIGGER knowledge_fts_au AFTER UPDATE ON knowledge_entries BEGIN
        INSERT INTO knowledge_fts(knowledge_fts, rowid, problem, facts, fix_title, note)
        VALUES ('delete', old.id, old.problem, old.facts, old.fix_title, old.note);
        INSERT INTO knowledge_fts(rowid, problem, facts, fix_title, note)
        VALUES (new.id, new.problem, new.facts, new.fix_title, new.note);
    END""",
]

POSTGRES_FTS = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """ALTER TABLE knowledge_entries ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(problem, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(fix_title, '')), 'B') ||
        setweight(to_tsvector('english', coalesce(facts, '')), 'B') ||
        setweight(to_tsvector('english', coalesce(note, '')), 'C')) STORED""",
    "CREATE INDEX ix_knowledge_entries_search ON knowledge_entries USING gin (search_vector)",
    # Matching (which rows share two words) reads this smaller, unweighted vector: a GIN
    # index answers it exactly, with no per-row recheck (weight-restricted queries need one).
    """ALTER TABLE knowledge_entries ADD COLUMN match_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('english', coalesce(problem, '') || ' ' || coalesce(fix_title, '') || ' '
                    || coalesce(facts, ''))) STORED""",
    "CREATE INDEX ix_knowledge_entries_match ON knowledge_entries USING gin (match_vector)",
    "CREATE INDEX ix_knowledge_entries_trgm ON knowledge_entries USING gin (problem gin_trgm_ops)",
]


def upgrade() -> None:
    op.create_table(
        "knowledge_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("fix_title", sa.Text(), nullable=False),
        sa.Column("fix_steps", JSON, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("domain", sa.String(length=100), nullable=False),
        sa.Column("resolved_by_slack_id", sa.String(length=32), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id"),
    )
    with op.batch_alter_table("knowledge_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_knowledge_entries_account_id"), ["account_id", "id"], unique=False
        )
    op.create_table(
        "seen_before_offers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("added_fix_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["added_fix_id"], ["session_suggested_fixes.id"],
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["entry_id"], ["knowledge_entries.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "entry_id", name="uq_seen_before_offer"),
    )
    with op.batch_alter_table("seen_before_offers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_seen_before_offers_session_id"), ["session_id"], unique=False
        )
    with op.batch_alter_table("script_templates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("use_count", sa.Integer(), server_default=sa.text("0"),
                                      nullable=False))
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("draft_templates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("review_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("origin", sa.String(length=20), server_default="claude",
                                      nullable=False))
    for statement in SQLITE_FTS if op.get_bind().dialect.name == "sqlite" else POSTGRES_FTS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("knowledge_fts_ai", "knowledge_fts_ad", "knowledge_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
    with op.batch_alter_table("draft_templates", schema=None) as batch_op:
        batch_op.drop_column("origin")
        batch_op.drop_column("review_note")
        batch_op.drop_column("reviewed_at")
    with op.batch_alter_table("script_templates", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("use_count")
    op.drop_table("seen_before_offers")
    op.drop_table("knowledge_entries")
