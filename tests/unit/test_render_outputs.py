"""Resolution notes, escalation packages, and the messages that carry them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.render import (
    EscalationData,
    Hypothesis,
    ResolutionData,
    TriedFix,
    TriedStep,
    markdown_to_mrkdwn,
    render_escalation_message,
    render_escalation_package_markdown,
    render_note_message,
    render_nudge,
    render_rating_prompt,
    render_resolution_note_markdown,
    render_take_over_notice,
)
from bot.render.check import iter_elements, iter_texts, violations

SID = "sess-42"
HOSTILE = "<!channel> @here <@U999> <https://evil.example|https://bank.example>"

RESOLUTION_SECTIONS = [
    "Problem", "Environment", "What we confirmed", "What was tried and did not work",
    "Root cause", "Resolution", "Verification", "Time spent",
]
ESCALATION_SECTIONS = [
    "Summary", "Urgency", "Reason for escalation", "Environment", "What we know", "Steps tried",
    "Fixes tried", "Open questions", "Hypotheses", "Suggested next steps", "Thread link",
    "Time spent",
]


def _resolution(**kw: Any) -> ResolutionData:
    base: dict[str, Any] = dict(
        session_id=SID,
        problem="Outlook keeps prompting for a password",
        details="Since this morning, only on Bob's laptop.\npassword=hunter2",
        domain="m365",
        environment=["Windows 11 23H2", "Microsoft 365 Apps 2409"],
        facts=["User's password expired yesterday", "Web access works"],
        failed_fixes=[TriedFix("Repair Office", "failed", note="no change")],
        root_cause="Stale cached credentials after the password change.",
        resolution_title="Clear cached credentials",
        resolution_steps=["Open Credential Manager", "Remove MicrosoftOffice16 entries", "Restart Outlook"],
        verification="Outlook connected with no prompt for 10 minutes.",
        time_spent_text="34 min",
        ticket_ref="#12345",
        technician="Alice",
    )
    base.update(kw)
    return ResolutionData(**base)


def _escalation(**kw: Any) -> EscalationData:
    base: dict[str, Any] = dict(
        session_id=SID,
        summary="VPN drops every 10 minutes for the whole Leeds office",
        reason="Firewall change needs tier 3",
        urgency="high",
        domain="networking",
        confidence=0.35,
        environment=["FortiGate 100F, FortiOS 7.2"],
        facts=["Drops started after Tuesday's update", "Only IPsec tunnels affected"],
        steps_tried=[TriedStep("Check tunnel logs", "done: DPD timeouts", "diagnose vpn tunnel list")],
        fixes_tried=[TriedFix("Raise DPD interval", "failed"), TriedFix("Reboot", "rejected")],
        open_questions=["Did the ISP change anything?"],
        hypotheses=[Hypothesis("MTU mismatch after update", 0.6), Hypothesis("ISP packet loss", 0.3)],
        next_steps=["Capture packets on wan1", "Open a ticket with Fortinet"],
        thread_url="https://acme.slack.com/archives/C0ABC/p1700000000000100",
        time_spent_text="1 h 10 min",
        technician="Alice",
        owner_id="U0ALICE",
    )
    base.update(kw)
    return EscalationData(**base)


def _headings(markdown: str) -> list[str]:
    return re.findall(r"^## (.+)$", markdown, re.M)


def test_resolution_note_has_every_section_in_order() -> None:
    md = render_resolution_note_markdown(_resolution())
    assert md.startswith("# Resolution note: Outlook keeps prompting for a password")
    headings = _headings(md)
    assert [h for h in headings if h in RESOLUTION_SECTIONS] == RESOLUTION_SECTIONS
    assert "1. Open Credential Manager" in md and "**Clear cached credentials**" in md
    assert "- User's password expired yesterday" in md
    assert "**Repair Office** — didn't work: no change" in md
    assert "34 min" in md and "#12345" in md


def test_resolution_note_is_redacted_but_readable() -> None:
    md = render_resolution_note_markdown(_resolution())
    assert "hunter2" not in md and "[REDACTED:password]" in md
    assert "User's password expired yesterday" in md
    assert "**Domain:** Microsoft 365" in md and md.count("[REDACTED") == 1


def test_empty_sections_say_so() -> None:
    md = render_resolution_note_markdown(ResolutionData(session_id=SID, problem="x"))
    assert [h for h in _headings(md) if h in RESOLUTION_SECTIONS] == RESOLUTION_SECTIONS
    assert "_None recorded._" in md and "_Not determined._" in md


def test_escalation_package_has_every_section() -> None:
    md = render_escalation_package_markdown(_escalation())
    assert _headings(md) == ESCALATION_SECTIONS
    assert "1. MTU mismatch after update (likelihood 60%)" in md
    assert "Check tunnel logs (`diagnose vpn tunnel list`) — done: DPD timeouts" in md
    assert "**Raise DPD interval** — didn't work" in md
    assert "https://acme.slack.com/archives/C0ABC/p1700000000000100" in md
    assert "**Urgency:** High" in md
    assert "U0ALICE" not in md  # read outside Slack: names, not ids


def test_markdown_to_mrkdwn() -> None:
    md = "## Heading\n**bold** and *it* and ~~gone~~\n- one\n* two\n[doc](https://x.example)\n`**code**`\n```\n**kept**\n```"
    out = markdown_to_mrkdwn(md)
    assert out.splitlines()[:5] == ["*Heading*", "*bold* and _it_ and ~gone~", "• one", "• two", "doc (https://x.example)"]
    assert "`**code**`" in out and "**kept**" in out


@pytest.mark.parametrize("final", [True, False])
def test_note_message(final: bool) -> None:
    md = render_resolution_note_markdown(_resolution(facts=[HOSTILE]))
    msg = render_note_message(md, SID, final=final)
    assert violations(msg.blocks, msg.text) == []
    text = "\n".join(iter_texts(msg.blocks))
    assert "*Problem*" in text and "• " in text and "**" not in text
    assert ("Stored with the session" in text) is final
    assert msg.text.endswith("esolution note: Outlook keeps prompting for a password")
    for s in [*iter_texts(msg.blocks), msg.text]:
        assert "<!" not in s and "<@" not in s and "<http" not in s


def test_huge_note_is_truncated_visibly() -> None:
    md = render_resolution_note_markdown(_resolution(facts=["fact " * 200] * 200))
    msg = render_note_message(md, SID, final=True)
    assert violations(msg.blocks, msg.text) == []
    assert any("more characters)" in t for t in iter_texts(msg.blocks))


def test_escalation_message_tags_and_take_over() -> None:
    msg = render_escalation_message(
        _escalation(summary=f"VPN down {HOSTILE}"), engineer_ids=["U0ENG1", "U0ENG2"],
        group_id="S0TIER3", session_id=SID, take_over_enabled=True, taken_by=None,
    )
    assert violations(msg.blocks, msg.text) == []
    texts = [*iter_texts(msg.blocks), msg.text]
    joined = "\n".join(texts)
    assert "<@U0ENG1> <@U0ENG2> <!subteam^S0TIER3>" in joined
    assert msg.text.startswith("<@U0ENG1> <@U0ENG2> <!subteam^S0TIER3>")
    # only our own tags, never the hostile ones
    assert set(re.findall(r"<[@!#][^>]*>", joined)) == {"<@U0ENG1>", "<@U0ENG2>", "<!subteam^S0TIER3>", "<@U0ALICE>"}
    assert "<https://evil" not in joined
    assert "<https://acme.slack.com/archives/C0ABC/p1700000000000100|Open the session thread>" in joined
    for title in ["Reason for escalation", "What we know", "Steps tried", "Fixes tried",
                  "Open questions", "Hypotheses", "Suggested next steps", "Thread link"]:
        assert f"*{title}*" in joined
    (take,) = list(iter_elements(msg.blocks))
    assert take["action_id"] == "fp_take_over" and take["value"] == SID


def test_escalation_message_without_take_over_or_when_taken() -> None:
    data = _escalation()
    off = render_escalation_message(data, engineer_ids=["U0ENG1"], group_id=None, session_id=SID,
                                    take_over_enabled=False, taken_by=None)
    assert list(iter_elements(off.blocks)) == []
    taken = render_escalation_message(data, engineer_ids=["U0ENG1"], group_id=None, session_id=SID,
                                      take_over_enabled=True, taken_by="U0ENG1", taken_at_text="10:42")
    assert list(iter_elements(taken.blocks)) == []
    assert "🙋 Taken over by <@U0ENG1> at 10:42" in "\n".join(iter_texts(taken.blocks))


def test_escalation_message_with_huge_package_keeps_take_over() -> None:
    data = _escalation(facts=["fact " * 300] * 100, next_steps=["step " * 300] * 50, reason="r " * 5000)
    msg = render_escalation_message(data, engineer_ids=[], group_id=None, session_id=SID,
                                    take_over_enabled=True, taken_by=None)
    assert violations(msg.blocks, msg.text) == []
    assert msg.blocks[-1]["elements"][0]["action_id"] == "fp_take_over"


def test_rating_prompt() -> None:
    msg = render_rating_prompt(SID)
    buttons = list(iter_elements(msg.blocks))
    rates = [b for b in buttons if b["action_id"].startswith("fp_rate")]
    assert [b["action_id"] for b in rates] == [f"fp_rate:{n}" for n in range(1, 6)]
    assert [b["value"] for b in rates] == [f"{SID}|{n}" for n in range(1, 6)]
    (feedback,) = [b for b in buttons if b["action_id"] == "fp_feedback"]
    assert feedback["value"] == SID
    assert violations(msg.blocks, msg.text) == []


def test_nudge() -> None:
    msg = render_nudge(SID, "U0OWNER", "45 min")
    assert "<@U0OWNER>" in msg.blocks[0]["text"]["text"] and "45 min" in msg.text
    by_id = {b["action_id"]: b["value"] for b in iter_elements(msg.blocks)}
    assert by_id == {
        "fp_nudge_ok": SID,
        "fp_nudge_snooze:30m": f"{SID}|30m",
        "fp_nudge_snooze:2h": f"{SID}|2h",
        "fp_nudge_snooze:tomorrow": f"{SID}|tomorrow",
        "fp_park": SID,
        "fp_resolve": SID,
        "fp_escalate": SID,
    }
    assert violations(msg.blocks, msg.text) == []


def test_take_over_notice() -> None:
    msg = render_take_over_notice("U0ENG1", "U0ALICE", "10:42")
    assert msg.text == "🙋 <@U0ENG1> took over this session from <@U0ALICE> at 10:42. The session carries on here with its full history."
