"""Modal views. Every input's block_id equals its action_id, so a handler reads
``view["state"]["values"][ACTION_ID][ACTION_ID]``.
"""

from __future__ import annotations

from typing import Any

from bot import ids

from . import blocks as bk
from . import limits
from .limits import Block, truncate
from .mrkdwn import markdown_to_mrkdwn
from .safe import clean, neutralize

View = dict[str, Any]
PREVIEW_MAX = 11_000
URGENCIES = (("low", "🔵 Low"), ("normal", "🟢 Normal"), ("high", "🟠 High"), ("critical", "🔴 Critical"))


def _modal(
    callback_id: str, title: str, submit: str, blocks: list[Block], private_metadata: str
) -> View:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": bk.plain_text(title, limits.MODAL_TITLE),
        "submit": bk.plain_text(submit, limits.MODAL_TITLE),
        "close": bk.plain_text("Cancel", limits.MODAL_TITLE),
        "private_metadata": private_metadata[: limits.PRIVATE_METADATA],
        "blocks": limits.enforce_blocks(blocks, max_blocks=limits.MAX_MODAL_BLOCKS, max_chars=None),
    }


def _text_input(
    action_id: str,
    label: str,
    *,
    multiline: bool = False,
    optional: bool = False,
    placeholder: str = "",
    initial: str = "",
    hint: str = "",
    max_length: int = limits.INPUT_MAX_LENGTH,
) -> Block:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": action_id,
        "multiline": multiline,
        "max_length": max_length,
    }
    if placeholder:
        element["placeholder"] = bk.plain_text(placeholder, limits.PLACEHOLDER)
    if initial:
        element["initial_value"] = truncate(clean(initial), max_length, note=False)
    block: Block = {
        "type": "input",
        "block_id": action_id,
        "optional": optional,
        "label": bk.plain_text(label, limits.INPUT_LABEL),
        "element": element,
    }
    if hint:
        block["hint"] = bk.plain_text(hint, limits.INPUT_HINT)
    return block


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": bk.plain_text(label, limits.OPTION_TEXT), "value": value}


MAX_TEAM_OPTIONS = 100  # a static_select holds at most 100 options (Block Kit reference)


def escalate_modal(session_id: str, default_reason: str = "", teams: list[str] | None = None,
                   team: str | None = None) -> View:
    urgency = {
        "type": "input",
        "block_id": ids.ESCALATE_URGENCY,
        "optional": True,
        "label": bk.plain_text("Urgency"),
        "element": {
            "type": "static_select",
            "action_id": ids.ESCALATE_URGENCY,
            "options": [_option(v, label) for v, label in URGENCIES],
            "initial_option": _option("normal", "🟢 Normal"),
        },
    }
    engineer = {
        "type": "input",
        "block_id": ids.ESCALATE_TO,
        "optional": True,
        "label": bk.plain_text("Escalate to"),
        "hint": bk.plain_text("Leave empty to tag the workspace's default escalation engineers."),
        "element": {
            "type": "users_select",
            "action_id": ids.ESCALATE_TO,
            "placeholder": bk.plain_text("Choose an engineer"),
        },
    }
    blocks = [
        _text_input(
            ids.ESCALATE_REASON,
            "Why does this need an escalation engineer?",
            multiline=True,
            placeholder="What is blocking you, and what have you ruled out?",
            initial=default_reason,
        ),
        engineer,
    ]
    if teams:
        options = [_option(name, f"👥 {name}") for name in teams[:MAX_TEAM_OPTIONS]]
        element: dict[str, Any] = {
            "type": "static_select", "action_id": ids.ESCALATE_TEAM, "options": options,
            "placeholder": bk.plain_text("Choose a team"),
        }
        chosen = [o for o in options if team and o["value"].lower() == team.lower()]
        if chosen:
            element["initial_option"] = chosen[0]
        blocks.append({
            "type": "input", "block_id": ids.ESCALATE_TEAM, "optional": True,
            "label": bk.plain_text("Team"),
            "hint": bk.plain_text("Tags the team's members (or the one whose turn it is)."),
            "element": element,
        })
    blocks.append(urgency)
    return _modal(ids.ESCALATE_MODAL, "Escalate session", "Escalate", blocks, session_id)


