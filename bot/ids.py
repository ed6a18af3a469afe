"""Every Slack action_id, callback_id and command, named once (CONTRACTS.md).

Old ids must keep working: messages stay in channels for years with their buttons, so a
rename adds a new id beside the old one rather than replacing it.
"""

from __future__ import annotations

import re

COMMAND = "/flowpilot"

# Buttons. Each rendered button's action_id is PREFIX or PREFIX + ":" + suffix (unique per
# block); handlers match the prefix with ``prefixed``.
ANSWER = "fp_answer"
ACTION_DONE = "fp_action_done"
ACTION_SKIP = "fp_action_skip"
FIX_WORKED = "fp_fix_worked"
FIX_FAILED = "fp_fix_failed"
FIX_REJECT = "fp_fix_reject"
FIX_TRYING = "fp_fix_trying"  # issue 18: the technician is trying this fix now
RESOLVE = "fp_resolve"
ESCALATE = "fp_escalate"
PARK = "fp_park"
RESUME = "fp_resume"
TAKE_OVER = "fp_take_over"
RATE = "fp_rate"
# Beyond the contract's table (same fp_ prefix family).
RETRY = "fp_retry"
USE_FLOWS = "fp_use_flows"  # the model cannot be used: carry on with the built-in flows
RESEND = "fp_resend"  # post an answer the outbox gave up on again
NUDGE_STILL_WORKING = "fp_nudge_ok"
NUDGE_SNOOZE = "fp_nudge_snooze"
FEEDBACK = "fp_feedback"
OPEN_SESSION = "fp_open_session"  # App Home / list links (a url button; acked and ignored)
WRONG_FLOW = "fp_wrong_flow"  # offline turns: pick another flow (or none); CONTRACTS "More ids"
# Knowledge (CONTRACTS "More ids"): a "Seen before" suggestion, a draft under review.
SEEN_BEFORE = "fp_seen_before"
DRAFT_APPROVE = "fp_draft_approve"
DRAFT_REJECT = "fp_draft_reject"
DRAFT_EDIT = "fp_draft_edit"  # opens the edit modal; its submission approves
RENAME = "fp_rename"  # header: give the session a title (issue 18)
FACT_WRONG = "fp_fact_wrong"  # "That's wrong" menu on What we know: retract a fact (issue 18)
BRANCH = "fp_branch"  # "Try another path from here" on a turn's message (issue 18)
BRANCH_SWITCH = "fp_branch_switch"  # the header's Paths menu: back to another path (issue 18)
# Issue 19: "Start a session about '…'?" after a single unknown word; the session's history
# (header); a turn's 👍/👎 (Block Kit feedback_buttons).
CMD_START = "fp_cmd_start"
CMD_CANCEL = "fp_cmd_cancel"
HISTORY = "fp_history"
TURN_FEEDBACK = "fp_turn_feedback"

BUTTON_PREFIXES = (
    ANSWER, ACTION_DONE, ACTION_SKIP, FIX_WORKED, FIX_FAILED, FIX_REJECT, RESOLVE, ESCALATE,
    PARK, RESUME, TAKE_OVER, RATE, RETRY, NUDGE_STILL_WORKING, NUDGE_SNOOZE, FEEDBACK,
    OPEN_SESSION, WRONG_FLOW, USE_FLOWS, RESEND, SEEN_BEFORE, DRAFT_APPROVE, DRAFT_REJECT,
    DRAFT_EDIT, RENAME, FACT_WRONG, FIX_TRYING, BRANCH, BRANCH_SWITCH, CMD_START, CMD_CANCEL,
    HISTORY, TURN_FEEDBACK,
)

# Shortcut and modals.
SHORTCUT_TROUBLESHOOT = "fp_troubleshoot_message"
SHORTCUT_NAME = "Troubleshoot this"
ESCALATE_MODAL = "fp_escalate_modal"
ESCALATE_REASON = "fp_escalate_reason"
ESCALATE_TO = "fp_escalate_to"
ESCALATE_URGENCY = "fp_escalate_urgency"
ESCALATE_TEAM = "fp_escalate_team"  # the team picker (shown when the workspace has teams)
RESOLVE_MODAL = "fp_resolve_modal"
RESOLVE_NOTE = "fp_resolve_note"
INTAKE_MODAL = "fp_intake_modal"
INTAKE_PROBLEM = "fp_intake_problem"
INTAKE_LOG = "fp_intake_log"
INTAKE_TICKET = "fp_intake_ticket"
INTAKE_FILES = "fp_intake_files"  # a screenshot or log file (file_input; issue 18)
SETTINGS_MODAL = "fp_settings_modal"  # the PSA connection form (admins; issue 13)
PSA_SITE = "fp_psa_site"
PSA_COMPANY = "fp_psa_company"
PSA_PUBLIC_KEY = "fp_psa_public_key"
PSA_PRIVATE_KEY = "fp_psa_private_key"
PSA_CLIENT_ID = "fp_psa_client_id"
PSA_NOTE_FLAG = "fp_psa_note_flag"
FEEDBACK_MODAL = "fp_feedback_modal"
FEEDBACK_TEXT = "fp_feedback_text"
DRAFT_MODAL = "fp_draft_modal"  # edit a draft, then approve it
DRAFT_TITLE = "fp_draft_title"
DRAFT_LANGUAGE = "fp_draft_language"
DRAFT_BODY = "fp_draft_body"
DRAFT_REJECT_MODAL = "fp_draft_reject_modal"
DRAFT_REASON = "fp_draft_reason"
RENAME_MODAL = "fp_rename_modal"
RENAME_TITLE = "fp_rename_title"
HISTORY_MODAL = "fp_history_modal"  # read-only: no submit (issue 19)

# Slack events the app subscribes to (manifest ``bot_events``); ``message`` stands for
# ``message.channels`` and ``message.groups``.
EVENTS = ("app_mention", "message", "app_home_opened", "app_uninstalled", "tokens_revoked",
          "user_change")
MESSAGE_EVENTS = ("message.channels", "message.groups")

MODALS = (ESCALATE_MODAL, RESOLVE_MODAL, INTAKE_MODAL, SETTINGS_MODAL, FEEDBACK_MODAL,
          DRAFT_MODAL, DRAFT_REJECT_MODAL, RENAME_MODAL)


def prefixed(prefix: str) -> re.Pattern[str]:
    """A regex that matches ``prefix`` exactly or followed by ``:anything``."""
    return re.compile(rf"^{re.escape(prefix)}(:.*)?$")


def with_suffix(prefix: str, suffix: str | int) -> str:
    """A unique action_id for one button of a block (Slack wants them unique per block)."""
    return f"{prefix}:{suffix}"
