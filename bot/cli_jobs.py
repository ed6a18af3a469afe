"""``flowpilot scheduler``, ``flowpilot jobs list`` and ``flowpilot jobs run NAME``."""

from __future__ import annotations

import argparse
import os
import sys
import time

from bot.jobs import INTERVALS, JOBS


def cmd_scheduler(args: argparse.Namespace) -> int:
    """Inline mode: the scheduled jobs on APScheduler. Queue mode: a worker (jobs, turns and
    the sweeps as periodic jobs), exactly as ``flowpilot worker``."""
    from bot.bootstrap import build, check_ready
    from bot.cli import cli_settings as load_settings
    from bot.cli import started
    from bot.scheduling import start_scheduler

    settings = load_settings()
    if settings.work_mode == "queue":
        return cmd_worker(args)
    settings.require_for("scheduler")
    fp = build(settings, mode="scheduler")
    try:
        check_ready(fp)
        started()
        start_scheduler(fp)
        print("scheduler running; Ctrl-C stops it", flush=True)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        fp.close()


def cmd_worker(args: argparse.Namespace) -> int:
    """Queue mode: run turns, work after the ack and the scheduled sweeps (procrastinate)."""
    from bot.bootstrap import build, check_ready
    from bot.cli import cli_settings as load_settings
    from bot.cli import started
    from bot.errors import ConfigError

    settings = load_settings()
    if settings.work_mode != "queue":
        raise ConfigError("flowpilot worker runs queue mode: set FLOWPILOT_WORK_MODE=queue "
                          "(and a PostgreSQL FLOWPILOT_DATABASE_URL)")
    settings.require_for("scheduler")
    concurrency = getattr(args, "concurrency", None) or settings.workers
    fp = build(settings, mode="worker", workers=concurrency)
    try:
        check_ready(fp)
        started()
        from bot.worker import QueueWorker

        # Background work yields the CPU to processes that ack Slack on the same host.
        os.nice(settings.worker_nice)
        # "work queue running": benchmarks/ack_latency.py waits for these words.
        print(f"worker: work queue running ({concurrency} at a time, "
              f"{settings.pool_budget('worker')} database connections); Ctrl-C stops it",
              flush=True)
        QueueWorker(fp, concurrency=concurrency).run()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        fp.close()


def cmd_jobs_list(args: argparse.Namespace) -> int:
    for name, job in JOBS.items():
        doc = (job.__doc__ or "").strip().splitlines()[0] if job.__doc__ else ""
        print(f"{name:<18} every {INTERVALS[name]:>4}s  {doc}")
    return 0


def cmd_jobs_run(args: argparse.Namespace) -> int:
    if args.name not in JOBS:
        print(f"flowpilot: no job named {args.name!r} (one of: {', '.join(JOBS)})",
              file=sys.stderr)
        return 2
    from bot.bootstrap import build, check_ready
    from bot.cli import cli_settings as load_settings
    from bot.jobs import run_job

    settings = load_settings()
    settings.require_for("jobs")
    fp = build(settings, mode="jobs", workers=1)
    try:
        check_ready(fp)
        print(run_job(fp.services, args.name))
    finally:
        fp.close()
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub.add_parser("scheduler", help="run the scheduled jobs alone (queue mode: a worker)"
                   ).set_defaults(fn=cmd_scheduler)
    worker = sub.add_parser("worker", help="queue mode: run turns, work and scheduled jobs")
    worker.add_argument("--concurrency", type=int, default=None,
                        help="jobs at once (default FLOWPILOT_WORKERS)")
    worker.set_defaults(fn=cmd_worker)
    jobs = sub.add_parser("jobs", help="scheduled jobs").add_subparsers(
        dest="jobs_command", required=True)
    jobs.add_parser("list", help="the jobs and how often they run").set_defaults(
        fn=cmd_jobs_list)
    run = jobs.add_parser("run", help="run one job once, now")
    run.add_argument("name", help=", ".join(JOBS))
    run.set_defaults(fn=cmd_jobs_run)
