"""The one interface the outbox talks to, whatever the PSA is.

An ``Outbound`` is one output of a session (a note, a package, a time entry, a status
change) with a ``ref``: a short id unique to that output. Targets put the ref where they can
find it again (ConnectWise: the note's last line), so a delivery whose answer was lost (a
timeout after the PSA stored it) is found rather than posted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel


class Ticket(BaseModel):
    """What we keep of a PSA ticket (``ai_sessions.ticket_data``), already redacted."""

    id: str
    summary: str = ""
    company: str = ""
    contact: str = ""
    board: str = ""
    status: str = ""
    priority: str = ""
    closed: bool = False
    notes: list[str] = []

    def intake_text(self) -> str:
        """The ticket as the engines read it at intake."""
        lines = [f"Ticket #{self.id}: {self.summary}"]
        meta = [f"{k}: {v}" for k, v in (("Company", self.company), ("Contact", self.contact),
                                          ("Board", self.board), ("Priority", self.priority))
                if v]
        if meta:
            lines.append(" · ".join(meta))
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass(frozen=True)
class Outbound:
    """One output to deliver. ``kind``: note | package | time_entry | take_over | status."""

    kind: str
    ref: str
    ticket_id: str | None
    text: str
    session_id: str
    # note: {"flag": "resolution" | "internal" | "discussion"}; time_entry: {"start", "end",
    # "email", "billable", "work_type"}; status: {"status": name}
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivered:
    external_id: str
    detail: str = ""


class PsaTarget(Protocol):
    """ConnectWise or a webhook. Both raise ``bot.errors.PsaError`` with a readable message."""

    kind: str

    def check(self) -> str:
        """One cheap authenticated call; returns a one-line description of what answered."""

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        """The ticket with its latest notes (webhook targets cannot: they raise)."""

    def find(self, item: Outbound) -> str | None:
        """The external id of ``item`` if an earlier attempt already stored it, else None."""

    def deliver(self, item: Outbound, now: datetime) -> Delivered:
        """Apply ``item`` once; returns the PSA's id for it."""


def marker(ref: str) -> str:
    """The line a delivered note carries so it can be found again."""
    return f"[FlowPilot ref {ref}]"
