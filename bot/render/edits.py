"""Small thread notices for a technician's edits of a session's state (issue 18)."""

from __future__ import annotations

from . import blocks as bk
from .blocks import Message
from .safe import mention, neutralize, one_line


def render_fact_retracted(user_id: str, fact_text: str) -> Message:
    text = neutralize(one_line(fact_text), max_len=400)
    line = (f"❌ {mention(user_id)} marked a fact wrong: ~{text}~ — FlowPilot no longer uses it "
            "(not in the prompt, the note or the package).")
    return bk.finish([bk.context([line])], f"A fact was marked wrong: {text}")
