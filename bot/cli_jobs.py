"""``flowpilot scheduler``, ``flowpilot jobs list`` and ``flowpilot jobs run NAME``."""

from __future__ import annotations

import argparse
import os
import sys
import time

from bot.jobs import INTERVALS, JOBS


def cmd_scheduler(args: argparse.Namespace) -> int:
    from bot.bootstrap import build, check_ready
    from bot.cli import cli_settings as load_settings
    from bot.cli import started
    from bot.scheduling import start_scheduler

    settings = load_settings()
    settings.require_for("scheduler")
    fp = build(settings, mode="scheduler")
    try:
        check_ready(fp)
        started()
        start_scheduler(fp)
        if settings.work_mode == "queue":
            from bot.worker import Worker

            # Background work yields the CPU to processes that ack Slack on the same host.
            os.nice(settings.worker_nice)
            worker = Worker(fp)
            fp.extras["worker"] = worker
            worker.start()
            print("scheduler and work queue running; Ctrl-C stops them", flush=True)
        else:
            print("scheduler running; Ctrl-C stops it", flush=True)
        while True:
            time.sleep(1)
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
    sub.add_parser("scheduler", help="run the scheduled jobs alone").set_defaults(
        fn=cmd_scheduler)
    jobs = sub.add_parser("jobs", help="scheduled jobs").add_subparsers(
        dest="jobs_command", required=True)
    jobs.add_parser("list", help="the jobs and how often they run").set_defaults(
        fn=cmd_jobs_list)
    run = jobs.add_parser("run", help="run one job once, now")
    run.add_argument("name", help=", ".join(JOBS))
    run.set_defaults(fn=cmd_jobs_run)
