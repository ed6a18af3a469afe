"""One turn of a session as a message: the model's note, new facts, and the task lane.

Items that do not fit Slack's limits are left out visibly ("… 12 more questions not shown"),
never silently. Re-rendering a turn whose items now carry decisions gives the updated message
for chat.update.
"""

from __future__ import annotations

from bot import ids

from . import blocks as bk
from . import limits
from .blocks import Message
from .items import Item, render_item
from .limits import Block, block_text_size, truncate
from .mrkdwn import links_shown, markdown_to_mrkdwn
from .safe import neutralize, one_line, plain, safe_link
from .views import FactItem, SeenBeforeItem, TurnView

MESSAGE_MAX_WITH_ITEMS = 4000
MESSAGE_MAX_ALONE = 9000
FACTS_MAX_CHARS = 2500
FACT_MAX = 400
SEEN_BEFORE_MAX = 3
_SOURCES = {"intake", "technician", "action", "inference"}
# A fact "from a technician" may come from the engineer who took the session over: say where
# it came from, not who.
SOURCE_LABELS = {"technician": "from the thread"}
# Room kept for the "… N more not shown" line.
_NOTE_CHARS = 160


def _message_blocks(t: TurnView, has_items: bool) -> list[Block]:
    """The model's prose in Block Kit's ``markdown`` block (Slack renders the markdown the
    model writes); our own flow text stays mrkdwn sections. Either way it is neutralized
    first (no pings, no Slack control sequences) and links are written out."""
    if not t.message.strip():
        return []
    cap = MESSAGE_MAX_WITH_ITEMS if has_items else MESSAGE_MAX_ALONE
    text = neutralize(t.message.strip(), allowed_user_ids=t.allowed_user_ids, max_len=cap)
    if t.engine == "claude":
        return [{"type": "markdown", "text": links_shown(text)}]
    return bk.sections([markdown_to_mrkdwn(text)])


def feedback_block(t: TurnView) -> list[Block]:
    """👍/👎 on a model turn (Block Kit ``feedback_buttons`` in ``context_actions``,
    docs.slack.dev/reference/block-kit/block-elements/feedback-buttons-element)."""
    if t.engine != "claude" or not t.step_id:
        return []
    element = {
        "type": "feedback_buttons",
        "action_id": ids.TURN_FEEDBACK,
        "positive_button": {"text": bk.plain_text("👍"), "accessibility_label": "This helped",
                            "value": f"{t.session_id}|{t.step_id}|up"},
        "negative_button": {"text": bk.plain_text("👎"),
                            "accessibility_label": "This did not help",
                            "value": f"{t.session_id}|{t.step_id}|down"},
    }
    return [{"type": "context_actions", "elements": [element]}]


def facts_text(facts: list[FactItem], *, max_chars: int = FACTS_MAX_CHARS) -> str:
    """``What we know`` as a bulleted list; facts that do not fit are counted, not dropped."""
    lines = ["🧠 *What we know*"]
    used = len(lines[0])
    for n, fact in enumerate(facts):
        source = fact.source if fact.source in _SOURCES else "inference"
        label = SOURCE_LABELS.get(source, source)
        text = neutralize(one_line(fact.text), max_len=FACT_MAX)
        line = f"• {text}  _({label})_" if fact.active else f"• ~{text}~  _(marked wrong)_"
        if used + len(line) + 40 > max_chars:
            lines.append(f"_… and {len(facts) - n} more facts not shown_")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


FACT_MENU_MAX = 20  # options shown in the "That's wrong" menu (Slack allows 100)


def fact_menu(session_id: str, facts: list[FactItem]) -> Block | None:
    """A "That's wrong…" menu listing the message's active facts: picking one retracts it."""
    live = [f for f in facts if f.active and f.id][:FACT_MENU_MAX]
    if not live:
        return None
    options = [
        {"text": bk.plain_text(plain(one_line(f.text), max_len=limits.OPTION_TEXT),
                               limits.OPTION_TEXT),
         "value": f"{session_id}|{f.id}"}
        for f in live
    ]
    return {"type": "static_select", "action_id": ids.FACT_WRONG,
            "placeholder": bk.plain_text("That's wrong…"), "options": options}


def _seen_before_text(items: list[SeenBeforeItem]) -> str:
    lines = ["🔁 *Seen before*"]
    for item in items[:SEEN_BEFORE_MAX]:
        line = f"• {neutralize(one_line(item.summary), max_len=200)}"
        if item.fix_title:
            line += f" → fixed by _{neutralize(one_line(item.fix_title), max_len=200)}_"
        if item.when_text:
            line += f" ({neutralize(item.when_text, max_len=40)})"
        if item.link:
            line += f" · {safe_link(item.link, 'open')}"
        lines.append(line)
    if len(items) > SEEN_BEFORE_MAX:
        lines.append(f"_… and {len(items) - SEEN_BEFORE_MAX} more_")
    return "\n".join(lines)


