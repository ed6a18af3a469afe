"""What every use case needs, built once in ``bot.bootstrap`` and passed in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.engines.base import Engine
from bot.notify import Notifier

if TYPE_CHECKING:
    from slack_bolt.oauth import OAuthFlow

    from bot.installs import EncryptedInstallationStore
    from bot.metrics import Metrics
    from bot.services.catalog import FlowCatalog
    from bot.services.dispatch import Dispatch
    from bot.services.turns import TurnRunner


@dataclass
class Services:
    settings: Settings
    factory: sessionmaker[Session]
    clock: Clock
    notifier: Notifier
    engine: Engine
    flows: FlowCatalog
    metrics: Metrics
    bot_user_id: str = ""
    runner: TurnRunner | None = None
    dispatch: Dispatch | None = None
    # Built in bootstrap when FlowPilot serves many workspaces (OAuth), else None.
    installation_store: EncryptedInstallationStore | None = None
    oauth_flow: OAuthFlow | None = None
    # Built on first use: the flows engine a session falls back to (or was switched to).
    offline_engine: Engine | None = None
    # Workspaces whose Enterprise Grid org this process has already recorded.
    grid_known: set[str] = field(default_factory=set)
    # Per-process TTL caches keyed by name ("redaction_patterns", its lock, "nudge_after");
    # not yet typed (tests/integration/test_redaction_patterns_cache.py reads them here).
    extras: dict[str, Any] = field(default_factory=dict)

    def later(self, name: str, payload: dict[str, Any]) -> None:
        """Work after the ack (see ``bot.services.dispatch``)."""
        assert self.dispatch is not None
        self.dispatch.later(name, payload)

    def later_recorded(self, event_id: Any, name: str, payload: dict[str, Any]) -> None:
        """Inline mode: run a work item already recorded with its delivery (the record is
        marked done when it has run; ``recover_turns`` runs it if this process dies first)."""
        from bot.services.dispatch import run_recorded

        if self.runner is not None:
            self.runner.submit(run_recorded, self, event_id, name, payload)
        else:
            run_recorded(self, event_id, name, payload)

    def kick(self, session_id: Any) -> None:
        """The session has new input: take a turn soon (here, or in a worker process)."""
        if self.dispatch is not None:
            self.dispatch.kick(session_id)

    @property
    def engine_name(self) -> str:
        return "claude" if self.engine.name == "claude" else "offline"