def note_digest(text: str) -> str:
    """A short fingerprint of the note as shown, to tell an edited note from an untouched one."""
    import hashlib

    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]


def resolve_modal(session_id: str, preview_markdown: str) -> View:
    """The note, prefilled in a multiline input for a last edit (the edited text is what is
    stored and posted). A note longer than an input holds is shown, with an input to add to it."""
    note = clean(preview_markdown.strip())
    if note and len(note) <= limits.INPUT_MAX_LENGTH:
        blocks: list[Block] = [
            bk.section("Here is the resolution note. Edit it if you like; what you submit is "
                       "posted in the thread and stored with the session."),
            _text_input(ids.RESOLVE_NOTE, "Resolution note", multiline=True, initial=note),
        ]
        return _modal(ids.RESOLVE_MODAL, "Resolve session", "Resolve", blocks,
                      f"{session_id}:edit:{note_digest(note)}")
    return _addition_modal(session_id, preview_markdown)


def _addition_modal(session_id: str, preview_markdown: str) -> View:
    safe = neutralize(preview_markdown.strip(), max_len=PREVIEW_MAX)
    blocks = [bk.section("*Resolution note preview*")]
    blocks += bk.sections([markdown_to_mrkdwn(safe) or "_Nothing recorded yet._"])
    blocks.append(bk.divider())
    blocks.append(
        _text_input(
            ids.RESOLVE_NOTE,
            "Anything to add to the note?",
            multiline=True,
            optional=True,
            placeholder="e.g. what you changed that isn't in the steps above",
        )
    )
    return _modal(ids.RESOLVE_MODAL, "Resolve session", "Resolve", blocks, session_id)


def intake_modal(channel_id: str) -> View:
    blocks = [
        _text_input(
            ids.INTAKE_PROBLEM,
            "What's the problem?",
            multiline=True,
            placeholder="e.g. Outlook keeps asking for a password on one laptop since this morning",
        ),
        _text_input(
            ids.INTAKE_LOG,
            "Paste an error or log (optional)",
            multiline=True,
            optional=True,
            hint="Passwords and keys are masked before anything is sent to the AI.",
        ),
        _text_input(ids.INTAKE_TICKET, "Ticket number (optional)", optional=True, max_length=50),
        # Block Kit's file_input (docs.slack.dev/reference/block-kit/block-elements/
        # file-input-element: inside an input block, max_files 1-10, needs files:read).
        {"type": "input", "block_id": ids.INTAKE_FILES, "optional": True,
         "label": bk.plain_text("Screenshot or log file (optional)", limits.INPUT_LABEL),
         "hint": bk.plain_text("Log files are masked like pasted text; screenshots reach the AI "
                               "only if an admin allowed images.", 150),
         "element": {"type": "file_input", "action_id": ids.INTAKE_FILES, "max_files": 5}},
    ]
    return _modal(ids.INTAKE_MODAL, "New FlowPilot session", "Start", blocks, channel_id)


def feedback_modal(session_id: str) -> View:
    blocks = [
        _text_input(
            ids.FEEDBACK_TEXT,
            "What went well, and what should FlowPilot do better?",
            multiline=True,
        )
    ]
    return _modal(ids.FEEDBACK_MODAL, "Feedback", "Send", blocks, session_id)


TITLE_MAX = 255  # ai_sessions.title is String(255)


def rename_modal(session_id: str, current: str = "") -> View:
    blocks = [
        _text_input(ids.RENAME_TITLE, "Session title", initial=current, max_length=TITLE_MAX,
                    placeholder="e.g. Outlook password loop — Contoso, J. Smith"),
    ]
    return _modal(ids.RENAME_MODAL, "Rename session", "Save", blocks, session_id)
