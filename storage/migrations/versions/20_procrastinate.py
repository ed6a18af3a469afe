"""queue mode's job tables: procrastinate's schema (issue 20)

PostgreSQL only (queue mode needs it); nothing on SQLite. procrastinate 3.10's ``schema.sql``
is its schema as of its migration 03.04.00; a later procrastinate that ships migrations after
that one gets a new Alembic revision applying them (see docs/deploy.md, "Upgrades").

Revision ID: 20_procrastinate
Revises: 18_escalation_team
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "20_procrastinate"
down_revision: str | None = "19_turn_feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    exists = bind.exec_driver_sql(
        "SELECT to_regclass('procrastinate_jobs') IS NOT NULL").scalar()
    if exists:
        return  # applied by hand (`procrastinate schema --apply`) before this revision
    # Several statements in one script: psycopg runs them as one simple query when no
    # parameters are passed (procrastinate's own ``apply_schema`` does the same).
    bind.connection.driver_connection.execute(SchemaManager.get_schema())  # type: ignore[union-attr]


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    bind.exec_driver_sql("""
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables
             WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate\\_%' LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.tablename);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%' LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', r.fn);
    END LOOP;
    FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%'
               AND t.typtype IN ('e', 'c') LOOP
        EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', r.typname);
    END LOOP;
END $$""")
