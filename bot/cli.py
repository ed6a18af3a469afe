"""``flowpilot``: the command line (CONTRACTS.md). Exit 0 on success; otherwise a one-line
reason on stderr and a non-zero status."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from bot.cli_errors import explain
from bot.cli_flows import add_flow_commands
from bot.config import LOG_LEVELS, Settings, load_settings
from bot.errors import FlowPilotError

Command = Callable[[argparse.Namespace], int]


# Libraries that log every HTTP request at INFO (the model API's client): quiet unless DEBUG.
CHATTY_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2")


def cli_settings() -> Settings:
    """The settings, and the log level they name (``FLOWPILOT_LOG_LEVEL``)."""
    settings = load_settings()
    apply_log_level(settings.log_level)
    return settings


def apply_log_level(level: str) -> None:
    logging.getLogger().setLevel(level)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    # Alembic narrates every migration step at INFO; `db upgrade` prints its own one line.
    logging.getLogger("alembic").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


# Libraries whose log lines a command's own one-line answer already says better (a failed
# auth.test is three ERROR lines from slack_sdk's retry handler before ours). Hushed while a
# one-shot command runs and while a long-running one starts; FLOWPILOT_LOG_LEVEL=DEBUG shows all.
HUSHED_LOGGERS = ("alembic", "slack_sdk", "slack_bolt", "bot.notify")
LONG_RUNNING = frozenset({"run", "serve", "scheduler", "worker"})


class _Hush(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.active = True

    def filter(self, record: logging.LogRecord) -> bool:
        # Bolt reads SLACK_BOT_TOKEN itself and warns that the client we pass wins: it does.
        if "`token` will be unused" in record.getMessage():
            return False
        if not self.active or logging.getLogger().level <= logging.DEBUG:
            return True
        return not any(record.name == n or record.name.startswith(n + ".") for n in HUSHED_LOGGERS)


_HUSH = _Hush()


def started() -> None:
    """A long-running command passed its start-up checks: its libraries may speak again."""
    _HUSH.active = False


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from storage.db import make_engine
    from storage.migrate import current_revision, upgrade

    settings = cli_settings()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        print(f"database is at revision {current_revision(engine)}")
    finally:
        engine.dispose()
    return 0


def _start(mode: str) -> object:
    from bot.bootstrap import build, check_ready
    from bot.preflight import require_app_token, require_token_shapes

    settings = cli_settings()
    settings.require_for(mode)  # type: ignore[arg-type]
    require_token_shapes(settings)
    if mode == "run":
        require_app_token(settings)
    fp = build(settings, mode=mode, worker_process=True)
    check_ready(fp)
    started()
    return fp


def cmd_run(args: argparse.Namespace) -> int:
    from bot.bootstrap import FlowPilot
    from bot.socket_mode import CheckedSocketModeHandler

    fp = _start("run")
    assert isinstance(fp, FlowPilot)
    _start_work(fp, scheduler=True)
    assert fp.settings.slack_app_token is not None
    handler = CheckedSocketModeHandler(fp.app, fp.settings.slack_app_token.get_secret_value())
    handler.services = fp.services
    try:
        handler.start()
    finally:
        fp.close()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.bootstrap import FlowPilot
    from bot.server import serve

    fp = _start("serve")
    assert isinstance(fp, FlowPilot)
    _start_work(fp, scheduler=not args.no_scheduler)
    try:
        serve(fp, args.host, args.port)
    finally:
        fp.close()
    return 0


def _start_work(fp: object, *, scheduler: bool) -> None:
    """Where turns, work after the ack and the scheduled jobs run: in the worker process
    (``FLOWPILOT_WORK_MODE=inline``, the default: ``bot.host_worker``), else here (``thread``;
    in ``queue`` mode ``flowpilot worker`` processes take the work and run the scheduled
    sweeps as periodic jobs, so nothing starts here)."""
    from bot.bootstrap import FlowPilot
    from bot.host_worker import HostWorker
    from bot.services.host_dispatch import HostDispatch

    assert isinstance(fp, FlowPilot)
    dispatch = fp.services.dispatch
    if isinstance(dispatch, HostDispatch):
        worker = HostWorker([sys.executable, "-m", "bot.host_worker",
                             *([] if scheduler else ["--no-scheduler"])])
        dispatch.wake = worker.wake
        fp.extras["host_worker"] = worker
        worker.start()
    elif scheduler:
        _start_scheduler(fp)


def _start_scheduler(fp: object) -> None:
    if getattr(getattr(fp, "settings", None), "work_mode", "") == "queue":
        return  # queue mode: the sweeps are periodic jobs of `flowpilot worker`
    try:
        from bot.scheduling import start_scheduler
    except ImportError:  # pragma: no cover - scheduling lands with the jobs issue
        return
    start_scheduler(fp)  # type: ignore[arg-type]


def cmd_flows_list(args: argparse.Namespace) -> int:
    from bot.services.catalog import FlowCatalog

    settings = cli_settings()
    catalog = FlowCatalog(None, settings.flows_dir)
    for flow in sorted(catalog.base, key=lambda f: f.id):
        print(f"{flow.id:<28} {flow.domain:<18} {flow.title}  ({flow.source})")
    for problem in catalog.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    return 0


def cmd_flows_check(args: argparse.Namespace) -> int:
    from bot.flows.check import check_paths
    from bot.flows.loader import builtin_dir, load_library

    if args.path:
        problems = check_paths([args.path])
        checked = args.path
    else:
        flows_dir = cli_settings().flows_dir
        library = load_library([flows_dir] if flows_dir else [])
        problems = list(library.problems)
        checked = str(builtin_dir() or "built-in flows") + (f" and {flows_dir}" if flows_dir else "")
    for problem in problems:
        print(str(problem))
    if problems:
        print(f"{len(problems)} problem(s) in {checked}", file=sys.stderr)
        return 1
    print(f"ok: {checked}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from bot.doctor import doctor

    return doctor(cli_settings(), args.mode)


def cmd_try(args: argparse.Namespace) -> int:
    from bot.sandbox.terminal import main as try_main

    return try_main(args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowpilot", description="FlowPilot for Slack",
        epilog="--debug (anywhere on the line): show the full traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="Socket Mode; starts its own worker process (turns, jobs)").set_defaults(fn=cmd_run)
    serve = sub.add_parser("serve", help="HTTP mode for production")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--no-scheduler", action="store_true")
    serve.set_defaults(fn=cmd_serve)
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="migrate to the latest schema (idempotent)").set_defaults(
        fn=cmd_db_upgrade)
    flows = sub.add_parser("flows", help="troubleshooting flows").add_subparsers(
        dest="flows_command", required=True)
    flows.add_parser("list").set_defaults(fn=cmd_flows_list)
    check = flows.add_parser("check", help="validate flow files (file:line errors)")
    check.add_argument("path", nargs="?")
    check.set_defaults(fn=cmd_flows_check)
    add_flow_commands(flows)
    doc = sub.add_parser("doctor", help="check configuration, database and Slack (changes nothing)")
    doc.add_argument("--mode", choices=("run", "serve"), default=None,
                     help="the mode to check for (default: run if SLACK_APP_TOKEN is set, "
                          "serve if only SLACK_SIGNING_SECRET is)")
    doc.set_defaults(fn=cmd_doctor)
    try_ = sub.add_parser("try", help="try FlowPilot in the terminal (no Slack, no API key)")
    try_.add_argument("--db", default=None, help="database URL (default: sqlite in ./)")
    try_.set_defaults(fn=cmd_try)
    _extend(sub)
    return p


def _extend(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Commands that live with their feature (jobs, scheduler, flows import)."""
    from bot.cli_psa import add_commands as add_psa_commands

    add_psa_commands(sub)
    from bot.cli_workspace import add_commands as add_workspace_commands

    add_workspace_commands(sub)
    try:
        from bot.cli_jobs import add_commands
    except ImportError:
        return
    add_commands(sub)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(fmt: str = LOG_FORMAT) -> None:
    """Log lines to stderr, libraries hushed until ``started()`` (also the worker process's)."""
    logging.basicConfig(level=logging.INFO, format=fmt)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_HUSH)
    _HUSH.active = True
    # From the environment now, before imports log; a .env file's value applies once the
    # settings load (and a malformed value is reported then, in one line).
    early = os.environ.get("FLOWPILOT_LOG_LEVEL", "INFO").strip().upper()
    apply_log_level(early if early in LOG_LEVELS else "INFO")


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in words
    args = parser().parse_args([w for w in words if w != "--debug"])
    configure_logging()
    try:
        return int(args.fn(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if debug:
            raise
        print(f"flowpilot: {explain(exc, _database_url())}", file=sys.stderr)
        return 2


def _database_url() -> str | None:
    try:
        return load_settings().database_url
    except FlowPilotError:
        return os.environ.get("FLOWPILOT_DATABASE_URL")


if __name__ == "__main__":
    sys.exit(main())
