"""Shared fixtures: a fresh database per test run (SQLite file or a new PostgreSQL database),
emptied between tests; the wire fakes for Slack and Anthropic.

Choose the backend with ``FLOWPILOT_TEST_DB=sqlite`` (default) or ``postgres``. On the
PostgreSQL pass only tests that touch the database run (the others ran on the SQLite pass).
Under ``CI=true`` a PostgreSQL that cannot be reached fails the run instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pgdb import scratch_database
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from storage.db import Base, make_engine, make_session_factory
from storage.migrate import upgrade

BACKEND = os.environ.get("FLOWPILOT_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get(
    "FLOWPILOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DB_FIXTURES = {"engine", "db_url", "factory", "db"}


def pytest_report_header(config: pytest.Config) -> str:
    return f"flowpilot test database: {BACKEND}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND != "postgres":
        skip = pytest.mark.skip(reason="PostgreSQL-only test (set FLOWPILOT_TEST_DB=postgres)")
        for item in items:
            if item.get_closest_marker("postgres_only"):
                item.add_marker(skip)
        return
    keep, drop = [], []
    for item in items:
        uses_db = bool(DB_FIXTURES & set(getattr(item, "fixturenames", ())))
        (keep if uses_db else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if BACKEND == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "flowpilot-test.db"
        yield f"sqlite:///{path}"
        return
    database = scratch_database(PG_ADMIN_URL, "fp_test")
    try:
        url = database.__enter__()
    except Exception as exc:  # pragma: no cover - depends on the machine
        msg = f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    yield url
    database.__exit__(None, None, None)


@pytest.fixture(scope="session")
def _migrated_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _empty_all_tables(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # procrastinate's jobs too (queue mode); its workers' rows go with them.
            tables += ["procrastinate_jobs", "procrastinate_periodic_defers",
                       "procrastinate_events", "procrastinate_workers"]
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture()
def engine(_migrated_engine: Engine) -> Iterator[Engine]:
    """The migrated test database, empty at the start of every test."""
    _empty_all_tables(_migrated_engine)
    yield _migrated_engine


@pytest.fixture()
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture()
def db(factory: sessionmaker[Session]) -> Iterator[Session]:
    session = factory()
    yield session
    session.rollback()
    session.close()


@pytest.fixture()
def fake_slack() -> Iterator[object]:
    from bot.sandbox.fake_slack import FakeSlack

    with FakeSlack() as fake:
        yield fake


@pytest.fixture()
def fake_anthropic() -> Iterator[object]:
    from fakes.anthropic_server import FakeAnthropic

    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture()
def harness(db_url: str, engine: Engine, fake_slack: object) -> Iterator[object]:
    """The real app, offline engine, against the fake Slack (see tests/support.py)."""
    from support import Harness

    h = Harness(db_url, fake_slack)  # type: ignore[arg-type]
    yield h
    h.close()


@pytest.fixture()
def claude_harness(db_url: str, engine: Engine, fake_slack: object,
                   fake_anthropic: object) -> Iterator[object]:
    from support import Harness

    h = Harness(db_url, fake_slack, anthropic_url=fake_anthropic.url)  # type: ignore[arg-type,attr-defined]
    yield h
    h.close()


@pytest.fixture()
def make(db_url: str, engine: Engine, fake_slack: Any,
         fake_anthropic: Any) -> Iterator[Callable[..., Any]]:
    """Build Claude-engine harnesses with extra settings (``make(FLOWPILOT_…=…, clock=…)``);
    each is closed at the end of the test."""
    from support import Harness

    made: list[Harness] = []

    def build(**overrides: Any) -> Harness:
        overrides.setdefault("anthropic_url", fake_anthropic.url)
        h = Harness(db_url, fake_slack, **overrides)
        made.append(h)
        return h

    yield build
    for h in made:
        h.close()
