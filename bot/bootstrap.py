"""The composition root: the one place settings, database, Slack client, model client,
engines, worker pool and the Bolt app are built and wired. Importing it does nothing."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import App
from sqlalchemy import Engine, text

from bot import logsafe
from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.engines.base import Drafter
from bot.engines.base import Engine as TurnEngine
from bot.errors import ConfigError, FlowPilotError, SlackError, StorageError
from bot.executor import TrackingExecutor
from bot.metrics import Metrics
from bot.notify import Notifier, make_web_client
from bot.oauth import (
    NOT_INSTALLED,
    make_authorize,
    make_flow,
    quiet_missing_installations,
    token_source,
)
from bot.services.catalog import FlowCatalog
from bot.services.container import Caches, Services
from bot.services.dispatch import Dispatch, InlineDispatch, QueueDispatch
from bot.services.host_dispatch import HostDispatch
from bot.services.tenancy import refused
from bot.services.turns import TurnRunner
from bot.services.work import register_work
from bot.ttlcache import Ticker
from storage.db import GateRole, make_engine, make_session_factory
from storage.migrate import is_current

log = logging.getLogger(__name__)


@dataclass
class FlowPilot:
    settings: Settings
    db: Engine
    services: Services
    app: App
    runner: TurnRunner
    extras: dict[str, Any] = field(default_factory=dict)

    def wait_idle(self, timeout: float = 15.0) -> bool:
        """True once listeners and turns are both idle (a turn may start from a listener)."""
        deadline = time.monotonic() + timeout
        listeners = self.extras["listeners"]
        while time.monotonic() < deadline:
            if listeners.wait_idle(0.05) and self.runner.wait_idle(0.05) and listeners.wait_idle(0):
                return True
        return False

    def close(self) -> None:
        host_worker = self.extras.get("host_worker")
        if host_worker is not None:
            host_worker.stop()  # it finishes its turns first (bot.host_worker)
        scheduler = self.extras.get("scheduler")
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        self.runner.shutdown(wait=True)
        self.db.dispose()


def build_engine(settings: Settings) -> TurnEngine:
    """Claude when a key is set, else the offline flow engine."""
    if settings.ai_enabled:
        from bot.engines.claude import ClaudeEngine, make_client

        assert settings.anthropic_api_key is not None
        client = make_client(settings.anthropic_api_key.get_secret_value(),
                             base_url=settings.anthropic_base_url)
        return ClaudeEngine(client, settings.ai_model, effort=settings.ai_effort,
                            cache_ttl=settings.ai_cache_ttl)
    raise ConfigError("ANTHROPIC_API_KEY is not set")


def build(
    settings: Settings, *, clock: Clock = utcnow, mode: str = "serve",
    workers: int | None = None, listener_workers: int = 64, ticker: Ticker = time.monotonic,
    worker_process: bool = False,
) -> FlowPilot:
    """``clock``: what ``now`` is (tests move it); ``ticker``: the seconds the per-process
    caches expire on (``time.monotonic``; tests pass a ``FakeTicker``).

    ``worker_process``: ``run`` and ``serve`` in the default work mode (``inline``) hand
    turns and work to a worker process of their own (``bot.host_worker``, started by the
    CLI); without it (``flowpilot try``, the test harness, ``FLOWPILOT_WORK_MODE=thread``)
    they run on this process's pool."""
    logsafe.install()
    queue = settings.work_mode == "queue"
    host = settings.work_mode == "inline" and worker_process and mode in ("run", "serve")
    if queue:
        # The budget is a ceiling: no overflow; a worker's procrastinate pool is inside it.
        from bot.services.queue import QUEUE_CONNECTIONS

        theirs = QUEUE_CONNECTIONS if mode == "worker" else 0
        db = make_engine(settings.database_url,
                         pool_size=max(1, settings.pool_budget(mode) - theirs),
                         max_overflow=0, pool_timeout=settings.db_pool_timeout,
                         application_name=f"flowpilot-{mode}")
    else:
        # On SQLite the acking process writes first; its worker process yields (storage.db).
        gate: GateRole | None = "first" if host else "yield" if mode == "worker" else None
        db = make_engine(settings.database_url, pool_size=settings.pool_size, max_overflow=10,
                         gate=gate)
    factory = make_session_factory(db)
    tokens, store = token_source(settings, db, clock)
    client = make_web_client(tokens.single_token, settings.slack_api_url)
    catalog = FlowCatalog(factory, settings.flows_dir)
    for problem in catalog.problems:
        log.warning("flow skipped: %s", problem)
    drafter: Drafter | None = None
    if settings.ai_enabled:
        engine = build_engine(settings)
        drafter = engine if isinstance(engine, Drafter) else None
    else:
        from bot.engines.offline import OfflineEngine

        engine = OfflineEngine(catalog.base)
    # Queue mode: work and turns are jobs (serve defers them, workers run them and defer
    # what they start); a crashed turn is retried with backoff before the thread is told.
    runner = TurnRunner(workers or settings.workers, crash_retries=2 if queue else 0)
    # The one-host worker process (inline under run/serve) or this process's pool otherwise.
    dispatch: Dispatch
    if queue:
        dispatch = QueueDispatch()
    elif host:
        dispatch = HostDispatch()
    else:
        dispatch = InlineDispatch()
    register_work(dispatch)  # what the dispatch runs by name after the ack
    svc = Services(
        settings=settings, factory=factory, clock=clock, notifier=Notifier(client, tokens),
        engine=engine, flows=catalog, metrics=Metrics(), runner=runner, dispatch=dispatch,
        caches=Caches.build(ticker), drafter=drafter,
    )
    if queue:
        from bot.services.queue import QueueCollector

        svc.metrics.registry.register(QueueCollector(factory))  # type: ignore[arg-type]
    listeners = TrackingExecutor(listener_workers, thread_name_prefix="fp-listener")
    per_workspace: dict[str, Any] = {}
    if store is not None:  # many workspaces: Bolt asks the token source per request
        svc.installation_store = store
        tokens.on_refused = lambda team, org, error: refused(svc, team, org, error)
        per_workspace = {"authorize": make_authorize(tokens),
                         "user_facing_authorize_error_message": NOT_INSTALLED}
    app = App(
        client=client,
        signing_secret=(
            settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
        ),
        # bot/boundary.py verifies signatures on the raw bytes before Bolt sees a request
        # (and refuses without logging the body, which Bolt's check does at INFO).
        request_verification_enabled=False,
        name="flowpilot.bolt",
        token_verification_enabled=False,
        process_before_response=False,
        listener_executor=listeners,
        **per_workspace,
    )
    if store is not None:
        quiet_missing_installations(app)
        svc.oauth_flow = make_flow(settings, db, store, svc)
    from handlers.register import register_all

    register_all(app, svc)
    return FlowPilot(settings=settings, db=db, services=svc, app=app, runner=runner,
                     extras={"listeners": listeners})


def check_ready(fp: FlowPilot) -> None:
    """Start-up checks: the database answers and is migrated; Slack accepts the token."""
    try:
        with fp.db.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        from bot.cli_errors import database_problem

        raise StorageError(database_problem(exc, fp.settings.database_url)) from None
    if not is_current(fp.db):
        raise StorageError(
            "The database schema is not migrated: run `flowpilot db upgrade` first."
        )
    if fp.settings.many_workspaces:
        return  # each workspace's token is checked when it is used
    try:
        auth = fp.services.notifier.auth_test()
    except SlackError as exc:
        if exc.code is None:  # no answer at all: the network, not the token
            from bot.preflight import offline_line

            raise ConfigError(offline_line(fp.settings)) from None
        raise ConfigError(
            f"Slack refused SLACK_BOT_TOKEN ({exc.code}): copy the Bot User OAuth Token (xoxb-…) "
            "from api.slack.com/apps → your app → OAuth & Permissions"
        ) from None
    fp.services.bot_user_id = str(auth.get("user_id") or "")


__all__ = ["FlowPilot", "FlowPilotError", "build", "check_ready"]
