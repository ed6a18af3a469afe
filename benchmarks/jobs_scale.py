"""Scheduled jobs at scale: is one pass index-driven, whatever the table size?

How to run (needs a PostgreSQL you may create databases on; nothing else is touched):

    .venv/bin/python benchmarks/jobs_scale.py
    FLOWPILOT_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python benchmarks/jobs_scale.py --sizes 10000 1000000

It creates a fresh database ``fp_bench_<random>``, migrates it, seeds 10,000 sessions with a
realistic mix of statuses and ages (``INSERT … SELECT generate_series``), plus exactly 100
due rows for each of ``nudge_stale``, ``post_escalations`` and ``escalation_sla``; times one
pass of each (every post is a real HTTP call to the in-process fake Slack); then grows the
table to 1,000,000 sessions, seeds 100 fresh due rows per job and times the same passes.
It prints both timings, their ratio (target: the 1M pass under 2x the 10k pass) and the
``EXPLAIN ANALYZE`` of each job's claim query, then drops the database. About 3-6 minutes on
2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from pgdb import scratch_database  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402

from bot.clock import FakeClock  # noqa: E402
from bot.jobs import (  # noqa: E402
    JobResult,
    claim_query,
    escalation_sla,
    nudge_stale,
    nudge_where,
    post_escalations,
    post_where,
    sla_where,
)
from bot.sandbox.fake_slack import FakeSlack  # noqa: E402
from storage.models import AISession  # noqa: E402

ADMIN_URL = os.environ.get("FLOWPILOT_BENCH_PG_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday, inside working hours
DUE = 100
USERS = 500

# The columns every seeded row sets (the NOT NULL ones the ORM would default), as SQL over i.
_BASE = """
    gen_random_uuid(), (CAST(:users AS uuid[]))[1 + i % {users}],
    :account, 'guided', 'free_text', '{{}}'::jsonb, 'discovery', 0.5, 0, 0, 0,
    '[]'::jsonb, 0, false, 0, 0, 0, 'C' || (i % 50)::text,
    (1600000000 + i)::text || '.000100', '[]'::jsonb, 'offline', 0, 0, 0, 0, 0,
    'Session ' || i::text, 'm365'
"""
_COLS = """
    id, user_id, account_id, session_type, intake_type, intake_content, confidence_tier,
    confidence_score, total_input_tokens, total_output_tokens, step_count, conversation_messages,
    state_version, is_branching, handoff_count, total_active_seconds, total_parked_seconds,
    slack_channel_id, slack_thread_ts, participants, engine, total_cache_read_tokens,
    total_cache_write_tokens, nudge_count, escalation_post_attempts, escalation_reping_count,
    problem_summary, problem_domain,
    status, created_at, updated_at, status_changed_at, last_activity_at, last_human_activity_at,
    resolved_at, ended_at, next_nudge_at, escalation_post_next_at, escalation_deadline_at,
    escalation_message_ts, escalation_channel_id, escalated_to_id, analysis_status
"""
# A realistic mix: most sessions finished long ago; a few percent open, none of them due.
# b = i % 1000 picks the kind; ages spread over a year.
_BACKGROUND = """
INSERT INTO ai_sessions ({cols})
SELECT {base},
  CASE WHEN b < 820 THEN 'resolved' WHEN b < 900 THEN 'abandoned' WHEN b < 940 THEN 'active'
       WHEN b < 975 THEN 'paused' WHEN b < 992 THEN 'escalated' ELSE 'requesting_escalation' END,
  created, created, created, created, created,
  CASE WHEN b < 820 THEN created + interval '3 hours' END,
  CASE WHEN b < 900 THEN created + interval '3 hours' END,
  -- open sessions: the next nudge, post retry and SLA deadline are all still ahead
  CASE WHEN b >= 900 AND b < 940 THEN :now + (i % 600) * interval '1 minute' END,
  CASE WHEN b >= 992 THEN :now + (1 + i % 60) * interval '1 minute' END,
  CASE WHEN b >= 975 AND b < 992 THEN :now + (1 + i % 15) * interval '1 minute' END,
  CASE WHEN b >= 975 AND b < 992 THEN '1600000000.' || lpad((i % 999999)::text, 6, '0') END,
  CASE WHEN b >= 975 THEN 'CESC' END,
  NULL,
  CASE WHEN b < 820 THEN 'completed' END
