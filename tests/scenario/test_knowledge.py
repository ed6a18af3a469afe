"""Seen before, through signed Slack requests on the real app (offline engine): a second
similar session gets the first one's fix; workspaces never see each other's; secrets in a
resolution note never reach the index."""

from __future__ import annotations

import json
from typing import Any

from knowledge_support import latest, open_and_resolve
from sqlalchemy import select, text
from support import Harness

from storage.models import KnowledgeEntry, SeenBeforeOffer, SessionSuggestedFix

PROBLEM = "Outlook keeps asking for a password since this morning"
AGAIN = "outlook password prompt keeps coming back for a user"


def _seen_before_messages(h: Harness, thread: str, channel: str = "C1") -> list[dict]:
    return [m for m in h.bot_messages(channel, thread) if "Seen before" in m.get("text", "")]


def test_a_second_similar_session_gets_the_first_ones_fix(harness: Harness) -> None:
    h = harness
    first = open_and_resolve(h, PROBLEM, note="Cleared the cached credentials.")
    with h.svc.factory() as db:
        entry = db.execute(select(KnowledgeEntry)).scalar_one()
    assert entry.session_id == first and entry.fix_title and entry.resolved_by_slack_id == "UALICE"

    h.command(AGAIN, user="UBOB")
    h.settle()
    second = latest(h)
    assert second.id != first
    shown = _seen_before_messages(h, second.slack_thread_ts)
    assert len(shown) == 1, "one Seen before message, before the first turn"
    blocks = json.dumps(shown[0]["blocks"])
    assert entry.fix_title in blocks and "<@UALICE>" in blocks and "open the thread" in blocks

    ts, button = h.find_button("fp_seen_before")
    h.click(button["action_id"], button["value"], message_ts=ts, user="UBOB",
            thread_ts=second.slack_thread_ts)
    h.settle()
    with h.svc.factory() as db:
        fixes = db.execute(select(SessionSuggestedFix).where(
            SessionSuggestedFix.session_id == second.id,
            SessionSuggestedFix.title == entry.fix_title)).scalars().all()
        offer = db.execute(select(SeenBeforeOffer)).scalar_one()
    assert len(fixes) == 1 and fixes[0].steps == entry.fix_steps
    assert offer.added_fix_id == fixes[0].id
    # The added fix is a fix like any other: its Worked button is in the thread.
    ts, worked = h.find_button("fp_fix_worked", where=lambda b: str(fixes[0].id) in b["value"])

    # A double click adds nothing more and says so.
    h.click(button["action_id"], button["value"], message_ts=ts, user="UBOB",
            thread_ts=second.slack_thread_ts)
    h.settle()
    with h.svc.factory() as db:
        assert db.scalar(select(text("count(*)")).select_from(SessionSuggestedFix).where(
            SessionSuggestedFix.title == entry.fix_title,
            SessionSuggestedFix.session_id == second.id)) == 1
    assert "already among" in h.ephemerals_text("UBOB")


def test_an_empty_workspace_shows_no_seen_before_block(harness: Harness) -> None:
    h = harness
    h.command(PROBLEM)
    h.settle()
    s = latest(h)
    assert _seen_before_messages(h, s.slack_thread_ts) == []
    assert not [m for m in h.bot_messages("C1") if "fp_seen_before" in json.dumps(m)]


def test_workspaces_never_see_each_others_resolutions(harness: Harness) -> None:
    h = harness
    open_and_resolve(h, PROBLEM, team="T0001", channel="C1")
    h.command(AGAIN, team="T0002", channel="C2", user="UCAROL")
    h.settle()
    other = latest(h, "C2")
    assert _seen_before_messages(h, other.slack_thread_ts, "C2") == []
    # The same text in the first workspace does find it.
    h.command(AGAIN, team="T0001", channel="C1", user="UBOB")
    h.settle()
    assert len(_seen_before_messages(h, latest(h).slack_thread_ts)) == 1
    # A forged click naming the other workspace's session is refused.
    ts, button = h.find_button("fp_seen_before")
    h.click(button["action_id"], button["value"], message_ts=ts, team="T0002", user="UCAROL",
            channel="C2")
    h.settle()
    assert "not found" in h.ephemerals_text("UCAROL")
    with h.svc.factory() as db:
        assert db.execute(select(SeenBeforeOffer.added_fix_id)).scalars().all() == [None]


def test_a_secret_in_the_resolution_note_is_redacted_before_indexing(harness: Harness) -> None:
    h = harness
    open_and_resolve(h, PROBLEM, note="Reset it; the new password: Winter2026!xyz for the user")
    with h.svc.factory() as db:
        entry = db.execute(select(KnowledgeEntry)).scalar_one()
        if h.svc.factory.kw["bind"].dialect.name == "sqlite":
            hits = db.execute(text("SELECT rowid FROM knowledge_fts WHERE knowledge_fts MATCH "
                                   "'Winter2026'")).all()
            assert hits == []
    assert "Winter2026" not in entry.note and "Winter2026" not in entry.problem
    assert entry.note  # the note itself was indexed


def test_claude_reads_the_past_fix_outside_the_cached_prefix(make: Any,
                                                             fake_anthropic: Any) -> None:
    from lifecycle_support import fix_button, open_session

    h = make()
    thread, _ = open_session(h, fake_anthropic)
    ts, button = fix_button(h, "fp_fix_worked", "Remove the stale Office credentials")
    h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
    h.settle()
    from psa_support import on_latest

    assert on_latest(h, "resolve Cleared the cached credentials", user="U1")[0] == 200
    h.settle()

    open_session(h, fake_anthropic, user="UBOB")
    sent = fake_anthropic.message_requests[-1].body
    turn = json.dumps(sent["messages"][-1])
    assert "<seen_before>" in turn and "Remove the stale Office credentials" in turn
    assert "seen_before" not in json.dumps(sent["system"])
