"""The connection budget of each process (docs/deploy.md, "Connection budget")."""

from __future__ import annotations

from bot.config import QUEUE_POOL_SIZE, WORKER_POOL_SIZE, load_settings
from bot.services.queue import QUEUE_CONNECTIONS

PG = "postgresql+psycopg://fp@127.0.0.1:5432/fp"


def _settings(**env: str):  # type: ignore[no-untyped-def]
    return load_settings(env_file=None, SLACK_BOT_TOKEN="xoxb-t", SLACK_SIGNING_SECRET="s",
                         FLOWPILOT_DATABASE_URL=PG, **env)


def test_queue_mode_budgets_a_worker_fewer_connections_than_serve() -> None:
    s = _settings(FLOWPILOT_WORK_MODE="queue")
    assert s.pool_budget("serve") == QUEUE_POOL_SIZE == 20
    assert s.pool_budget("worker") == WORKER_POOL_SIZE == 8
    assert WORKER_POOL_SIZE > QUEUE_CONNECTIONS  # room for the turns beside procrastinate


def test_an_explicit_budget_applies_to_every_process() -> None:
    s = _settings(FLOWPILOT_WORK_MODE="queue", FLOWPILOT_DB_POOL_SIZE="12")
    assert s.pool_budget("worker") == s.pool_budget("serve") == 12


def test_inline_mode_keeps_one_connection_per_thread() -> None:
    s = _settings(FLOWPILOT_WORKERS="64")
    assert s.pool_budget("worker") == s.pool_budget("serve") == 72
