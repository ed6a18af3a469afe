"""Engine and session factory. SQLite is the embedded default; PostgreSQL in production."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import JSON, Connection, Engine, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

# JSONB on PostgreSQL, JSON on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {dict[str, Any]: JSONType, list[Any]: JSONType}


def is_postgres(bind: Engine | Connection | Session) -> bool:
    return (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name == "postgresql"


def make_engine(url: str, *, pool_size: int = 20, max_overflow: int = 40,
                pool_timeout: float = 30.0, echo: bool = False,
                application_name: str | None = None) -> Engine:
    """Build an engine with the pragmas and pool settings each backend needs."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" hook own transactions (pysqlite's own BEGIN is lazy).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        # Take the write lock at BEGIN so two writers queue instead of deadlocking on upgrade.
        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True,
        pool_timeout=pool_timeout,
        # Who holds a connection, in pg_stat_activity (the connection budget, docs/deploy.md).
        connect_args={"application_name": application_name} if application_name else {},
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def core_transaction(factory: sessionmaker[Session]) -> Iterator[Connection]:
    """One transaction on a plain connection, no ORM session: for the few statements that
    run before Slack's ack, where an ORM session's bookkeeping is most of the cost."""
    bind = factory.kw["bind"]
    with bind.begin() as conn:
        yield conn


T = TypeVar("T")


def in_transaction(
    factory: sessionmaker[Session], work: Callable[[Session], T], *, attempts: int = 4
) -> T:
    """Run ``work`` in one transaction; if a concurrent writer changed the same session row
    first (``state_version`` moved: StaleDataError), run it again on fresh state. ``work``
    must be safe to repeat: everything it did was rolled back."""
    for attempt in range(1, attempts + 1):
        try:
            with unit_of_work(factory) as db:
                return work(db)
        except StaleDataError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
