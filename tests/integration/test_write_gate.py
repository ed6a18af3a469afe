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
