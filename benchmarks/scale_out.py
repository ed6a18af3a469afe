"""Scale-out: turns completed per second with 1, 2 and 4 ``flowpilot worker`` processes.

Run (from the repository root; needs a PostgreSQL that lets the admin URL create databases)::

    .venv/bin/python benchmarks/scale_out.py [--model-delay 2.0] [--threads 16]
        [--turns 320] [--big-threads 64] [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Exit status 0 when every target is met, 1 when one is missed, 2 when it could not run.

What it does:

1. A fresh database ``fp_scale_<random>`` (dropped at the end), migrated (procrastinate's
   schema comes with ``flowpilot db upgrade``).
2. The wire fakes in this process: ``FakeSlack``, and a fake Anthropic API answering every
   ``/v1/messages`` call after ``--model-delay`` seconds (``ack_latency.slow_anthropic``).
3. ``serve`` in queue mode, in this process (the scenario harness: signed requests through
   the real WSGI app), opens ``--turns`` sessions (``/flowpilot …`` commands; four
   ``flowpilot worker`` processes take their opening and first turn, untimed).
4. Each measured run: N real ``flowpilot worker --concurrency T`` processes (``python -m
   bot.cli worker``) are started and then frozen (SIGSTOP); one reply per session goes through
   serve's real ack path (recorded + its turn job deferred in one statement); the workers are
   thawed (SIGCONT) and the clock runs until every reply was answered by a finished turn
   (``processed_at`` of the last one). Turns per second = replies / that time. The model-delay
   limit is N × T / delay (every thread always waiting on the model). Also printed: the
   workers' CPU per turn (/proc) and how busy the whole machine was meanwhile ("box busy",
   /proc/stat: workers, PostgreSQL and the fakes; near 100 % the box, not the design, limits),
   a turn job's run time (procrastinate's started → succeeded events; the model's delay is
   most of it) and "slots busy": the share of the run that the worker threads spent inside
   a job (the rest is fetching and finishing jobs).
5. Checks after each run: every reply ``done`` and taken once (``attempts = 1``), the model
   called exactly once per reply, no job left.

Runs: 1, 2 and 4 workers at ``--threads`` each (the model is the bottleneck: throughput must
grow ≥ 1.8× from 1 to 2 and ≥ 3.2× from 1 to 4), then 1 and 2 workers at ``--big-threads``
(≥ 90% of the model-delay limit; no turn lost or taken twice). ``--turns`` should be a multiple
of 4 × threads so the last wave of turns is full (320 = 5 × 64 = 20 × 16).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for extra in (str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")):
    if extra not in sys.path:
        sys.path.insert(0, extra)

SECRET = "bench-signing-secret"
from bot.config import WORKER_POOL_SIZE  # noqa: E402  (after sys.path)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Workers:
    """N ``flowpilot worker`` processes (started, ready, then frozen until ``thaw``)."""

    def __init__(self, n: int, threads: int, env: dict[str, str], workdir: Path,
                 tag: str) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        for i in range(n):
            path = workdir / f"{tag}-worker{i}.log"
            with open(path, "wb") as out:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "worker", "--concurrency", str(threads)],
                    env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT))
            self.logs.append(path)
        deadline = time.monotonic() + 300  # a loaded machine imports slowly
        while not all("work queue running" in p.read_text(errors="replace") for p in self.logs):
            for proc, path in zip(self.procs, self.logs, strict=True):
                if proc.poll() is not None:
                    raise RuntimeError(f"a worker exited:\n{path.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start within 300 s")
            time.sleep(0.2)
        time.sleep(1.0)  # past procrastinate's start (LISTEN, first fetch)

    def freeze(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGCONT)

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.procs:
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, IndexError, ValueError):
                pass
        return total

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of every CPU of the machine (/proc/stat; (0, 0) elsewhere)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def machine_busy(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of the machine's CPU time that was busy between two ``machine_cpu`` readings:
    the workers, PostgreSQL, this process's fakes and anything else on the box."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


def _wait(probe: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise RuntimeError(what)


def benchmark(args: argparse.Namespace) -> int:
    from ack_latency import clean_env, slow_anthropic
    from pgdb import scratch_database
    from sqlalchemy import func, select, text
    from support import Harness

    from bot.sandbox.fake_slack import FakeSlack
    from storage.db import make_engine
    from storage.migrate import upgrade
    from storage.models import AISession, InboundEvent

    n = args.turns
    workdir = Path(tempfile.mkdtemp(prefix="fp-scale-"))
    results: dict[tuple[int, int], dict[str, float]] = {}
    with contextlib.ExitStack() as stack:
        db_url = stack.enter_context(scratch_database(args.pg_url, "fp_scale"))
        engine = make_engine(db_url, pool_size=2)
        stack.callback(engine.dispose)
        upgrade(engine)
        slack = stack.enter_context(FakeSlack())
        model = stack.enter_context(slow_anthropic(args.model_delay))
        env = clean_env(SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET,
                        SLACK_API_URL=slack.url, FLOWPILOT_DATABASE_URL=db_url,
                        ANTHROPIC_API_KEY="sk-ant-bench", ANTHROPIC_BASE_URL=model.url,
                        FLOWPILOT_WORK_MODE="queue", FLOWPILOT_DB_POOL_SIZE=str(args.worker_pool),
                        FLOWPILOT_WORKER_NICE="0", FLOWPILOT_LOG_LEVEL="WARNING")
        os.environ["FLOWPILOT_LOG_LEVEL"] = "WARNING"
        web = Harness(db_url, slack, anthropic_url=model.url, FLOWPILOT_WORK_MODE="queue",
                      FLOWPILOT_DB_POOL_SIZE="8")
        stack.callback(web.close)
        # Slack's signing secret of the harness is the tests' one; the workers never check it.

        def count(stmt: Any) -> int:
            with engine.connect() as conn:
                return int(conn.execute(stmt).scalar() or 0)

        # -- the sessions -------------------------------------------------------------------
        log(f"opening {n} sessions (4 workers x {args.big_threads} threads, untimed)")
        opener = Workers(4, args.big_threads, env, workdir, "open")
        try:
            for i in range(n):
                web.command(f"VPN drops every few minutes on laptop {i}", channel=f"CS{i:04d}")
            # Every command's work done, then every opened session's first turn.
            open_left = (select(func.count()).select_from(InboundEvent)
                         .where(InboundEvent.kind.in_(["work:open_command", "intake"]),
                                InboundEvent.status.in_(["pending", "processing"])))
            opened = select(func.count()).select_from(AISession)
            _wait(lambda: count(opened) >= n * 0.95 and count(open_left) == 0, 900,
                  "the sessions did not open")
        finally:
            opener.stop()
        with engine.connect() as conn:
            sessions = conn.execute(select(AISession.slack_channel_id,
                                           AISession.slack_thread_ts)).all()
        log(f"{len(sessions)} sessions open")
        if len(sessions) < 300:
            raise RuntimeError(f"only {len(sessions)} sessions opened (300 needed)")

        pending = (select(func.count()).select_from(InboundEvent)
                   .where(InboundEvent.kind == "reply", InboundEvent.status != "done"))
        runs = [(1, args.threads), (2, args.threads), (4, args.threads),
                (1, args.big_threads), (2, args.big_threads)]
        if args.runs:  # a subset, e.g. while profiling: "1x64,2x64"
            runs = [(int(w), int(t)) for w, t in
                    (item.split("x") for item in args.runs.split(","))]
        for round_, (workers, threads) in enumerate(runs):
            with engine.begin() as conn:  # each run's figures count its own jobs only
                conn.execute(text("DELETE FROM procrastinate_jobs WHERE status = 'succeeded'"))
            requests_before = len(model.message_requests)
            pool = Workers(workers, threads, env, workdir, f"run{round_}")
            try:
                pool.freeze()
                for i, (channel, thread) in enumerate(sessions):
                    ts = f"19{round_:02d}000000.{i:06d}"
                    web.reply("it still fails after a reboot", thread, channel=channel, ts=ts)
                cpu0, box0 = pool.cpu_seconds(), machine_cpu()
                t0 = time.time()
                pool.thaw()
                _wait(lambda: count(pending) == 0, 900, "replies were not all answered")
                cpu = pool.cpu_seconds() - cpu0
                busy = machine_busy(box0, machine_cpu())
            finally:
                pool.stop()
            with engine.connect() as conn:
                last = conn.execute(text(
                    "SELECT extract(epoch FROM max(processed_at)) FROM inbound_events "
                    "WHERE kind = 'reply' AND delivery_key LIKE :k"),
                    {"k": f"msg:%:19{round_:02d}%"}).scalar()
                twice = conn.execute(text(
                    "SELECT count(*) FROM inbound_events WHERE kind = 'reply' "
                    "AND delivery_key LIKE :k AND attempts <> 1"),
                    {"k": f"msg:%:19{round_:02d}%"}).scalar()
                left = conn.execute(text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE task_name IN "
                    "('flowpilot.turns', 'flowpilot.work') AND status <> 'succeeded'")).scalar()
                # Where the time went: a turn job's run (started → succeeded, procrastinate's
                # events) against the model's delay, and how full the worker's slots were.
                run50, run90, run_sum = conn.execute(text(
                    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY r), "
                    "percentile_cont(0.9) WITHIN GROUP (ORDER BY r), sum(r) FROM ("
                    " SELECT extract(epoch FROM max(e.at) FILTER (WHERE e.type = 'succeeded')"
                    " - max(e.at) FILTER (WHERE e.type = 'started')) AS r"
                    " FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id"
                    " WHERE j.task_name = 'flowpilot.turns' AND j.status = 'succeeded'"
                    " GROUP BY j.id) runs")).one()
            elapsed = float(last) - t0
            calls = len(model.message_requests) - requests_before
            limit = workers * threads / args.model_delay
            rate = len(sessions) / elapsed
            results[(workers, threads)] = {"rate": rate, "limit": limit, "elapsed": elapsed,
                                           "twice": float(twice or 0),
                                           "calls": float(calls), "left": float(left or 0),
                                           "cpu_ms": 1000 * cpu / len(sessions),
                                           "busy": busy,
                                           "run50": float(run50 or 0), "run90": float(run90 or 0),
                                           "slots": float(run_sum or 0)
                                           / (workers * threads * elapsed)}
            log(f"{workers} worker(s) x {threads} threads: {len(sessions)} turns in "
                f"{elapsed:.2f} s = {rate:.1f} turns/s ({100 * rate / limit:.0f}% of the "
                f"{limit:.0f}/s model-delay limit), worker CPU {1000 * cpu / len(sessions):.1f} "
                f"ms/turn, model calls {calls}, taken twice {twice}, jobs left {left}")

    return report(args, results, len(sessions))


def report(args: argparse.Namespace, results: dict[tuple[int, int], dict[str, float]],
           turns: int) -> int:
    t, big = args.threads, args.big_threads
    print()
    print(f"scale_out: {turns} turns per run, model answers after {args.model_delay:g} s, "
          f"{os.cpu_count()} CPUs, worker pool {args.worker_pool} connections")
    print(f"{'workers':>8} {'threads':>8} {'turns/s':>9} {'limit':>7} {'of limit':>9} "
          f"{'CPU ms/turn':>12} {'box busy':>9} {'job run p50/p90 s':>18} {'slots busy':>11} "
          f"{'twice':>6} {'calls':>6}")
    for (w, th), r in results.items():
        print(f"{w:>8} {th:>8} {r['rate']:>9.1f} {r['limit']:>7.0f} "
              f"{100 * r['rate'] / r['limit']:>8.0f}% {r['cpu_ms']:>12.1f} "
              f"{100 * r['busy']:>8.0f}% {r['run50']:>8.2f} / {r['run90']:<7.2f} "
              f"{100 * r['slots']:>10.0f}% {r['twice']:>6.0f} "
              f"{r['calls']:>6.0f}")
    checks: list[tuple[str, bool]] = []
    one = results.get((1, t), {}).get("rate")
    for w, target in ((2, 1.8), (4, 3.2)):
        if one and (w, t) in results:
            gain = results[(w, t)]["rate"] / one
            checks.append((f"1→{w} workers ({t} threads): {gain:.2f}x ≥ {target}x",
                           gain >= target))
    for w in (1, 2):
        if (w, big) not in results:
            continue
        r = results[(w, big)]
        checks.append((f"{w} worker(s) x {big} threads: {100 * r['rate'] / r['limit']:.0f}% "
                       "of the model-delay limit ≥ 90%", r["rate"] >= 0.9 * r["limit"]))
    for (w, th), r in results.items():
        checks.append((f"{w} x {th}: no turn lost or taken twice (model calls {r['calls']:.0f} "
                       f"= {turns}, twice {r['twice']:.0f}, jobs left {r['left']:.0f})",
                       r["calls"] == turns and r["twice"] == 0 and r["left"] == 0))
    for line, ok in checks:
        print(f"  {'PASS' if ok else 'MISS'}  {line}")
    return 0 if all(ok for _, ok in checks) else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model-delay", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=16, help="threads per worker, scaling runs")
    p.add_argument("--big-threads", type=int, default=64, help="threads per worker, 90%% runs")
    p.add_argument("--turns", type=int, default=320, help="sessions = turns per run (>= 300)")
    p.add_argument("--worker-pool", type=int, default=WORKER_POOL_SIZE,
                   help="FLOWPILOT_DB_POOL_SIZE of each worker (default: a worker's default)")
    p.add_argument("--runs", default="", help="only these runs, e.g. 1x64,2x64 (profiling)")
    p.add_argument("--pg-url", default=os.environ.get(
        "FLOWPILOT_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    args = p.parse_args()
    try:
        return benchmark(args)
    except RuntimeError as exc:
        print(f"scale_out: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
