"""``/flowpilot stats`` at 10,000 sessions in the window: the queries and the chart.

How to run (PostgreSQL: an admin URL that may create databases; nothing else is touched):

    .venv/bin/python benchmarks/stats.py
    .venv/bin/python benchmarks/stats.py --sessions 50000 --runs 7 --skip-sqlite

For SQLite (a temporary file) and PostgreSQL (a scratch database ``fp_bench_stats_…``,
dropped at the end) it migrates a fresh database, seeds ``--sessions`` sessions opened over
the last 90 days by 50 technicians in 5 teams (a realistic mix of outcomes, ratings,
feedback, hand-offs, tokens on half of them, one model step per Claude session) plus
as many again in a second workspace or 120-400 days before the window (rows the queries
must skip through the index), then times, over ``--runs`` runs: ``fill`` (every query of
the stats view: the workspace's 90-day window as an admin sees it, with teams and
technicians) and, separately, one technician's own 7-day numbers; and the chart render
(Pillow). It prints the median and worst of each, and the query plan of the main
aggregate on PostgreSQL (index use).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from pgdb import scratch_database  # noqa: E402
from sqlalchemy import Engine, func, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bot.render.stats import StatsView  # noqa: E402
from bot.services.stats import Scope, chart_png, fill, window_bounds  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Account, AISession, AISessionStep, Team, User  # noqa: E402

ADMIN_URL = os.environ.get("FLOWPILOT_BENCH_PG_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
STATUSES = ["resolved"] * 6 + ["abandoned", "escalated", "active", "paused"]


def _workspace(db: Session, slack_team: str) -> tuple[uuid.UUID, list[uuid.UUID]]:
    account = Account(slack_team_id=slack_team, name=slack_team)
    db.add(account)
    db.flush()
    teams = [Team(account_id=account.id, name=f"Team {n}") for n in range(5)]
    db.add_all(teams)
    db.flush()
    users = [User(account_id=account.id, slack_user_id=f"U{slack_team}{n:03d}",
                  display_name=f"tech {n}", tz="UTC", team_id=teams[n % 5].id)
             for n in range(50)]
    db.add_all(users)
    db.flush()
    return account.id, [u.id for u in users]


def seed(engine: Engine, n: int, rnd: random.Random) -> tuple[uuid.UUID, uuid.UUID]:
    """``n`` sessions in the window of workspace A, ``n`` more elsewhere (B, and old)."""
    with Session(engine) as db, db.begin():
        account, users = _workspace(db, "TBENCHA")
        other, other_users = _workspace(db, "TBENCHB")
        team_of = dict(db.execute(select(User.id, User.team_id)).all())
    rows: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    for i in range(2 * n):
        in_window = i < n
        acc, who = (account, users) if in_window or i % 2 else (other, other_users)
        owner = rnd.choice(who)
        created = NOW - timedelta(days=rnd.uniform(0, 89) if in_window
                                  else rnd.uniform(0, 89) if acc == other
                                  else rnd.uniform(120, 400))
        status = rnd.choice(STATUSES)
        claude = rnd.random() < 0.5
        sid = uuid.uuid4()
        rows.append(dict(
            id=sid, user_id=owner, account_id=acc, team_id=team_of[owner], status=status,
            problem_summary=f"Problem {i}", problem_domain=rnd.choice(
                ["m365", "network", "printing", "identity", "hardware", None]),
            created_at=created, updated_at=created, status_changed_at=created,
            last_activity_at=created, slack_channel_id=f"C{i % 40}",
            slack_thread_ts=f"{1600000000 + i}.000100", participants=[], engine="offline",
            total_active_seconds=rnd.randint(60, 14_400),
            total_parked_seconds=rnd.randint(0, 40_000),
            handoff_count=rnd.choice([0, 0, 0, 1, 2]),
            escalation_package_posted_at=created + timedelta(hours=1)
            if status == "escalated" or (status == "resolved" and rnd.random() < 0.1) else None,
            resolved_at=created + timedelta(hours=2) if status == "resolved" else None,
            resolution_action=rnd.choice(["1. Reset the password", "1. Clear the cache",
                                          "1. Re-enroll the device"])
            if status == "resolved" else None,
            session_rating=rnd.randint(1, 5) if status == "resolved" and rnd.random() < 0.6
            else None,
            session_feedback="quick and clear" if rnd.random() < 0.05 else None,
            system_prompt_snapshot="claude claude-sonnet-5-5; system prompt sha256:abc"
            if claude else "offline: built-in flows (no model prompt)",
            total_input_tokens=rnd.randint(1000, 30_000) if claude else 0,
            total_output_tokens=rnd.randint(100, 3000) if claude else 0,
            total_cache_read_tokens=rnd.randint(0, 80_000) if claude else 0,
            total_cache_write_tokens=rnd.randint(0, 8000) if claude else 0,
        ))
        if claude:
            steps.append(dict(id=uuid.uuid4(), session_id=sid, step_order=1, step_type="ai_turn",
                              content={}, input_tokens=1000, output_tokens=100,
                              created_at=created))
    with Session(engine) as db, db.begin():
        for k in range(0, len(rows), 2000):
            db.execute(insert(AISession), rows[k:k + 2000])
        for k in range(0, len(steps), 2000):
            db.execute(insert(AISessionStep), steps[k:k + 2000])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    return account, users[0]


def _timed(fn: Any, runs: int) -> tuple[list[float], Any]:
    times, out = [], None
    for _ in range(runs):
        started = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - started) * 1000)
    return times, out


def _show(label: str, times: list[float]) -> None:
    print(f"  {label}: median {statistics.median(times):.0f} ms · worst {max(times):.0f} ms "
          f"over {len(times)} runs")


def run(engine: Engine, label: str, n: int, runs: int) -> None:
    upgrade(engine)
    started = time.perf_counter()
    account, tech = seed(engine, n, random.Random(19))
    print(f"{label}: seeded {n:,} sessions in the window (+{n:,} outside it) in "
          f"{time.perf_counter() - started:.0f} s")

    def workspace_90d() -> StatsView:
        since, until = window_bounds(NOW, 90)
        view = StatsView("90d", since.date().isoformat(), until.date().isoformat(), False, "U")
        with Session(engine) as db:
            fill(db, view, Scope(account, None, since, until), per_person=True)
        return view

    def mine_7d() -> StatsView:
        since, until = window_bounds(NOW, 7)
        view = StatsView("7d", since.date().isoformat(), until.date().isoformat(), True, "U")
        with Session(engine) as db:
            fill(db, view, Scope(account, tech, since, until))
        return view

    times, view = _timed(workspace_90d, runs)
    assert view.opened == n, (view.opened, n)
    _show(f"stats queries, workspace 90d ({view.opened:,} sessions, admin view)", times)
    times, mine = _timed(mine_7d, runs)
    _show(f"stats queries, one technician 7d ({mine.opened} sessions)", times)
    times, png = _timed(lambda: chart_png(view), runs)
    _show(f"chart render, 90 days ({len(png):,} bytes PNG)", times)
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    if engine.dialect.name == "postgresql":
        since, until = window_bounds(NOW, 90)
        stmt = select(func.count()).where(*Scope(account, None, since, until).where())
        sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
        with engine.connect() as conn:
            plan = conn.execute(text("EXPLAIN " + sql)).scalars().all()
        print("  plan of the window's count:\n    " + "\n    ".join(plan))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            run(engine, "SQLite", args.sessions, args.runs)
            engine.dispose()
    if not args.skip_postgres:
        with scratch_database(ADMIN_URL, "fp_bench_stats") as url:
            engine = make_engine(url)
            try:
                run(engine, "PostgreSQL", args.sessions, args.runs)
            finally:
                engine.dispose()


if __name__ == "__main__":
    main()
