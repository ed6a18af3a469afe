"""The seed's models and their companions. Importing this registers every table."""

from storage.models.accounts import Account, AccountSettings, PsaConnection, Team, User
from storage.models.events import InboundEvent
from storage.models.knowledge import (
    DraftTemplate,
    KnowledgeEntry,
    ScriptTemplate,
    SeenBeforeOffer,
    Tree,
)
from storage.models.outbox import OutboxMessage
from storage.models.session import AISession
from storage.models.session_parts import (
    AISessionStep,
    ForkPoint,
    SessionBranch,
    SessionFact,
    SessionHandoff,
    SessionResolutionOutput,
    SessionSuggestedFix,
    TurnFeedback,
)
from storage.models.slack_oauth import bots, installations, oauth_states  # noqa: F401

__all__ = [
    "AISession", "AISessionStep", "Account", "AccountSettings", "DraftTemplate", "ForkPoint",
    "InboundEvent", "KnowledgeEntry", "OutboxMessage", "PsaConnection", "ScriptTemplate", "SeenBeforeOffer", "SessionBranch", "SessionFact",
    "SessionHandoff", "SessionResolutionOutput", "SessionSuggestedFix", "Team", "Tree",
    "TurnFeedback", "User",
]
