"""Bad input and faults around the end of a session: races, missing or refusing escalation
channel, bad ratings, forged ids, strangers, illegal transitions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from lifecycle_support import ESC, load, open_session
from sqlalchemy import func, select
from support import Harness

from bot.clock import FakeClock
from bot.errors import DomainError
from bot.services import escalation, lifecycle
from storage.models import AISession, SessionHandoff, SessionResolutionOutput

Make = Callable[..., Harness]  # the ``make`` fixture (tests/conftest.py)


def _at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; each result or the exception raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _count(h: Harness, model: Any) -> int:
    with h.svc.factory() as db:
        return int(db.execute(select(func.count()).select_from(model)).scalar_one())


def _notes(h: Harness, thread: str) -> list[dict[str, Any]]:
    return [m for m in h.bot_messages("C1", thread) if "Resolution note" in m.get("text", "")]


def test_resolve_twice_at_once_makes_one_note(make: Make, fake_anthropic: Any) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    h.slack.set_user("UADM", is_admin=True)
    results = _at_once(
        lambda: lifecycle.resolve(h.svc, team_id="T0001", user_id="U1", session_id=str(sid)),
        lambda: lifecycle.resolve(h.svc, team_id="T0001", user_id="UADM", session_id=str(sid)),
    )
    done = [r for r in results if isinstance(r, lifecycle.Resolved)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(done) == 1 and len(refused) == 1, results
    assert isinstance(refused[0], DomainError) and "already resolved" in refused[0].message
    lifecycle.announce_resolved(h.svc, done[0])
    assert _count(h, SessionResolutionOutput) == 1
    assert len(_notes(h, thread)) == 1


def test_two_resolve_submissions_give_one_note(make: Make, fake_anthropic: Any) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    h.slack.set_user("UADM", is_admin=True)
    bodies = _at_once(
        lambda: h.submit("fp_resolve_modal", {"fp_resolve_note": ""}, private_metadata=str(sid)),
        lambda: h.submit("fp_resolve_modal", {"fp_resolve_note": ""}, private_metadata=str(sid),
                         user="UADM"),
    )
    h.settle()
    assert sum("already resolved" in body for _status, body in bodies) == 1
    assert len(_notes(h, thread)) == 1
    assert load(h, sid).status == "resolved"


def test_escalate_twice_at_once_makes_one_package(make: Make, fake_anthropic: Any) -> None:
    h = make(FLOWPILOT_ESCALATION_CHANNEL=ESC)
    _thread, sid = open_session(h, fake_anthropic)
    h.slack.set_user("UADM", is_admin=True)

    def escalate(user: str) -> Callable[[], Any]:
        return lambda: lifecycle.request_escalation(
            h.svc, team_id="T0001", user_id=user, session_id=str(sid), reason=f"stuck ({user})")

    results = _at_once(escalate("U1"), escalate("UADM"))
    done = [r for r in results if isinstance(r, lifecycle.Escalated)]
    assert len(done) == 1, results
    assert "can't be escalated again" in str(next(r for r in results if isinstance(r, Exception)))
    # Two posters racing for the one package: the claim lets only one through.
    posted = _at_once(*(lambda: escalation.post_escalation_package(h.svc, sid)
                        for _ in range(3)))
    assert posted.count(True) == 1
    assert len(h.slack.messages(ESC)) == 1
    assert load(h, sid).status == "escalated"
    assert _count(h, SessionResolutionOutput) == 1
    assert escalation.post_escalation_package(h.svc, sid) is False  # already posted


def test_take_over_twice_at_once_one_owner(make: Make, fake_anthropic: Any) -> None:
    h = make(FLOWPILOT_ESCALATION_CHANNEL=ESC)
    _thread, sid = open_session(h, fake_anthropic)
    lifecycle.request_escalation(h.svc, team_id="T0001", user_id="U1", session_id=str(sid),
                                 reason="needs tier 3")
    assert escalation.post_escalation_package(h.svc, sid)
    ts, button = h.find_button("fp_take_over", channel=ESC)
    _at_once(*(lambda u=u: h.click(button["action_id"], button["value"], message_ts=ts,
                                   user=u, channel=ESC) for u in ("UENGA", "UENGB")))
    h.settle()
    s = load(h, sid)
    assert _count(h, SessionHandoff) == 1 and s.handoff_count == 1
    winner = s.user.slack_user_id
    loser = ({"UENGA", "UENGB"} - {winner}).pop()
    assert winner in ("UENGA", "UENGB") and s.escalated_to.slack_user_id == winner
    assert f"Already taken by <@{winner}>" in h.ephemerals_text(loser)
    # A late click later still gets the same polite answer.
    h.click(button["action_id"], button["value"], message_ts=ts, user="UENGC", channel=ESC)
    h.settle()
    assert f"Already taken by <@{winner}>" in h.ephemerals_text("UENGC")
    assert _count(h, SessionHandoff) == 1


def test_escalate_without_a_channel_says_how_to_set_one(make: Make, fake_anthropic: Any) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    version = load(h, sid).state_version
    h.click("fp_escalate", str(sid), message_ts=thread, thread_ts=thread)
    h.settle()
    told = h.ephemerals_text("U1")
    assert "/flowpilot settings" in told and "FLOWPILOT_ESCALATION_CHANNEL" in told
    assert not [v for v in h.slack.views() if v.get("callback_id") == "fp_escalate_modal"]
    status, body = h.submit("fp_escalate_modal", {"fp_escalate_reason": "stuck"},
                            private_metadata=str(sid))
    assert "FLOWPILOT_ESCALATION_CHANNEL" in body
    s = load(h, sid)
    assert s.status == "active" and s.state_version == version
    assert s.escalation_package is None and _count(h, SessionResolutionOutput) == 0


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found"])
def test_channel_rejects_the_post_then_retries(make: Make, fake_anthropic: Any,
                                               error: str) -> None:
    clock = FakeClock()
    h = make(FLOWPILOT_ESCALATION_CHANNEL=ESC, clock=clock)
    thread, sid = open_session(h, fake_anthropic)
    h.slack.fail_channel(ESC, error)
    status, body = h.submit("fp_escalate_modal", {"fp_escalate_reason": "stuck on auth"},
                            private_metadata=str(sid))
    assert status == 200 and "errors" not in body
    h.settle()
    s = load(h, sid)
    assert s.status == "requesting_escalation" and s.escalation_message_ts is None
    assert s.escalation_package and "stuck on auth" in (s.escalation_package_markdown or "")
    assert s.escalation_post_attempts == 1
    assert s.escalation_post_next_at == clock() + timedelta(minutes=1)
    assert s.job_lease_until is None
    assert "keep retrying" in h.ephemerals_text("U1")

    def warnings() -> int:
        return sum("rejecting FlowPilot's posts" in m.get("text", "")
                   for m in h.bot_messages("C1", thread))

    for attempts, wait in ((2, 2), (3, 4), (4, 8)):
        clock.advance(minutes=wait - (wait // 2))
        assert escalation.post_escalation_package(h.svc, sid) is False
        s = load(h, sid)
        assert s.escalation_post_attempts == attempts
        assert s.escalation_post_next_at == clock() + timedelta(minutes=wait)
        assert warnings() == (0 if attempts < 3 else 1)  # one visible note, after 3 failures

    h.slack.unfail_channel(ESC)
    assert escalation.post_escalation_package(h.svc, sid) is True
    s = load(h, sid)
    assert s.status == "escalated" and s.escalation_message_ts
    assert len(h.slack.messages(ESC)) == 1


@pytest.mark.parametrize("value", ["7", "abc", "0"])
def test_rating_outside_one_to_five_is_refused(make: Make, fake_anthropic: Any,
                                               value: str) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    lifecycle.resolve(h.svc, team_id="T0001", user_id="U1", session_id=str(sid))
    h.click("fp_rate:x", f"{sid}|{value}", message_ts=thread, thread_ts=thread)
    h.settle()
    assert "A rating is a whole number from 1 to 5." in h.ephemerals_text("U1")
    assert load(h, sid).session_rating is None


def test_forged_session_id_from_another_workspace(make: Make, fake_anthropic: Any) -> None:
    h = make(FLOWPILOT_ESCALATION_CHANNEL=ESC)
    _thread, other = open_session(h, fake_anthropic, user="UOTHER", team="T0002", channel="C9")
    before = load(h, other)
    h.slack.set_user("UADM", is_admin=True)  # even a T0001 admin sees nothing of T0002
    for action in ("fp_resolve", "fp_park", "fp_escalate", "fp_take_over", "fp_feedback"):
        h.click(action, str(other), message_ts="1.1", user="UADM")
    h.click("fp_rate:1", f"{other}|5", message_ts="1.1", user="UADM")
    h.settle()
    told = h.ephemerals_text("UADM")
    assert told.count("That session was not found.") == 6
    status, body = h.submit("fp_resolve_modal", {"fp_resolve_note": ""}, user="UADM",
                            private_metadata=str(other))
    assert "not found" in body
    after = load(h, other)
    assert (after.status, after.state_version, after.user.slack_user_id) == (
        before.status, before.state_version, "UOTHER")
    assert not [v for v in h.slack.views() if v.get("private_metadata") == str(other)]


def test_stranger_may_not_resolve_but_an_admin_may_park(make: Make,
                                                        fake_anthropic: Any) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    version = load(h, sid).state_version
    h.click("fp_resolve", str(sid), message_ts=thread, thread_ts=thread, user="USTRANGER")
    h.submit("fp_resolve_modal", {"fp_resolve_note": ""}, user="USTRANGER",
             private_metadata=str(sid))
    h.settle()
    assert "Only the session's owner" in h.ephemerals_text("USTRANGER")
    s = load(h, sid)
    assert s.status == "active" and s.state_version == version

    h.slack.set_user("UADM", is_admin=True)
    h.click("fp_park", str(sid), message_ts=thread, thread_ts=thread, user="UADM")
    h.settle()
    assert load(h, sid).status == "paused"


def test_illegal_transitions_are_told_readably(make: Make, fake_anthropic: Any) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    h.click("fp_resume", str(sid), message_ts=thread, thread_ts=thread)
    h.settle()
    assert "This session is already active; it can't be resumed." in h.ephemerals_text("U1")

    lifecycle.resolve(h.svc, team_id="T0001", user_id="U1", session_id=str(sid))
    h.click("fp_park", str(sid), message_ts=thread, thread_ts=thread)
    h.click("fp_escalate", str(sid), message_ts=thread, thread_ts=thread)
    h.click("fp_resolve", str(sid), message_ts=thread, thread_ts=thread)
    h.settle()
    told = h.ephemerals_text("U1")
    assert "This session is already resolved; it can't be parked." in told
    assert "This session is already resolved; it can't be escalated." in told
    assert "This session is already resolved; it can't be resolved." in told
    with h.svc.factory() as db:
        assert db.execute(select(AISession.status)).scalar_one() == "resolved"
