"""Pure knowledge rules and rendering: search words, scripts from fix steps, filling
parameters, and hostile text shown as inert code."""

from __future__ import annotations

import json

from bot.domain import knowledge as k
from bot.render.knowledge import (
    DraftView,
    ScriptView,
    SeenBeforeView,
    drafts_blocks,
    drafts_digest_line,
    render_seen_before,
    scripts_text,
)


def test_terms_are_safe_distinct_and_expanded() -> None:
    words = k.terms('Outlook "pw" prompt; DROP TABLE x -- OR 1=1 * NEAR(a b) outlook')
    assert words[:3] == ["outlook", "pw", "password"]
    assert all(w.isalnum() for w in words) and len(words) == len(set(words))
    assert k.terms("") == [] and k.terms("the and of 123") == []
    assert len(k.terms(" ".join(f"word{i}x" for i in range(200)))) == k.MAX_TERMS


def test_relevance_needs_two_shared_words() -> None:
    assert k.relevant(["outlook", "password"], "Outlook asks for passwords")
    assert not k.relevant(["outlook", "password"], "Outlook calendar is stale")
    assert k.relevant(["vpn"], "VPN down") and not k.relevant([], "anything")


def test_language_detection() -> None:
    assert k.language_of("Get-ADUser -Identity bob") == "powershell"
    assert k.language_of("ipconfig /flushdns") == "cmd"
    assert k.language_of("sudo systemctl restart cups") == "bash"
    assert k.language_of("Ask the user to restart") is None
    assert k.script_language(["ipconfig /all", "Get-NetAdapter"]) == "powershell"


def test_script_from_steps_finds_commands_and_parameters() -> None:
    draft = k.script_from_steps("Unlock", ["Open ADUC", "Run: Unlock-ADAccount -Identity jdoe",
                                           "`Send-MailMessage -To jane@acme.com`"])
    assert draft is not None and draft["language"] == "powershell"
    assert "Open ADUC" not in draft["body"] and "jdoe" not in draft["body"]
    assert {p["name"] for p in draft["parameters"]} == {"identity", "user_email"}
    assert k.script_from_steps("Talk", ["Call the user", "Explain the change"]) is None


def test_fill_from_facts_and_what_is_left() -> None:
    body, left = k.fill("Get-Mailbox {{user_email}} on {{computername}} by {{ticket}}",
                        [{"name": "user_email"}, {"name": "computername"},
                         {"name": "ticket", "default": ""}],
                        ["The user is bob@acme.com", "computer name: PC-042"])
    assert body.startswith("Get-Mailbox bob@acme.com on PC-042") and left == ["ticket"]


HOSTILE = "rm -rf / <!channel> @here <@U0CEO> <https://evil.example|click> ```oops```"


def test_hostile_script_and_past_text_never_ping_or_break_out() -> None:
    script = ScriptView("s1", "<!here> title", "bash", HOSTILE, ["<@U0CEO>"])
    hit = SeenBeforeView(1, "<!channel> problem", "@everyone fix", [HOSTILE], "U0ALICE",
                         "resolved 2026-11-20", "javascript:alert(1)", script)
    msg = render_seen_before("sid", [hit])
    assert msg is not None
    text = json.dumps(msg.blocks)
    for bad in ("<!channel>", "<!here>", "<@U0CEO>", "<https://evil", "@here", "@everyone"):
        assert bad not in text
    assert "<@U0ALICE>" in text and "javascript:" not in text.replace("javascript:alert(1)", "")
    assert render_seen_before("sid", []) is None  # no empty block


def test_drafts_queue_and_digest_line() -> None:
    d = DraftView("d1", "Unlock", "desc", "powershell", HOSTILE, ["identity"], "steps",
                  "2026-11-20")
    blocks = json.dumps(drafts_blocks([d], 12))
    assert "Drafts to review (12)" in blocks and "fp_draft_approve" in blocks
    assert "fp_draft_reject" in blocks and "<!channel>" not in blocks and "2 more" in blocks
    assert drafts_blocks([], 0) == []
    assert drafts_digest_line(0) == "" and "3 draft scripts wait" in drafts_digest_line(3)
    assert "No approved scripts" in scripts_text([], 0)
