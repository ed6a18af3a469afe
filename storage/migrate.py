"""Schema migrations (Alembic), driven from code: ``flowpilot db upgrade`` and start-up checks."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import storage.models  # noqa: F401
from storage.db import Base
from storage.models.knowledge import db_only

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``. Idempotent: at head it does nothing."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def _compared(name: str | None, type_: str, parent_names: object) -> bool:
    # Full-text structures exist only in the migration (storage.models.knowledge.DB_ONLY);
    # procrastinate's tables are its own (queue mode, migration 20_procrastinate).
    return not db_only(name) and not str(name or "").startswith("procrastinate_")


def schema_drift(engine: Engine) -> list[object]:
    """Differences between the models and a migrated database (empty = they agree)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                     "include_name": _compared})
        return list(compare_metadata(ctx, Base.metadata))
