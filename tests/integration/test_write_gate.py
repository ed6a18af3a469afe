"""SQLite with two writing processes (``run``/``serve`` and their worker): the write gate lets
the acking process's transactions go first (storage/db.py ``WriteGate``). Two gates on one
file in one process stand for the two processes (``flock`` locks belong to the open file, so
they conflict here exactly as across processes)."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from storage.db import READ_ONLY, WriteGate, make_engine


def _enter_in_thread(gate: WriteGate) -> tuple[threading.Thread, threading.Event]:
    entered = threading.Event()

    def run() -> None:
        gate.enter()
        entered.set()
        gate.leave()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, entered


def test_the_worker_waits_while_the_acking_process_writes(tmp_path: Path) -> None:
    first, worker = WriteGate(str(tmp_path / "db"), "first"), WriteGate(str(tmp_path / "db"), "yield")
    first.enter()
    thread, entered = _enter_in_thread(worker)
    assert not entered.wait(0.3), "the worker began a write while an ack was writing"
    first.leave()
    assert entered.wait(10)
    thread.join(10)


def test_an_ack_waits_for_the_one_worker_transaction_in_flight(tmp_path: Path) -> None:
    first, worker = WriteGate(str(tmp_path / "db"), "first"), WriteGate(str(tmp_path / "db"), "yield")
    worker.enter()
    thread, entered = _enter_in_thread(first)
    assert not entered.wait(0.3)
    worker.leave()
    assert entered.wait(10)
    thread.join(10)


def test_the_worker_runs_one_write_transaction_at_a_time(tmp_path: Path) -> None:
    worker = WriteGate(str(tmp_path / "db"), "yield")
    worker.enter()
    thread, entered = _enter_in_thread(worker)  # another thread of the worker process
    assert not entered.wait(0.3)
    worker.leave()
    assert entered.wait(10)
    thread.join(10)
    worker.leave()  # leaving twice is harmless


def test_engines_with_gates_write_and_read_only_connections_bypass_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    acking, working = make_engine(url, gate="first"), make_engine(url, gate="yield")
    try:
        with acking.begin() as conn:
            conn.execute(text("CREATE TABLE t (n integer)"))
        with working.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        # An ack mid-transaction: the worker may still read (no gate, no lock) ...
        with acking.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
            with working.connect() as reader:
                reader = reader.execution_options(**{READ_ONLY: True})
                assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 1
            # ... but its next write waits for the ack to commit.
            done = threading.Event()

            def write() -> None:
                with working.begin() as other:
                    other.execute(text("INSERT INTO t VALUES (3)"))
                done.set()

            thread = threading.Thread(target=write, daemon=True)
            thread.start()
            assert not done.wait(0.3)
        assert done.wait(10)
        thread.join(10)
        with acking.connect() as conn:
            assert sorted(conn.execute(text("SELECT n FROM t")).scalars()) == [1, 2, 3]
        # A failed statement rolls back and lets the gate go.
        try:
            with working.begin() as conn:
                conn.execute(text("INSERT INTO missing VALUES (1)"))
        except Exception:
            pass
        with acking.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (4)"))
        with working.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (5)"))
    finally:
        acking.dispose()
        working.dispose()


def _factory(engine):  # type: ignore[no-untyped-def]
    from storage.db import make_session_factory

    return make_session_factory(engine)


def test_acks_waiting_together_are_written_in_one_transaction(tmp_path: Path) -> None:
    """The acking process's writes go through one writer thread, as many per transaction as
    are waiting (group commit); each caller gets its own result."""
    from sqlalchemy import event

    from storage.db import core_write

    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}", gate="first")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (n integer UNIQUE)"))
        begins: list[int] = []
        event.listen(engine, "begin", lambda conn: begins.append(1))
        factory = _factory(engine)
        start = threading.Barrier(32)
        results: dict[int, int] = {}

        def ack(n: int) -> None:
            start.wait()
            results[n] = core_write(factory, lambda db: db.execute(
                text("INSERT INTO t (n) VALUES (:n) RETURNING n"), {"n": n}).scalar_one())

        threads = [threading.Thread(target=ack, args=(n,)) for n in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert results == {n: n for n in range(32)}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 32
        assert len(begins) < 32  # fewer transactions than writes
    finally:
        engine.dispose()


def test_a_failing_write_is_rolled_back_alone_and_told_to_its_caller(tmp_path: Path) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    from storage.db import core_write

    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}", gate="first")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (n integer UNIQUE)"))
            conn.execute(text("INSERT INTO t (n) VALUES (1)"))
        factory = _factory(engine)
        start = threading.Barrier(9)
        outcome: dict[int, object] = {}

        def ack(n: int) -> None:
            start.wait()
            try:
                outcome[n] = core_write(factory, lambda db: db.execute(
                    text("INSERT INTO t (n) VALUES (:n)"), {"n": n}).rowcount)
            except IntegrityError as exc:
                outcome[n] = exc

        threads = [threading.Thread(target=ack, args=(n,)) for n in range(1, 10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert isinstance(outcome[1], IntegrityError)  # 1 was there: only its caller is told
        assert all(outcome[n] == 1 for n in range(2, 10))
        with engine.connect() as conn:
            assert sorted(conn.execute(text("SELECT n FROM t")).scalars()) == list(range(1, 10))
        with pytest.raises(ValueError):  # an error in the work itself reaches the caller
            core_write(factory, lambda db: (_ for _ in ()).throw(ValueError("bad input")))
        assert core_write(factory, lambda db: db.execute(text("SELECT 7")).scalar()) == 7
    finally:
        engine.dispose()
