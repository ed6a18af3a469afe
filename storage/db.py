"""Engine and session factory. SQLite is the embedded default; PostgreSQL in production."""

from __future__ import annotations

import logging
import os
import queue
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

from sqlalchemy import JSON, Connection, Engine, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

# An execution option for a connection that only reads: on SQLite its transactions begin
# DEFERRED, so (in WAL mode) they never hold the write lock a writer waits for.
READ_ONLY = "fp_read_only"

# JSONB on PostgreSQL, JSON on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {dict[str, Any]: JSONType, list[Any]: JSONType}


def is_postgres(bind: Engine | Connection | Session) -> bool:
    return (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name == "postgresql"


log = logging.getLogger(__name__)

GateRole = Literal["first", "yield"]
GATE_WAIT = 30.0  # seconds, as the busy timeout: a writer never waits forever


class WriteGate:
    """SQLite, two processes writing one file (``run``/``serve`` and their worker process):
    the acking process writes first.

    SQLite's busy handler is not fair and polls: a writer that finds the file locked sleeps
    (1, 2, 5 … 100 ms) and tries again, while a worker with many threads takes the lock back
    between its own transactions, so an ack could wait seconds. Two ``flock`` files next to
    the database order the writers instead. The acking process (``first``) takes ``-intent``
    and then ``-gate`` exclusively around each write transaction (a descriptor per thread, so
    its threads queue there as they would for the write lock). The worker (``yield``) runs
    one write transaction at a time: it passes ``-intent`` (shared, dropped at once: it waits
    while an ack writes or wants to) and holds ``-gate`` shared for its transaction, so a
    waiting ack is woken by the kernel the moment that transaction ends, never more than one
    worker transaction late. Read-only connections (``READ_ONLY``) take neither."""

    def __init__(self, path: str, role: GateRole) -> None:
        import fcntl

        self._flock = fcntl.flock
        self._ex, self._sh, self._un = fcntl.LOCK_EX, fcntl.LOCK_SH, fcntl.LOCK_UN
        self.paths = (f"{path}-intent", f"{path}-gate")
        self.role = role
        self._local = threading.local()
        self._one_writer = threading.Lock()  # the worker's: one write transaction at a time
        self._shared: tuple[int, int] | None = None

    def _fds(self) -> tuple[int, int]:
        if self.role == "yield":  # one writer at a time: one pair of descriptors
            if self._shared is None:
                self._shared = self._open()
            return self._shared
        fds = getattr(self._local, "fds", None)
        if fds is None:
            fds = self._local.fds = self._open()
        return fds  # type: ignore[no-any-return]

    def _open(self) -> tuple[int, int]:
        intent, gate = (os.open(p, os.O_RDWR | os.O_CREAT, 0o600) for p in self.paths)
        return intent, gate

    def enter(self) -> None:
        if getattr(self._local, "held", False):
            return
        if self.role == "first":
            intent, gate = self._fds()
            self._flock(intent, self._ex)
            self._flock(gate, self._ex)
            self._local.held = True
            return
        # A thread never opens a second write transaction inside its first on SQLite (the
        # second would wait for the first's lock); should one, it goes on after GATE_WAIT.
        self._local.mutex = self._one_writer.acquire(timeout=GATE_WAIT)
        intent, gate = self._fds()
        self._flock(intent, self._sh)
        self._flock(intent, self._un)
        self._flock(gate, self._sh)
        self._local.held = True

    def leave(self) -> None:
        if not getattr(self._local, "held", False):
            return
        self._local.held = False
        intent, gate = self._fds()
        self._flock(gate, self._un)
        if self.role == "first":
            self._flock(intent, self._un)
        elif self._local.mutex:
            self._local.mutex = False
            self._one_writer.release()


GROUP_MAX = 64  # writes of one group transaction at most


class GroupWriter:
    """SQLite, the acking process: the one-statement writes before Slack's ack are written
    by one thread, as many in one transaction as are waiting (group commit).

    SQLite writes one transaction at a time. Written one per ack, 16 acks at once queued for
    the lock, each paying BEGIN IMMEDIATE, COMMIT and a thread wake-up (~1.1 ms): the last
    ack waited ~20 ms (benchmarks/README.md). Here the acks waiting when a transaction
    starts share it: each in its own SAVEPOINT, so one that fails is rolled back alone and
    told its error; if the transaction itself fails, every one of them is told."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[tuple[Callable[[Connection], Any], Future[Any]]] = \
            queue.SimpleQueue()
        self._started = threading.Lock()
        self._thread: threading.Thread | None = None

    def run(self, work: Callable[[Connection], T]) -> T:
        if self._thread is None:
            with self._started:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="fp-group-writer",
                                                    daemon=True)
                    self._thread.start()
        done: Future[T] = Future()
        self._queue.put((work, done))
        return done.result(timeout=2 * GATE_WAIT)

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < GROUP_MAX:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except BaseException as exc:  # never leave a writer waiting
                log.exception("group write failed")
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)

    def _write(self, batch: list[tuple[Callable[[Connection], Any], Future[Any]]]) -> None:
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with self._engine.begin() as conn:
                for work, done in batch:
                    try:
                        with conn.begin_nested():
                            outcomes.append((done, work(conn), None))
                    except Exception as exc:
                        outcomes.append((done, None, exc))
        except Exception as exc:  # BEGIN or COMMIT failed: none of them is written
            for _, done in batch:
                done.set_exception(exc)
            return
        for done, result, error in outcomes:
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)


_GROUP_WRITERS: weakref.WeakKeyDictionary[Engine, GroupWriter] = weakref.WeakKeyDictionary()


def make_engine(url: str, *, pool_size: int = 20, max_overflow: int = 40,
                pool_timeout: float = 30.0, echo: bool = False,
                application_name: str | None = None, gate: GateRole | None = None) -> Engine:
    """Build an engine with the pragmas and pool settings each backend needs. ``gate``
    (SQLite file only): this process's role at the ``WriteGate``; ``application_name``
    (PostgreSQL only): how its connections are named."""
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

        # Take the write lock at BEGIN so two writers queue instead of deadlocking on upgrade
        # (a connection marked READ_ONLY only reads: a deferred BEGIN takes no lock).
        database = engine.url.database or ""
        write_gate = WriteGate(database, gate) if gate and database and \
            database != ":memory:" else None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
                return
            if write_gate is None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            write_gate.enter()
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                write_gate.leave()
                raise

        if write_gate is not None:
            def _leave(*_args: Any) -> None:
                write_gate.leave()

            # At COMMIT or ROLLBACK (these events fire just before it runs: a writer let in
            # then waits a moment on the lock), and, in case a transaction ended some other
            # way, when its connection goes back to the pool.
            event.listen(engine, "checkin", _leave)
            event.listen(engine, "reset", _leave)
            event.listen(engine, "commit", _leave)
            event.listen(engine, "rollback", _leave)
            if gate == "first":
                _GROUP_WRITERS[engine] = GroupWriter(engine)

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
def read_only(bind: Engine) -> Iterator[Connection]:
    """A connection that only reads: on a SQLite file it takes neither the write gate nor
    the write lock (a deferred BEGIN), so it never holds up the acks."""
    with bind.connect() as conn:
        yield conn.execution_options(**{READ_ONLY: True})


def core_write(factory: sessionmaker[Session], work: Callable[[Connection], T]) -> T:
    """``work`` in a short transaction on a plain connection (before Slack's ack). On the
    acking process's SQLite file, together with the other acks waiting (``GroupWriter``)."""
    bind = factory.kw["bind"]
    writer = _GROUP_WRITERS.get(bind)
    if writer is not None:
        return writer.run(work)
    with bind.begin() as conn:
        return work(conn)


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
