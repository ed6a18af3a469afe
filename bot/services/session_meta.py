"""Small facts about a session recorded at intake: its type and the prompt version it ran on.

Session types (``ai_sessions.session_type``, the seed's ``guided`` / ``chat``):

- ``guided``: the intake matched a troubleshooting flow, so FlowPilot leads with that flow's
  questions, checks and fixes (buttons first, on either engine).
- ``chat``: nothing matched, so the session is open-ended discovery: the model (or the
  offline discovery checklist) asks, and the technician explains.

Why these two: they are the seed's own split, and they are the one distinction that changes
what the technician sees (a flow's path vs open questions) and what a lead wants to compare
(how often the flow library covers the problem). The type records how the session *started*;
switching flows later (*Wrong flow?*) keeps it.
"""

from __future__ import annotations

import hashlib

from bot.engines.prompt import SYSTEM_PROMPT

SESSION_TYPES = ("guided", "chat")


def session_type_for(matched_a_flow: bool) -> str:
    return "guided" if matched_a_flow else "chat"


def prompt_version(engine_name: str, model: str) -> str:
    """What ``system_prompt_snapshot`` stores: the engine, the model and a fingerprint of the
    system prompt text, so a session's behaviour can be traced to the prompt it ran on
    without copying the whole prompt into every row."""
    if engine_name != "claude":
        return "offline: built-in flows (no model prompt)"
    digest = hashlib.sha256(SYSTEM_PROMPT.encode("utf-8")).hexdigest()[:12]
    return f"claude {model}; system prompt sha256:{digest}"