FROM (
  SELECT i, i % 1000 AS b,
         CASE WHEN i % 1000 >= 900 AND i % 1000 < 992
              THEN :now - (i % 120) * interval '1 minute'
              ELSE :now - (1 + i % 365) * interval '1 day' - (i % 1440) * interval '1 minute'
         END AS created
  FROM generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) AS i
) AS g
"""
_DUE = """
INSERT INTO ai_sessions ({cols})
SELECT {base}, :status, :now - interval '2 hours', :now - interval '2 hours',
  :now - interval '2 hours', :now - interval '45 minutes', :now - interval '45 minutes',
  NULL, NULL, :nudge, :post, :deadline, :message, 'CESC', :engineer, NULL
FROM generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) AS i
"""


def _seed_users(conn: Any, account: uuid.UUID) -> list[uuid.UUID]:
    conn.execute(text(
        "INSERT INTO users (id, account_id, slack_user_id, display_name, tz, is_admin, "
        "created_at, updated_at) SELECT gen_random_uuid(), :a, 'U' || lpad(i::text, 6, '0'), "
        "'Tech ' || i::text, 'UTC', false, :now, :now FROM generate_series(1, :n) AS i"),
        {"a": account, "now": NOW, "n": USERS})
    return list(conn.execute(text("SELECT id FROM users ORDER BY slack_user_id")).scalars())


def _fill(conn: Any, account: uuid.UUID, users: list[uuid.UUID], lo: int, hi: int) -> None:
    # In chunks, so progress shows and no single statement holds a huge transaction.
    sql = text(_BACKGROUND.format(cols=_COLS, base=_BASE.format(users=USERS)))
    step = 100_000
    for start in range(lo, hi + 1, step):
        conn.execute(sql, {"account": account, "users": users, "now": NOW, "lo": start,
                           "hi": min(hi, start + step - 1)})
        conn.commit()


def _seed_due(conn: Any, account: uuid.UUID, users: list[uuid.UUID], base_i: int) -> None:
    conn.execute(text("DELETE FROM ai_sessions WHERE problem_summary LIKE 'due %'"))
    sql = text(_DUE.format(cols=_COLS, base=_BASE.format(users=USERS).replace(
        "'Session ' || i::text", "'due ' || i::text")))
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("active", {"nudge": NOW - timedelta(minutes=15), "post": None, "deadline": None,
                    "message": None}),
        ("requesting_escalation", {"nudge": None, "post": NOW, "deadline": None,
                                   "message": None}),
        ("escalated", {"nudge": None, "post": None, "deadline": NOW, "message": "1700000000.1"}),
    ]
    for n, (status, cols) in enumerate(kinds):
        lo = base_i + n * DUE
        conn.execute(sql, {"account": account, "users": users, "now": NOW, "status": status,
                           "lo": lo, "hi": lo + DUE - 1, "engineer": users[0], **cols})
    conn.commit()
    conn.execute(text("ANALYZE ai_sessions"))
    conn.commit()


def _explain(engine: Engine) -> list[str]:
    out: list[str] = []
    queries = {
        "nudge_stale": claim_query(nudge_where(NOW), AISession.next_nudge_at, NOW, True),
        "post_escalations": claim_query(post_where(NOW), AISession.escalation_post_next_at, NOW,
                                        True),
        "escalation_sla": claim_query(sla_where(NOW), AISession.escalation_deadline_at, NOW, True),
    }
    with engine.connect() as conn:
        for name, query in queries.items():
            compiled = query.compile(dialect=engine.dialect)
            plan = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + str(compiled),
                compiled.params).scalars().all()
            out.append(f"  {name}:")
            out += [f"    {line}" for line in plan]
        conn.rollback()  # EXPLAIN ANALYZE took the row locks; let them go
    return out


def _time(svc: Any, job: Callable[[Any, datetime], JobResult]) -> tuple[float, JobResult]:
    started = time.perf_counter()
    result = job(svc, NOW)
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs=2, type=int, default=[10_000, 1_000_000])
    args = parser.parse_args(argv)
    small, large = args.sizes

    from bot.bootstrap import build
    from bot.config import load_settings
    from storage.migrate import upgrade

    database = contextlib.ExitStack()
    url = database.enter_context(scratch_database(ADMIN_URL, "fp_bench"))
    name = url.rsplit("/", 1)[1]
    print(f"database {name}")
    fake = FakeSlack().start()
    fp = None
    try:
        seed_engine = create_engine(url)
        upgrade(seed_engine)
        settings = load_settings(env_file=None, SLACK_BOT_TOKEN="xoxb-bench",
                                 SLACK_API_URL=fake.url, FLOWPILOT_DATABASE_URL=url,
                                 ANTHROPIC_API_KEY="")
        fp = build(settings, clock=FakeClock(NOW), mode="jobs", workers=1)
        svc = fp.services
        account = uuid.uuid4()
        with seed_engine.connect() as conn:
            conn.execute(text("SET synchronous_commit = off"))
            conn.execute(text(
                "INSERT INTO accounts (id, name, slack_team_id, is_active, total_input_tokens, "
                "total_output_tokens, total_cache_read_tokens, total_cache_write_tokens, "
                "created_at, updated_at) VALUES (:a, 'Bench', 'T0001', true, 0, 0, 0, 0, :now, :now)"),
                {"a": account, "now": NOW})
            users = _seed_users(conn, account)
            conn.commit()

            timings: dict[int, dict[str, float]] = {}
            plans: dict[int, list[str]] = {}
            have = 0
            for size in (small, large):
                started = time.perf_counter()
                _fill(conn, account, users, have + 1, size - 3 * DUE)
                have = size - 3 * DUE
                _seed_due(conn, account, users, 10_000_000)
                total = conn.execute(text("SELECT count(*) FROM ai_sessions")).scalar_one()
                print(f"seeded {total:,} sessions in {time.perf_counter() - started:.1f}s")
                plans[size] = _explain(seed_engine)
                # Warm up (pool connections, HTTP keep-alive): a pass a day early finds nothing.
                svc.notifier.auth_test()
                for job in (nudge_stale, post_escalations, escalation_sla):
                    job(svc, NOW - timedelta(days=1))
                timings[size] = {}
                for job in (nudge_stale, post_escalations, escalation_sla):
                    seconds, result = _time(svc, job)
                    timings[size][result.name] = seconds
                    print(f"  {size:>9,} rows  {result}  {seconds * 1000:8.1f} ms")
                    if result.done != DUE:
                        print(f"  !! expected {DUE} done", file=sys.stderr)
        seed_engine.dispose()

        print("\nresults (one pass each, 100 due rows, real HTTP posts to the fake Slack)")
        print(f"  {'job':<18} {small:>12,} {large:>12,}   ratio")
        for job_name in timings[small]:
            a, b = timings[small][job_name], timings[large][job_name]
            print(f"  {job_name:<18} {a * 1000:>10.1f}ms {b * 1000:>10.1f}ms   {b / a:5.2f}x")
        a, b = sum(timings[small].values()), sum(timings[large].values())
        verdict = "OK" if b < 2 * a else "TOO SLOW"
        print(f"  {'all three':<18} {a * 1000:>10.1f}ms {b * 1000:>10.1f}ms   {b / a:5.2f}x"
              f"   target < 2.00x: {verdict}")
        print(f"\nclaim query plans at {large:,} rows (EXPLAIN ANALYZE):")
        print("\n".join(plans[large]))
        return 0 if b < 2 * a else 1
    finally:
        if fp is not None:
            fp.close()
        fake.stop()
        database.close()
        print(f"dropped {name}")


if __name__ == "__main__":
    sys.exit(main())
