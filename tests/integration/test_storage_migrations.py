"""Alembic owns the schema: a brand-new database upgrades to head (twice, harmlessly), reports
itself current, and matches the models exactly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import PG_ADMIN_URL
from pgdb import scratch_database
from sqlalchemy import Engine, inspect, text

from storage.db import Base, make_engine
from storage.migrate import current_revision, head_revision, is_current, schema_drift, upgrade
from storage.models.knowledge import db_only


@pytest.fixture()
def fresh_engine(engine: Engine, db_url: str, tmp_path: object) -> Iterator[Engine]:
    """An empty, never-migrated database on the backend under test. (Depends on ``engine`` so
    it runs in the PostgreSQL pass.)"""
    if not db_url.startswith("postgresql"):
        fresh = make_engine(f"sqlite:///{tmp_path}/fresh.db")
        yield fresh
        fresh.dispose()
        return
    with scratch_database(PG_ADMIN_URL, "fp_mig") as url:
        fresh = make_engine(url)
        try:
            yield fresh
        finally:
            fresh.dispose()


def test_fresh_database_is_on_the_backend_under_test(fresh_engine: Engine, db_url: str) -> None:
    expected = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    assert fresh_engine.dialect.name == expected
    assert inspect(fresh_engine).get_table_names() == []


def test_an_unmigrated_database_is_not_current(fresh_engine: Engine) -> None:
    assert current_revision(fresh_engine) is None
    assert is_current(fresh_engine) is False


def test_upgrade_twice_reaches_head_and_matches_the_models(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)
    upgrade(fresh_engine)  # at head: nothing to do, and no error
    assert current_revision(fresh_engine) == head_revision()
    assert is_current(fresh_engine) is True
    tables = set(inspect(fresh_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    extra = {t for t in tables - set(Base.metadata.tables) if not db_only(t)}
    queue = {t for t in extra if t.startswith("procrastinate_")}  # queue mode's, PostgreSQL
    expected_queue = ({"procrastinate_jobs", "procrastinate_events", "procrastinate_workers",
                       "procrastinate_periodic_defers"}
                      if fresh_engine.dialect.name == "postgresql" else set())
    assert queue == expected_queue
    assert extra - queue == {"alembic_version"}
    assert schema_drift(fresh_engine) == []
    with fresh_engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert versions == [head_revision()]


def test_schema_drift_notices_a_missing_index(fresh_engine: Engine) -> None:
    # The drift check must be able to fail: remove something the models declare.
    upgrade(fresh_engine)
    with fresh_engine.begin() as conn:
        conn.execute(text("DROP INDEX uq_ai_sessions_open_thread"))
    drift = schema_drift(fresh_engine)
    assert drift, "dropping a declared index went unnoticed"
    assert "uq_ai_sessions_open_thread" in repr(drift)
    assert is_current(fresh_engine) is True  # the revision alone cannot tell


def test_the_shared_test_database_is_at_head(engine: Engine) -> None:
    assert is_current(engine)
    assert current_revision(engine) == head_revision()
    assert schema_drift(engine) == []
