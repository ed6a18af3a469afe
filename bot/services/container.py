"""What every use case needs, built once in ``bot.bootstrap`` and passed in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.engines.base import Drafter, Engine
from bot.notify import Notifier
from bot.ttlcache import Ticker, TtlCache

if TYPE_CHECKING:
    from slack_bolt.oauth import OAuthFlow

    from bot.installs import EncryptedInstallationStore
    from bot.metrics import Metrics
    from bot.services.catalog import FlowCatalog
    from bot.services.dispatch import Dispatch
    from bot.services.turns import TurnRunner


PATTERNS_TTL = 60.0  # seconds a workspace's redaction patterns are cached (every reply)
NUDGE_TTL = 60.0  # seconds a workspace's nudge_after setting is cached (every turn)


@dataclass
class Caches:
    """Per-process caches of workspace settings read on hot paths (dropped on change)."""

    redaction_patterns: TtlCache[str, list[str]]  # by Slack team id
    nudge_after: TtlCache[uuid.UUID, timedelta]  # by account id

    @classmethod
    def build(cls, ticker: Ticker) -> Caches:
        return cls(redaction_patterns=TtlCache(PATTERNS_TTL, ticker),
                   nudge_after=TtlCache(NUDGE_TTL, ticker))


@dataclass
class Services:
    settings: Settings
    factory: sessionmaker[Session]
    clock: Clock
    notifier: Notifier
    engine: Engine
    flows: FlowCatalog
    metrics: Metrics
    runner: TurnRunner
    dispatch: Dispatch
    caches: Caches
    bot_user_id: str = ""
    # Writes draft templates from resolved sessions (the Claude engine); None without a model.
    drafter: Drafter | None = None
    # Built in bootstrap when FlowPilot serves many workspaces (OAuth), else None.
    installation_store: EncryptedInstallationStore | None = None
    oauth_flow: OAuthFlow | None = None
    # Built on first use: the flows engine a session falls back to (or was switched to).
    offline_engine: Engine | None = None
    # Workspaces whose Enterprise Grid org this process has already recorded.
    grid_known: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        # The runner and the dispatch are built first (they are required here) and learn
        # the services they run with now.
        self.runner.bind(self)
        self.dispatch.bind(self)

    def later(self, name: str, payload: dict[str, Any]) -> None:
        """Work after the ack (see ``bot.services.dispatch``)."""
        self.dispatch.later(name, payload)

    def later_recorded(self, event_id: Any, name: str, payload: dict[str, Any]) -> None:
        """Inline mode: run a work item already recorded with its delivery (the record is
        marked done when it has run; ``recover_turns`` runs it if this process dies first)."""
        from bot.services.dispatch import run_recorded

        self.runner.submit(run_recorded, self, event_id, name, payload)

    def kick(self, session_id: Any) -> None:
        """The session has new input: take a turn soon (here, or in a worker process)."""
        self.dispatch.kick(session_id)

    @property
    def engine_name(self) -> str:
        return "claude" if self.engine.name == "claude" else "offline"
