"""Blocks for one item of a turn (question, action, fix): open with buttons, or decided.

Every item renders as exactly two blocks, a section and then either its buttons or its
outcome line, so deciding an item and re-rendering the turn keeps the layout stable.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot import ids

from . import blocks as bk
from .labels import by_line, percent, risk_label
from .limits import Block, truncate
from .safe import code_span, neutralize, one_line, plain
from .views import ActionItem, FixItem, QuestionItem

MAX_OPTIONS = 12
QUESTION_MAX = 600
ACTION_MAX = 800
COMMAND_MAX = 700
FIX_MAX = 1800
FIX_STEP_MAX = 400

OPEN_FIX_STATES = frozenset({"pending", "trying"})
_FIX_OUTCOMES = {
    "worked": "✅ Worked",
    "failed": "❌ Didn't work",
    "rejected": "🚫 Not applicable",
}

Item = QuestionItem | ActionItem | FixItem


def answer_value(session_id: str, question_id: str, option_index: int) -> str:
    return f"{session_id}|{question_id}|{option_index}"


def item_value(session_id: str, item_id: str) -> str:
    return f"{session_id}|{item_id}"


def is_open(item: Item) -> bool:
    if isinstance(item, FixItem):
        return item.status in OPEN_FIX_STATES
    return item.status == "open"


def outcome_text(item: Item) -> str | None:
    """The line that replaces an item's buttons once it is decided; None while open."""
    if is_open(item):
        return None
    if isinstance(item, QuestionItem):
        if item.status == "answered":
            answer = neutralize(one_line(item.answer or "answered"), max_len=500)
            return by_line(f"💬 {answer}", item.decided_by, item.decided_at_text)
        if item.status == "skipped":
            return by_line("⏭️ Skipped", item.decided_by, item.decided_at_text)
    elif isinstance(item, ActionItem):
        if item.status == "done":
            return by_line("☑️ Done", item.decided_by, item.decided_at_text)
        if item.status == "skipped":
            return by_line("⏭️ Skipped", item.decided_by, item.decided_at_text)
    else:
        if item.status == "superseded":
            title = neutralize(one_line(item.superseded_by_title or ""), max_len=200)
            return f"⏭️ Superseded by: {title}" if title else "⏭️ Superseded"
        if item.status in _FIX_OUTCOMES:
            return by_line(_FIX_OUTCOMES[item.status], item.decided_by, item.decided_at_text)
    return f"⏹️ {neutralize(item.status, max_len=40)}"


def _safe(text: str, allowed: Iterable[str], max_len: int) -> str:
    return neutralize(text.strip(), allowed_user_ids=allowed, max_len=max_len)


def question_text(q: QuestionItem, allowed: Iterable[str] = frozenset()) -> str:
    body = f"❓ {_safe(q.text, allowed, QUESTION_MAX)}"
    if is_open(q) and len(q.options) > MAX_OPTIONS:
        body += (
            f"\n_Showing {MAX_OPTIONS} of {len(q.options)} options; "
            "reply in the thread for any other answer._"
        )
    return body


def action_text(a: ActionItem, allowed: Iterable[str] = frozenset()) -> str:
    label = "🛠️ *Change*" if a.kind == "change" else "🔍 *Check*"
    lines = [f"{label}: {_safe(a.text, allowed, ACTION_MAX)}"]
    if a.command and a.command.strip():
        lines.append(code_span(a.command, max_len=COMMAND_MAX))
    lines.append(f"_{risk_label(a.risk)} · {'change' if a.kind == 'change' else 'check'}_")
    return "\n".join(lines)


def fix_text(f: FixItem, allowed: Iterable[str] = frozenset()) -> str:
    title = neutralize(one_line(f.title), max_len=200) or "Suggested fix"
    lines = [f"💡 *Suggested fix: {title}*"]
    for n, step in enumerate(f.steps, start=1):
        lines.append(f"{n}. {_safe(step, allowed, FIX_STEP_MAX)}")
    if f.rationale.strip():
        lines.append(f"_Why:_ {_safe(f.rationale, allowed, 600)}")
    if f.verify.strip():
        lines.append(f"_Verify:_ {_safe(f.verify, allowed, 400)}")
    meta = [risk_label(f.risk)]
    if f.confidence is not None:
        meta.append(f"confidence {percent(f.confidence)}")
    if f.status == "trying":
        meta.append("🧪 being tried")
    lines.append(f"_{' · '.join(meta)}_")
    if f.supersedes_title:
        lines.append(f"_Supersedes: {neutralize(one_line(f.supersedes_title), max_len=200)}_")
    return truncate("\n".join(lines), FIX_MAX)


def _question_buttons(session_id: str, q: QuestionItem) -> list[Block]:
    out = []
    for i, option in enumerate(q.options[:MAX_OPTIONS]):
        label = plain(one_line(option), max_len=75) or f"Option {i + 1}"
        out.append(bk.button(label, ids.with_suffix(ids.ANSWER, i), answer_value(session_id, q.id, i)))
    return out


def _controls(item: Item, session_id: str) -> list[Block]:
    if isinstance(item, QuestionItem):
        return _question_buttons(session_id, item)
    value = item_value(session_id, item.id)
    if isinstance(item, ActionItem):
        return [
            bk.button("☑️ Done", ids.ACTION_DONE, value, style="primary"),
            bk.button("⏭️ Skip", ids.ACTION_SKIP, value),
        ]
    trying = [] if item.status == "trying" else [bk.button("🔧 Trying it", ids.FIX_TRYING, value)]
    return [
        bk.button("✅ Worked", ids.FIX_WORKED, value, style="primary"),
        bk.button("❌ Didn't work", ids.FIX_FAILED, value),
        bk.button("🚫 Not applicable", ids.FIX_REJECT, value),
        *trying,
    ]


def _prefix(item: Item) -> str:
    if isinstance(item, QuestionItem):
        return "fp_q"
    return "fp_a" if isinstance(item, ActionItem) else "fp_f"


def render_item(
    session_id: str, item: Item, *, allowed_user_ids: Iterable[str] = frozenset()
) -> list[Block]:
    """The two blocks of an item: its text, then its buttons (open) or outcome (decided)."""
    allowed = frozenset(allowed_user_ids)
    if isinstance(item, QuestionItem):
        text = question_text(item, allowed)
    elif isinstance(item, ActionItem):
        text = action_text(item, allowed)
    else:
        text = fix_text(item, allowed)
    block_id = f"{_prefix(item)}:{item.id}"
    out = [bk.section(text, block_id=block_id)]
    outcome = outcome_text(item)
    controls = _controls(item, session_id) if outcome is None else []
    if outcome is not None:
        out.append(bk.context([outcome], block_id=f"{block_id}:ctl"))
    elif controls:
        out.append(bk.actions(controls, block_id=f"{block_id}:ctl"))
    else:
        out.append(bk.context(["💬 Reply in the thread to answer."], block_id=f"{block_id}:ctl"))
    return out


def render_decided(
    session_id: str, item: Item, *, allowed_user_ids: Iterable[str] = frozenset()
) -> list[Block]:
    """Replacement blocks for an item once decided (same block ids as when it was open)."""
    return render_item(session_id, item, allowed_user_ids=allowed_user_ids)
