"""Clicks and commands act on the session they name: a refused click can be repeated once
the person is allowed; a command names its session (a slash command carries no thread);
the resolve modal's note is edited in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lifecycle_support import load, open_session
from support import Harness

from bot.domain.refs import parse_thread_link, session_ref, take_session_word
from bot.render.modals import note_digest

Make = Callable[..., Harness]


def test_a_refused_click_counts_once_the_person_is_allowed(make: Make,
                                                          fake_anthropic: Any) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    h.click("fp_park", str(sid), message_ts=thread, thread_ts=thread, user="UNEWBIE")
    h.settle()
    assert "Only the session's owner" in h.ephemerals_text("UNEWBIE")
    assert load(h, sid).status == "active"

    h.command(f"handoff {session_ref(str(sid))} <@UNEWBIE>")  # the owner hands it to UNEWBIE
    h.settle()
    assert load(h, sid).user.slack_user_id == "UNEWBIE", h.ephemerals_text("U1")
    # The very same click (same message, action, value, user): not swallowed as a duplicate.
    h.click("fp_park", str(sid), message_ts=thread, thread_ts=thread, user="UNEWBIE")
    h.settle()
    assert load(h, sid).status == "paused"
    # An accepted click is still counted once.
    before = len(h.slack.calls("chat.update"))
    h.click("fp_park", str(sid), message_ts=thread, thread_ts=thread, user="UNEWBIE")
    h.settle()
    assert len(h.slack.calls("chat.update")) == before


def test_commands_name_their_session_never_guess(make: Make, fake_anthropic: Any) -> None:
    h = make()
    _thread1, first = open_session(h, fake_anthropic)
    thread2, second = open_session(h, fake_anthropic)
    h.command("park")
    h.settle()
    told = h.ephemerals_text("U1")
    assert "Which session?" in told
    assert session_ref(str(first)) in told and session_ref(str(second)) in told
    assert load(h, first).status == load(h, second).status == "active"

    h.command(f"park {session_ref(str(first))}")  # the older one, not the latest
    h.settle()
    assert load(h, first).status == "paused" and load(h, second).status == "active"
    h.command("resolve fp-000000 done")
    h.settle()
    assert "No open session is fp-000000" in h.ephemerals_text("U1")
    # The header shows the reference people type.
    header = next(m for m in h.slack.messages("C1") if m.get("ts") == thread2)
    assert session_ref(str(second)) in str(header["blocks"])


def test_an_untouched_note_is_the_generated_one(make: Make, fake_anthropic: Any) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    h.click("fp_resolve", str(sid), message_ts=thread, thread_ts=thread)
    h.settle()
    (modal,) = [v for v in h.slack.views() if v.get("callback_id") == "fp_resolve_modal"]
    shown = next(b["element"]["initial_value"] for b in modal["blocks"]
                 if b.get("block_id") == "fp_resolve_note")
    assert modal["private_metadata"].endswith(note_digest(shown))
    h.submit("fp_resolve_modal", {"fp_resolve_note": shown},
             private_metadata=modal["private_metadata"])
    h.settle()
    s = load(h, sid)
    assert s.status == "resolved" and "## Time spent" in (s.resolution_note_markdown or "")


def test_an_edited_note_is_masked_and_posted(make: Make, fake_anthropic: Any) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    h.click("fp_resolve", str(sid), message_ts=thread, thread_ts=thread)
    h.settle()
    (modal,) = [v for v in h.slack.views() if v.get("callback_id") == "fp_resolve_modal"]
    note = "Fixed by resetting the profile.\nTemp password was password=Hunter2!x, changed."
    h.submit("fp_resolve_modal", {"fp_resolve_note": note},
             private_metadata=modal["private_metadata"])
    h.settle()
    stored = load(h, sid).resolution_note_markdown or ""
    assert stored.startswith("Fixed by resetting the profile.") and "Hunter2" not in stored
    posted = " ".join(str(m.get("text", "")) + str(m.get("blocks", ""))
                      for m in h.bot_messages("C1", thread))
    assert "Fixed by resetting the profile." in posted and "Hunter2" not in posted


def test_session_words_are_parsed() -> None:
    assert take_session_word("fp-1A2B3C the note") == ("1a2b3c", None, "the note")
    assert take_session_word("<@U1> fp-abcdef") == ("abcdef", None, "<@U1>")
    link = "<https://x.slack.com/archives/C0123/p1700000000123456?thread_ts=1699999999.000100&cid=C0123>"
    assert parse_thread_link(link) == ("C0123", "1699999999.000100")
    assert parse_thread_link("https://x.slack.com/archives/C9/p1700000000123456") == (
        "C9", "1700000000.123456")
    assert take_session_word("nothing here") == (None, None, "nothing here")
    assert take_session_word("fp-zz") == (None, None, "fp-zz")
