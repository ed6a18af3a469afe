"""Pure Block Kit rendering: view models in, ``Message(text, blocks)`` out, no I/O.

Every Slack limit is enforced here (``limits``); untrusted text is made safe (``safe``).
"""

from __future__ import annotations

from .blocks import Message, session_metadata
from .items import outcome_text, render_decided, render_item
from .limits import enforce_blocks, enforce_message, split_text, truncate
from .modals import escalate_modal, feedback_modal, intake_modal, resolve_modal
from .mrkdwn import markdown_to_mrkdwn
from .outputs import (
    render_escalation_message,
    render_escalation_package_markdown,
    render_note_message,
    render_nudge,
    render_rating_prompt,
    render_resolution_note_markdown,
    render_take_over_notice,
)
from .safe import (
    channel_link,
    code_block,
    group_mention,
    mention,
    neutralize,
    plain,
    slack_to_plain,
)
from .session import render_engine_failure, render_ephemeral, render_header, render_working
from .turn import render_turn
from .views import (
    ActionItem,
    EscalationData,
    FactItem,
    FixItem,
    HeaderView,
    Hypothesis,
    QuestionItem,
    ResolutionData,
    SeenBeforeItem,
    TriedFix,
    TriedStep,
    TurnView,
)

__all__ = [
    "ActionItem", "EscalationData", "FactItem", "FixItem", "HeaderView", "Hypothesis", "Message",
    "QuestionItem", "ResolutionData", "SeenBeforeItem", "TriedFix", "TriedStep", "TurnView",
    "channel_link", "code_block", "enforce_blocks", "enforce_message", "escalate_modal",
    "feedback_modal", "group_mention", "intake_modal", "markdown_to_mrkdwn", "mention",
    "neutralize", "outcome_text", "plain", "render_decided", "render_engine_failure",
    "render_ephemeral", "render_escalation_message", "render_escalation_package_markdown",
    "render_header", "render_item", "render_note_message", "render_nudge",
    "render_rating_prompt", "render_resolution_note_markdown", "render_take_over_notice",
    "render_turn", "render_working", "resolve_modal", "session_metadata", "slack_to_plain",
    "split_text", "truncate",
]