def _recommend_blocks(t: TurnView) -> list[Block]:
    if t.recommend == "resolve":
        button = bk.button("✅ Resolve", ids.RESOLVE, t.session_id, style="primary")
        hint = "✅ *This looks solved.* Resolve the session to write the resolution note."
        return [bk.section(hint, accessory=button)]
    if t.recommend == "escalate" and t.escalated:
        return [bk.section("🧭 *The built-in steps run out here.* You have everything we know "
                           "above; carry on, then Resolve (or Park) the session.")]
    if t.recommend == "escalate":
        button = bk.button("🔺 Escalate", ids.ESCALATE, t.session_id)
        hint = "🔺 *This may need an escalation engineer.* Escalate to hand it over with everything we know."
        return [bk.section(hint, accessory=button)]
    return []


def _wrong_flow_blocks(t: TurnView) -> list[Block]:
    """Offline turns: leave a wrong flow for the next best ones, or for none of them.
    Each button's action_id is unique in the message (``fp_wrong_flow:<n>``)."""
    if t.engine != "offline" or not t.other_flows:
        return []
    buttons = [
        bk.button(
            plain("None of these" if fid == "none" else f"Try: {title}", max_len=70),
            f"{ids.WRONG_FLOW}:{n}",
            f"{t.session_id}|{fid}",
        )
        for n, (fid, title) in enumerate(t.other_flows[:4])
    ]
    return [bk.context(["🔀 *Wrong flow?* Switch to another one, or to none of them."]),
            bk.actions(buttons)]


def _branch_blocks(t: TurnView) -> list[Block]:
    """Issue 18: fork the session at this turn (its state comes back; this path is kept)."""
    if not t.branch_value:
        return []
    button = bk.button("🔀 Try another path from here", ids.BRANCH, t.branch_value)
    return [bk.actions([button], block_id="fp_branch")]


def _kind(item: Item) -> str:
    return type(item).__name__.removesuffix("Item").lower()


def _fit_items(
    session_id: str, items: list[Item], allowed: frozenset[str], blocks_left: int, chars_left: int
) -> tuple[list[list[Block]], dict[str, int]]:
    """Render as many items as fit, in order, each kind kept a prefix; count the rest."""
    groups = [render_item(session_id, item, allowed_user_ids=allowed) for item in items]
    sizes = [block_text_size(g) for g in groups]
    shown: set[int] = set()

    def take(i: int) -> bool:
        nonlocal blocks_left, chars_left
        if len(groups[i]) > blocks_left or sizes[i] > chars_left:
            return False
        shown.add(i)
        blocks_left -= len(groups[i])
        chars_left -= sizes[i]
        return True

    kinds = [_kind(item) for item in items]
    # First the first item of each kind, so a long list of questions cannot hide every fix.
    for kind in dict.fromkeys(kinds):
        take(kinds.index(kind))
    stopped: set[str] = set()
    for i, kind in enumerate(kinds):
        if i in shown or kind in stopped:
            continue
        if not (kinds.index(kind) in shown and take(i)):
            stopped.add(kind)
    hidden: dict[str, int] = {}
    for i, kind in enumerate(kinds):
        if i not in shown:
            hidden[kind] = hidden.get(kind, 0) + 1
    return [groups[i] for i in sorted(shown)], hidden


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word}es" if word.endswith("fix") else f"{n} {word}s"


def _hidden_note(hidden: dict[str, int]) -> Block:
    shown = ", ".join(_plural(n, f"more {kind}") for kind, n in hidden.items())
    text = f"… {shown} not shown. Work through the ones above, or reply in the thread."
    return bk.context([text], block_id="fp_more")


def _fallback(t: TurnView) -> str:
    if t.message.strip():
        safe = neutralize(t.message.strip(), allowed_user_ids=t.allowed_user_ids, max_len=600)
        return truncate(one_line(markdown_to_mrkdwn(safe)), 300)
    counts = [(len(t.questions), "question"), (len(t.actions), "action"), (len(t.fixes), "suggested fix")]
    parts = [_plural(n, word) for n, word in counts if n]
    return "FlowPilot: " + (", ".join(parts) if parts else "update")


def render_turn(t: TurnView) -> Message:
    items: list[Item] = [*t.questions, *t.actions, *t.fixes]
    head = _message_blocks(t, bool(items))
    if t.engine == "offline":
        head.append(bk.context(["📚 Offline mode: following FlowPilot's built-in troubleshooting flows (no AI)."]))
    if t.seen_before:
        head.append(bk.section(_seen_before_text(t.seen_before)))
    if t.facts:
        head.append(bk.section(facts_text(t.facts), accessory=fact_menu(t.session_id, t.facts)))
    tail = _recommend_blocks(t) + _wrong_flow_blocks(t) + _branch_blocks(t) + feedback_block(t)
    blocks_left = limits.MAX_BLOCKS - len(head) - len(tail) - 1
    chars_left = limits.TOTAL_BLOCK_TEXT - block_text_size(head) - block_text_size(tail) - _NOTE_CHARS
    groups, hidden = _fit_items(t.session_id, items, t.allowed_user_ids, blocks_left, chars_left)
    body: list[Block] = [b for g in groups for b in g]
    if hidden:
        body.append(_hidden_note(hidden))
    out = head + body + tail
    if not out:
        out = [bk.context(["FlowPilot has nothing new to add yet."])]
    return bk.finish(out, _fallback(t), session_id=t.session_id)
