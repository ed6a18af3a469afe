"""The terminal renderer of `flowpilot try`: Block Kit in, readable lines and numbered
controls out."""

from __future__ import annotations

from typing import Any

from bot.sandbox.render_text import (
    DIM,
    FormField,
    box,
    display_width,
    element_state,
    modal_fields,
    plain,
    render_blocks,
    render_view,
    wrap,
)

USERS = {"U0ALICE": "alice", "U0BOB": "bob"}
CHANNELS = {"C0ESCALATE": "escalations"}


def _button(label: str, action_id: str, value: str = "v", **extra: object) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": label},
            "action_id": action_id, "value": value, **extra}


def test_plain_turns_mrkdwn_into_readable_text() -> None:
    text = ("*Owner* <@U0ALICE> asked <@U0BOB|robert> and <!subteam^S123|@tier3> in "
            "<#C0ESCALATE> and <#C999|general>: see <https://x.test/a|the runbook> or "
            "<https://x.test/b>. _really_ ~not~ &lt;ok&gt; &amp; <!here>")
    assert plain(text, USERS, CHANNELS) == (
        "Owner @alice asked @bob and @tier3 in #escalations and #general: see the runbook "
        "(https://x.test/a) or https://x.test/b. really not <ok> & @here")


def test_plain_leaves_code_and_identifiers_alone() -> None:
    assert plain("run `Get-Mailbox *user*` on fp_resolve_note") == (
        "run `Get-Mailbox *user*` on fp_resolve_note")
    assert plain("```\nipconfig /all\n```") == "ipconfig /all"
    assert plain("2 * 3 * 4") == "2 * 3 * 4"
    assert plain("<!subteam^S1>") == "@group"


def test_plain_bold_is_ansi_bold_only_with_color() -> None:
    assert plain("*hi*", color=True) == "\x1b[1mhi\x1b[0m"
    assert plain("*hi*") == "hi"


def test_header_is_boxed_and_wide_emoji_counted() -> None:
    lines = box("🧭 FlowPilot session")
    assert lines[0].startswith("┌") and lines[-1].startswith("└")
    assert len({display_width(line) for line in lines}) == 1
    assert display_width("🧭 ab") == 5
    assert display_width("✅\ufe0f") == 2 and display_width("e\u0301") == 1


def test_message_blocks_render_readably_and_number_every_control() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Session"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Printer* offline for <@U0ALICE>"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Printing"},
                                         {"type": "mrkdwn", "text": "guided 90%"}]},
        {"type": "divider"},
        {"type": "actions", "block_id": "b1", "elements": [
            _button("✅ Worked", "fp_fix_worked:1", "fix-1"),
            _button("Didn't work", "fp_fix_failed:1", "fix-1"),
            _button("Open", "fp_open_session", "s", url="https://x.test/s"),
        ]},
        {"type": "section", "text": {"type": "mrkdwn", "text": "Rate"},
         "accessory": {"type": "static_select", "action_id": "fp_rate",
                       "placeholder": {"type": "plain_text", "text": "Stars"},
                       "options": [{"text": {"type": "plain_text", "text": "1"}, "value": "1"},
                                   {"text": {"type": "plain_text", "text": "5"}, "value": "5"}]}},
    ]
    r = render_blocks(blocks, "fallback", first_number=3, users=USERS)
    text = "\n".join(r.lines)
    assert "│ Session │" in text
    assert "Printer offline for @alice" in text
    assert "  Printing · guided 90%" in text
    assert "[3] ✅ Worked   [4] Didn't work   [5] Open ↗ https://x.test/s" in text
    assert "Stars: [6] 1   [7] 5" in text
    assert "fallback" not in text
    assert [(c.number, c.action_id, c.value) for c in r.controls] == [
        (3, "fp_fix_worked:1", "fix-1"), (4, "fp_fix_failed:1", "fix-1"),
        (5, "fp_open_session", "s"), (6, "fp_rate", "1"), (7, "fp_rate", "5")]
    assert r.controls[0].block_id == "b1" and r.controls[2].url == "https://x.test/s"
    assert r.controls[3].type == "static_select"


