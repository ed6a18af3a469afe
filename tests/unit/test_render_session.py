"""The session header, a turn's items and their decided states, small status messages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot import ids
from bot.render import (
    ActionItem,
    FactItem,
    FixItem,
    HeaderView,
    QuestionItem,
    SeenBeforeItem,
    TurnView,
    outcome_text,
    render_decided,
    render_engine_failure,
    render_ephemeral,
    render_header,
    render_turn,
    render_working,
)
from bot.render.check import iter_elements, iter_texts, violations

SID = "0190b7c2-5f1e-7a3c-9d2e-1b2c3d4e5f60"


def _buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in iter_elements(blocks) if e["type"] == "button"]


def _action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["action_id"] for b in _buttons(blocks)]


def _matches_contract(action_id: str) -> bool:
    return any(ids.prefixed(p).match(action_id) for p in ids.BUTTON_PREFIXES)


def _header(status: str, **kw: Any) -> HeaderView:
    return HeaderView(SID, "Outlook prompts for password", domain="m365", tier="guided",
                      confidence=0.92, status=status, owner_id="U0OWNER", **kw)


# --- header ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("active", ["fp_resolve", "fp_escalate", "fp_park", "fp_rename", "fp_history"]),
        ("paused", ["fp_resume", "fp_resolve", "fp_escalate", "fp_rename", "fp_history"]),
        ("requesting_escalation", ["fp_resolve", "fp_rename", "fp_history"]),
        ("escalated", ["fp_resolve", "fp_park", "fp_rename", "fp_history"]),
        ("resolved", ["fp_history"]),  # an ended session's history stays readable
        ("abandoned", ["fp_history"]),
    ],
)
def test_header_buttons_by_status(status: str, expected: list[str]) -> None:
    msg = render_header(_header(status))
    assert _action_ids(msg.blocks) == expected
    assert all(b["value"] == SID for b in _buttons(msg.blocks))
    assert not any(b.get("style") == "danger" for b in _buttons(msg.blocks))
    assert violations(msg.blocks, msg.text) == []


def test_header_shows_status_tier_owner_and_more() -> None:
    msg = render_header(
        _header("paused", escalated_to_id="U0ENG", time_active_text="42 min",
                time_parked_text="5 min", flow_title="Outlook password loop", ticket_ref="#12345",
                step_count=4)
    )
    assert msg.blocks[0] == {
        "type": "header", "text": {"type": "plain_text", "text": "🧭 FlowPilot session", "emoji": True}
    }
    line = " ".join(iter_texts(msg.blocks))
    for part in ["Microsoft 365", "guided 92%", "⏸️ parked", "<@U0OWNER>", "<@U0ENG>", "42 min",
                 "5 min", "4 steps", "Outlook password loop", "#12345"]:
        assert part in line, part
    assert msg.text == "FlowPilot session: Outlook prompts for password (parked)"
    assert msg.as_kwargs() == {"text": msg.text, "blocks": msg.blocks}
    assert msg.as_kwargs(metadata=True)["metadata"]["event_payload"]["session_id"] == SID


@pytest.mark.parametrize(
    ("status", "label"),
    [("active", "🟢"), ("requesting_escalation", "🟠 escalation requested"), ("escalated", "🔺"),
     ("resolved", "✅"), ("abandoned", "⚪")],
)
def test_header_status_emoji(status: str, label: str) -> None:
    assert label in " ".join(iter_texts(render_header(_header(status)).blocks))


def test_header_tier_falls_back_to_confidence() -> None:
    msg = render_header(HeaderView(SID, "x", confidence=0.5))
    assert "exploring 50%" in " ".join(iter_texts(msg.blocks))


# --- a turn -----------------------------------------------------------------------------------


def _turn(**kw: Any) -> TurnView:
    base: dict[str, Any] = dict(
        session_id=SID,
        message="Let's check the **basics** first.",
        facts=[FactItem("User is remote", "technician"), FactItem("Started today", "intake")],
        questions=[QuestionItem("q1", "Is the user on VPN?", ["Yes", "No", "Not sure"])],
        actions=[ActionItem("a1", "Check the credential manager", "cmdkey /list", "low")],
        fixes=[FixItem("f1", "Clear cached credentials", ["Open Credential Manager", "Remove Office entries"],
                       "Stale token", "Outlook connects without prompt", "medium", 0.7)],
    )
    base.update(kw)
    return TurnView(**base)


def test_turn_value_formats_and_action_ids() -> None:
    msg = render_turn(_turn())
    assert violations(msg.blocks, msg.text) == []
    buttons = _buttons(msg.blocks)
    answers = [b for b in buttons if b["action_id"].startswith("fp_answer")]
    assert [b["action_id"] for b in answers] == ["fp_answer:0", "fp_answer:1", "fp_answer:2"]
    assert [b["value"] for b in answers] == [f"{SID}|q1|0", f"{SID}|q1|1", f"{SID}|q1|2"]
    assert [b["text"]["text"] for b in answers] == ["Yes", "No", "Not sure"]
    by_id = {b["action_id"]: b for b in buttons}
    assert by_id["fp_action_done"]["value"] == f"{SID}|a1"
    assert by_id["fp_action_skip"]["value"] == f"{SID}|a1"
    for fix_id in ("fp_fix_worked", "fp_fix_failed", "fp_fix_reject"):
        assert by_id[fix_id]["value"] == f"{SID}|f1"
    assert by_id["fp_fix_worked"]["style"] == "primary"
    assert all(_matches_contract(b["action_id"]) for b in buttons)
    for b in buttons:
        assert re.fullmatch(r"[^|]+\|[^|]+(\|\d+)?", b["value"])


def test_turn_content() -> None:
    msg = render_turn(_turn())
    text = "\n".join(iter_texts(msg.blocks))
    # The model's prose goes in a markdown block, as the model wrote it (Slack renders it).
    assert "Let's check the **basics** first." in text
    assert [b["type"] for b in msg.blocks][0] == "markdown"
    assert "What we know" in text and "• User is remote  _(from the thread)_" in text
    assert "`cmdkey /list`" in text and "low risk" in text and "check" in text
    assert "1. Open Credential Manager" in text and "_Why:_ Stale token" in text
    assert "_Verify:_ Outlook connects without prompt" in text and "confidence 70%" in text
    assert msg.text.startswith("Let's check the *basics* first.")


def test_each_item_keeps_two_blocks_whether_open_or_decided() -> None:
    open_msg = render_turn(_turn())
    decided = _turn(
        questions=[QuestionItem("q1", "Is the user on VPN?", ["Yes", "No"], status="answered",
                                answer="No", decided_by="U0ALICE", decided_at_text="10:42")],
        actions=[ActionItem("a1", "Check", status="skipped", decided_by="U0BOB", decided_at_text="10:43")],
        fixes=[FixItem("f1", "Clear cached credentials", status="worked", decided_by="U0ALICE",
                       decided_at_text="10:50")],
    )
    msg = render_turn(decided)
    assert len(msg.blocks) == len(open_msg.blocks)
    assert _buttons(msg.blocks) == []
    text = "\n".join(iter_texts(msg.blocks))
    assert "💬 No — <@U0ALICE>, 10:42" in text
    assert "⏭️ Skipped — <@U0BOB>, 10:43" in text
    assert "✅ Worked — <@U0ALICE>, 10:50" in text
    assert [b.get("block_id") for b in msg.blocks] == [b.get("block_id") for b in open_msg.blocks]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (FixItem("f", "t", status="worked", decided_by="U0A", decided_at_text="10:42"), "✅ Worked — <@U0A>, 10:42"),
        (FixItem("f", "t", status="failed", decided_by="U0A", decided_at_text="10:42"), "❌ Didn't work — <@U0A>, 10:42"),
        (FixItem("f", "t", status="rejected", decided_by="U0A"), "🚫 Not applicable — <@U0A>"),
        (FixItem("f", "t", status="superseded", superseded_by_title="Better fix"), "⏭️ Superseded by: Better fix"),
        (ActionItem("a", "t", status="done", decided_by="U0A", decided_at_text="9:05"), "☑️ Done — <@U0A>, 9:05"),
        (ActionItem("a", "t", status="skipped"), "⏭️ Skipped"),
        (QuestionItem("q", "t", status="answered", answer="Yes", decided_by="Alice", decided_at_text="10:42"), "💬 Yes — Alice, 10:42"),
        (FixItem("f", "t", status="pending"), None),
        (FixItem("f", "t", status="trying"), None),
        (ActionItem("a", "t"), None),
        (QuestionItem("q", "t"), None),
    ],
)
def test_outcome_lines(item: Any, expected: str | None) -> None:
    assert outcome_text(item) == expected
    blocks = render_decided(SID, item)
    assert len(blocks) == 2
    if expected is None:
        assert blocks[1]["type"] in ("actions", "context")
    else:
        assert blocks[1]["type"] == "context" and blocks[1]["elements"][0]["text"] == expected


def test_question_without_options_asks_for_a_reply() -> None:
    msg = render_turn(_turn(questions=[QuestionItem("q9", "What's the error text?")], actions=[], fixes=[]))
    assert "Reply in the thread" in " ".join(iter_texts(msg.blocks))


def test_recommendations() -> None:
    resolve = render_turn(_turn(recommend="resolve"))
    assert resolve.blocks[-1]["accessory"]["action_id"] == "fp_resolve"
    assert resolve.blocks[-1]["accessory"]["value"] == SID
    escalate = render_turn(_turn(recommend="escalate"))
    assert escalate.blocks[-1]["accessory"]["action_id"] == "fp_escalate"
    cont = render_turn(_turn())
    assert "accessory" not in cont.blocks[-1]


def test_offline_engine_and_seen_before() -> None:
    msg = render_turn(_turn(engine="offline", seen_before=[
        SeenBeforeItem("Outlook loop at Acme", "Cleared credentials", "2 weeks ago", "https://x.slack.com/archives/C1/p1")
    ]))
    text = " ".join(iter_texts(msg.blocks))
    assert "Offline mode" in text
    assert "Seen before" in text and "<https://x.slack.com/archives/C1/p1|open>" in text


def test_empty_turn_still_renders() -> None:
    msg = render_turn(TurnView(SID))
    assert msg.blocks and msg.text


def test_long_option_is_truncated_to_75() -> None:
    msg = render_turn(_turn(questions=[QuestionItem("q1", "Pick", ["x" * 500])]))
    assert all(len(b["text"]["text"]) <= 75 for b in _buttons(msg.blocks))


# --- small messages -------------------------------------------------------------------------------


def test_working_failure_and_ephemeral() -> None:
    working = render_working()
    assert "⏳ FlowPilot is working on it…" in working.text
    failure = render_engine_failure(SID, "timeout after 60 s")
    assert "The model is slow or unavailable right now. Nothing was lost. Retry?" in failure.text
    (retry,) = _buttons(failure.blocks)
    assert retry["action_id"] == "fp_retry" and retry["value"] == SID
    eph = render_ephemeral("Only the owner can resolve this session.")
    assert eph.text == "Only the owner can resolve this session."
    for m in (working, failure, eph):
        assert violations(m.blocks, m.text) == []
