"""The product's words, in one place: the values a session, a fix or a fact may take.

Engines, flows, render and the domain rules read them from here; storage cannot import the
bot (arrows point down), so its check constraints repeat them and
tests/unit/test_vocabulary.py proves the two agree.
"""

from __future__ import annotations

from .confidence import TIERS
from .fixes import FIX_DECISIONS, FIX_STATES
from .status import ALL_STATUSES, OPEN_STATUSES
from .timekeeping import LEDGER_STATES
from .validation import INTAKE_TYPES

DOMAINS: tuple[str, ...] = (
    "active_directory", "networking", "m365", "email", "hardware", "printing", "security",
    "endpoint", "server", "cloud", "backup", "voip", "other",
)
FACT_SOURCES: tuple[str, ...] = ("intake", "technician", "action", "inference")
RISKS: tuple[str, ...] = ("low", "medium", "high")
RECOMMENDS: tuple[str, ...] = ("continue", "resolve", "escalate")
ENGINES: tuple[str, ...] = ("claude", "offline")

__all__ = [
    "ALL_STATUSES", "DOMAINS", "ENGINES", "FACT_SOURCES", "FIX_DECISIONS", "FIX_STATES",
    "INTAKE_TYPES", "LEDGER_STATES", "OPEN_STATUSES", "RECOMMENDS", "RISKS", "TIERS",
]
