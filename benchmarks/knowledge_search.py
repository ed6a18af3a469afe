"""Seen-before retrieval: is the right past fix in the top 3, and is search fast at scale?

How to run (needs a PostgreSQL you may create databases on; nothing else is touched):

    .venv/bin/python benchmarks/knowledge_search.py
    .venv/bin/python benchmarks/knowledge_search.py --recall-size 1000 --scale 100000

1. Recall: seeds ``--recall-size`` resolved sessions (24 MSP problems, phrasings from
   ``knowledge_corpus.py`` with users, clients and devices varied; families that share words
   are each other's decoys) into a fresh SQLite file and a fresh PostgreSQL database, then
   asks with the *held-back* phrasings (never indexed). recall@3 = share of queries whose top
   3 holds a session of the right problem (target >= 0.8).
2. Scale: grows the PostgreSQL workspace to ``--scale`` resolved sessions (Core executemany,
   batched by SQLAlchemy's insertmanyvalues) and times ``bot.services.knowledge.find`` — the
   code path a new session uses — over the queries: p50 / p95 / p99 (target p99 < 50 ms).

Everything goes through the real schema (migrations) and the real search code.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from knowledge_corpus import CLIENTS, DEVICES, FAMILIES, USERS, Family  # noqa: E402
from pgdb import scratch_database  # noqa: E402
from sqlalchemy import Engine, insert, select, text  # noqa: E402

from bot.services.knowledge import find  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Account, AISession, KnowledgeEntry, User  # noqa: E402

ADMIN_URL = os.environ.get("FLOWPILOT_BENCH_PG_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
BATCH = 5_000
SHOW_MISSES = "--show-misses" in sys.argv
NOTE = """# Resolution note
## Problem
{problem}
## Environment
Client {client}, device {device}.
## What we confirmed
{facts}
## Root cause and fix
{fix}
{steps}
## Verification
The user confirmed it works.
## Time spent
{minutes} minutes active."""


def _fill(template: str, rnd: random.Random) -> dict[str, str]:
    slots = {"user": rnd.choice(USERS), "client": rnd.choice(CLIENTS), "device": rnd.choice(DEVICES)}
    return {"text": template.format(**slots), **slots}


def _entry(fam: Family, rnd: random.Random) -> dict[str, Any]:
    filled = _fill(rnd.choice(fam.seeds), rnd)
    facts = rnd.sample(fam.facts, k=rnd.randint(1, len(fam.facts)))
    steps = [s.format(**filled) for s in fam.steps]
    note = NOTE.format(problem=filled["text"], client=filled["client"], device=filled["device"],
                       facts="\n".join(f"- {f}" for f in facts), fix=fam.fix,
                       steps="\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1)),
                       minutes=rnd.randint(5, 90))
    return {"problem": filled["text"], "facts": "\n".join(facts), "fix_title": fam.fix,
            "fix_steps": steps, "note": note, "domain": "other"}


def _queries(rnd: random.Random, per_phrasing: int = 3) -> list[tuple[str, str]]:
    out = []
    for fam in FAMILIES:
        for phrasing in fam.queries:
            for _ in range(per_phrasing):
                out.append((fam.key, _fill(phrasing + " ({client}, {user})", rnd)["text"]))
    return out


def _workspace(engine: Engine) -> tuple[uuid.UUID, uuid.UUID]:
    account_id, user_id = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(insert(Account.__table__), [{"id": account_id, "name": "Bench",
                                                  "slack_team_id": f"TB{account_id.hex[:8]}"}])
        conn.execute(insert(User.__table__), [{"id": user_id, "account_id": account_id,
                                               "slack_user_id": "UBENCH"}])
    return account_id, user_id


def seed(engine: Engine, account_id: uuid.UUID, user_id: uuid.UUID, n: int, start: int,
         rnd: random.Random) -> list[str]:
    """``n`` resolved sessions and their index entries, bulk-inserted; returns their family."""
    families: list[str] = []
    for lo in range(0, n, BATCH):
        sessions, entries = [], []
        for i in range(start + lo, start + min(n, lo + BATCH)):
            fam = FAMILIES[i % len(FAMILIES)]
            e = _entry(fam, rnd)
            sid = uuid.uuid4()
            when = NOW - timedelta(minutes=i)
            sessions.append({"id": sid, "user_id": user_id, "account_id": account_id,
                             "status": "resolved", "slack_channel_id": "CBENCH",
                             "slack_thread_ts": f"{1600000000 + i}.000100",
                             "problem_summary": e["problem"], "created_at": when,
                             "updated_at": when, "resolved_at": when})
            entries.append({**e, "account_id": account_id, "session_id": sid, "resolved_at": when,
                            "resolved_by_slack_id": "UBENCH", "channel_id": "CBENCH",
                            "thread_ts": f"{1600000000 + i}.000100"})
            families.append(fam.key)
        with engine.begin() as conn:
            conn.execute(insert(AISession.__table__), sessions)
            conn.execute(insert(KnowledgeEntry.__table__), entries)
    return families


def _family_of(engine: Engine) -> dict[int, str]:
    by_fix = {f.fix: f.key for f in FAMILIES}
    with engine.connect() as conn:
        return {i: by_fix[t] for i, t in conn.execute(
            select(KnowledgeEntry.id, KnowledgeEntry.fix_title))}


def measure(engine: Engine, account_id: uuid.UUID, queries: list[tuple[str, str]]
            ) -> tuple[float, list[float]]:
    family_of = _family_of(engine)
    factory = make_session_factory(engine)
    hits, times = 0, []
    with factory() as db:
        for key, q in queries:
            started = time.perf_counter()
            found = find(db, account_id, q)
            times.append((time.perf_counter() - started) * 1000)
            ok = any(family_of.get(e.id) == key for e in found)
            hits += ok
            if not ok and SHOW_MISSES:
                print(f"  miss [{key}] {q!r} -> {[family_of.get(e.id) for e in found]}")
    return hits / len(queries), times


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _times(label: str, times: list[float]) -> None:
    print(f"  {label}: p50 {_pct(times, 50):.1f} ms · p95 {_pct(times, 95):.1f} ms · "
          f"p99 {_pct(times, 99):.1f} ms · max {max(times):.1f} ms over {len(times)} searches")


def run(engine: Engine, label: str, recall_size: int, scale: int, rnd: random.Random) -> None:
    upgrade(engine)
    account_id, user_id = _workspace(engine)
    # A second workspace with the same problems: none of its rows may ever come back.
    other, other_user = _workspace(engine)
    seed(engine, other, other_user, min(recall_size, 500), 10_000_000, rnd)
    seed(engine, account_id, user_id, recall_size, 0, rnd)
    queries = _queries(rnd)
    recall, times = measure(engine, account_id, queries)
    print(f"{label}: recall@3 = {recall:.3f} over {len(queries)} held-back queries, "
          f"{recall_size:,} resolved sessions (target >= 0.8)")
    _times("search", times)
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    if scale <= recall_size:
        return
    started = time.perf_counter()
    seed(engine, account_id, user_id, scale - recall_size, recall_size, rnd)
    # Steady state, as autovacuum leaves a table: statistics, hint bits and visibility map set
    # (right after a bulk load, the first reads of each page would write its hint bits).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE knowledge_entries"))
    print(f"  seeded up to {scale:,} resolved sessions in {time.perf_counter() - started:.0f} s")
    recall, times = measure(engine, account_id, queries * 3)
    print(f"{label} at {scale:,}: recall@3 = {recall:.3f}")
    _times("search", times)
    print(f"  p99 target < 50 ms: {'met' if _pct(times, 99) < 50 else 'NOT met'} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recall-size", type=int, default=1000)
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--show-misses", action="store_true", help="print each missed query")
    args = parser.parse_args()
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            run(engine, "SQLite FTS5", args.recall_size, 0, random.Random(args.seed))
            engine.dispose()
    with scratch_database(ADMIN_URL, "fp_bench_knowledge") as url:
        engine = make_engine(url)
        try:
            run(engine, "PostgreSQL FTS + trigram", args.recall_size, args.scale,
                random.Random(args.seed))
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
