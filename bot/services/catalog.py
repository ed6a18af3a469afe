"""The flows a workspace sees: built-ins, then ``FLOWPILOT_FLOWS_DIR``, then its own flows
stored in ``trees`` (each overriding the one before it by id)."""

from __future__ import annotations

import threading
import time
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.flows.loader import load_and_check, load_library
from bot.flows.match import MatchResult, match_flow
from bot.flows.model import Flow, FlowLibrary
from storage.db import unit_of_work
from storage.models import Tree

CACHE_SECONDS = 60.0


class FlowCatalog:
    def __init__(self, factory: sessionmaker[Session] | None, flows_dir: str | None = None) -> None:
        self.factory = factory
        self.base = load_library([flows_dir] if flows_dir else [])
        self._lock = threading.Lock()
        self._cache: dict[uuid.UUID, tuple[float, FlowLibrary]] = {}

    @property
    def problems(self) -> list[str]:
        return [str(p) for p in self.base.problems]

    def library(self, account_id: uuid.UUID | None = None, db: Session | None = None) -> FlowLibrary:
        """``db``: an open session to read through (never open a second transaction while
        one is held: on SQLite that would wait on itself)."""
        if account_id is None or self.factory is None:
            return self.base
        with self._lock:
            hit = self._cache.get(account_id)
            if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
                return hit[1]
        overrides = self._workspace_flows(account_id, db)
        if not overrides:
            library = self.base
        else:
            library = FlowLibrary(flows={**self.base.flows, **{f.id: f for f in overrides}},
                                  problems=list(self.base.problems))
        with self._lock:
            self._cache[account_id] = (time.monotonic(), library)
        return library

    def invalidate(self, account_id: uuid.UUID) -> None:
        with self._lock:
            self._cache.pop(account_id, None)

    def _workspace_flows(self, account_id: uuid.UUID, db: Session | None) -> list[Flow]:
        query = select(Tree.flow_key, Tree.yaml_text).where(
            Tree.account_id == account_id, Tree.source == "workspace"
        )
        if db is not None:
            rows = db.execute(query).all()
        else:
            assert self.factory is not None
            with unit_of_work(self.factory) as own:
                rows = own.execute(query).all()
        flows = []
        for key, text in rows:
            flow, problems = load_and_check(text or "", f"workspace:{key}")
            if flow is not None and not problems:
                flows.append(flow)
        return flows

    def match(self, text: str, account_id: uuid.UUID | None = None,
              db: Session | None = None) -> MatchResult | None:
        return match_flow(text, self.library(account_id, db))

    def get(self, flow_id: str, account_id: uuid.UUID | None = None,
            db: Session | None = None) -> Flow | None:
        return self.library(account_id, db).get(flow_id)