def test_reuse_keeps_numbers_of_an_updated_message() -> None:
    blocks = [{"type": "actions", "elements": [
        _button("Resolve", "fp_resolve", "s1"), _button("Escalate", "fp_escalate", "s1"),
        _button("Resume", "fp_resume", "s1")]}]
    r = render_blocks(blocks, first_number=10,
                      reuse={("fp_resolve", "s1"): 1, ("fp_escalate", "s1"): 2})
    assert [c.number for c in r.controls] == [1, 2, 10]
    assert "[1] Resolve   [2] Escalate   [10] Resume" in r.lines[0]


def test_context_is_dimmed_with_color_and_text_used_without_blocks() -> None:
    r = render_blocks([{"type": "context", "elements": [{"type": "mrkdwn", "text": "note"}]}],
                      color=True)
    assert r.lines == [f"{DIM}  note\x1b[0m"]
    assert render_blocks(None, "*Done* <@U0BOB>", users=USERS).lines == ["Done @bob"]


def test_long_text_wraps_and_bullets_hang() -> None:
    lines = wrap("• " + "word " * 30, width=40)
    assert len(lines) > 1 and all(len(line) <= 40 for line in lines)
    assert lines[1].startswith("  ") and not lines[1].startswith("   ")


def test_many_buttons_wrap_over_lines() -> None:
    blocks = [{"type": "actions", "elements": [_button(f"Option number {i}", f"fp_answer:{i}")
                                               for i in range(8)]}]
    r = render_blocks(blocks, width=60)
    assert len(r.lines) > 1 and all(display_width(line) <= 60 for line in r.lines)
    assert len(r.controls) == 8


def test_rich_text_and_unknown_blocks() -> None:
    blocks: list[dict[str, Any]] = [{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
        {"type": "text", "text": "hello "}, {"type": "link", "url": "https://x", "text": "link"}]}]},
        {"type": "video"}]
    assert render_blocks(blocks).lines == ["hello link"]


MODAL = {
    "type": "modal", "callback_id": "fp_escalate_modal", "private_metadata": "sid",
    "title": {"type": "plain_text", "text": "Escalate session"},
    "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Preview* here"}},
        {"type": "input", "block_id": "fp_escalate_reason", "optional": False,
         "label": {"type": "plain_text", "text": "Why?"},
         "element": {"type": "plain_text_input", "action_id": "fp_escalate_reason",
                     "multiline": True}},
        {"type": "input", "block_id": "fp_escalate_to", "optional": True,
         "label": {"type": "plain_text", "text": "Escalate to"},
         "hint": {"type": "plain_text", "text": "Leave empty for the default"},
         "element": {"type": "users_select", "action_id": "fp_escalate_to"}},
        {"type": "input", "block_id": "fp_escalate_urgency", "optional": True,
         "label": {"type": "plain_text", "text": "Urgency"},
         "element": {"type": "static_select", "action_id": "fp_escalate_urgency",
                     "options": [{"text": {"type": "plain_text", "text": "Low"}, "value": "low"},
                                 {"text": {"type": "plain_text", "text": "High"}, "value": "high"}],
                     "initial_option": {"text": {"type": "plain_text", "text": "Low"},
                                        "value": "low"}}},
    ],
}


def test_modal_fields_and_view_rendering() -> None:
    fields = modal_fields(MODAL)
    assert [(f.action_id, f.kind, f.optional) for f in fields] == [
        ("fp_escalate_reason", "text", False), ("fp_escalate_to", "users", True),
        ("fp_escalate_urgency", "select", True)]
    assert fields[0].multiline and fields[1].hint == "Leave empty for the default"
    assert fields[2].options == (("Low", "low"), ("High", "high"))
    assert fields[2].initial_option == "low"
    lines = render_view(MODAL)
    assert "📝 Escalate session" in lines[1] and "Preview here" in lines
    assert not any("Why?" in line for line in lines)


def test_element_state_is_what_slack_submits() -> None:
    text, users, select = modal_fields(MODAL)
    assert element_state(text, "because") == {"type": "plain_text_input", "value": "because"}
    assert element_state(text, None) == {"type": "plain_text_input", "value": None}
    assert element_state(users, "U0BOB") == {"type": "users_select", "selected_user": "U0BOB"}
    assert element_state(users, None)["selected_user"] is None
    state = element_state(select, "high")
    assert state["selected_option"] == {"text": {"type": "plain_text", "text": "High"},
                                        "value": "high"}
    multi = FormField("b", "a", "Pick", "multi_select", options=(("A", "a"), ("B", "b")))
    assert [o["value"] for o in element_state(multi, ["a", "b"])["selected_options"]] == ["a", "b"]
