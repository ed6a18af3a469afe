"""The PSA round trip through signed Slack requests, against the ConnectWise stand-in: a
ticket in; the note, the time entry, the status, the package and the take-over out — each
once, whatever fails on the way."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from psa_support import (
    ESC,
    KEY,
    connect,
    flowpilot_notes,
    on_latest,
    open_ticket,
    outputs,
    sessions,
    technician,
)
from support import Harness

from bot.clock import FakeClock
from bot.jobs.registry import run_job
from bot.sandbox.fake_psa import FakePsa

Make = Callable[..., Harness]


@pytest.fixture
def psa() -> Iterator[FakePsa]:
    with FakePsa() as fake:
        yield fake


def _harness(make: Make, clock: FakeClock | None = None) -> Harness:
    return make(anthropic_url=None, clock=clock or FakeClock(), FLOWPILOT_SECRET_KEY=KEY,
                FLOWPILOT_ESCALATION_CHANNEL=ESC)


def _header(h: Harness, ts: str) -> str:
    msg = next(m for m in h.slack.messages("C1") if m["ts"] == ts)
    return json.dumps(msg.get("blocks"), ensure_ascii=False) + str(msg.get("text"))


def test_one_full_session_reaches_the_psa_once(make: Make, psa: FakePsa) -> None:
    clock = FakeClock()
    h = _harness(make, clock)
    connect(h, psa, resolved_status="Resolved", round_minutes=15, work_type="Remote")
    technician(h)
    s = open_ticket(h)
    assert s.intake_type == "psa_ticket" and s.psa_connection_id is not None
    assert s.ticket_data and s.ticket_data["company"] == "Contoso Ltd"
    assert "User reports Outlook" in str(s.intake_content)  # the engines read the notes
    assert "#1001 · Contoso Ltd · New" in _header(h, s.slack_thread_ts)

    clock.advance(minutes=20)
    status, _ = on_latest(h, "resolve Cleared the cached Office credentials.")
    assert status == 200
    h.settle()

    (note,) = flowpilot_notes(psa)
    assert note["resolutionFlag"] and not note["internalAnalysisFlag"]
    assert not note["processNotifications"] and "Cleared the cached Office" in note["text"]
    (entry,) = psa.time_entries()
    assert entry["chargeToType"] == "ServiceTicket" and entry["chargeToId"] == 1001
    assert entry["member"] == {"identifier": "alice"} and entry["workType"] == {"name": "Remote"}
    # 20 active minutes, rounded up to 15-minute steps, ending when it was resolved.
    assert (entry["timeStart"], entry["timeEnd"]) == ("2026-11-24T08:50:00Z",
                                                      "2026-11-24T09:20:00Z")
    assert entry["billableOption"] == "Billable" and "[FlowPilot ref" in entry["notes"]
    assert psa.ticket(1001)["status"]["name"] == "Resolved"
    rows = outputs(h, s.id)
    assert {(r.output_type, r.target, r.status) for r in rows} == {
        ("resolution_note", "slack", "posted"), ("resolution_note", "psa", "posted"),
        ("time_entry", "psa", "posted"), ("status_change", "psa", "posted")}
    (after,) = [x for x in sessions(h) if x.id == s.id]
    assert after.resolution_note_external_id == str(note["id"])
    texts = [m.get("text", "") for m in h.bot_messages("C1", s.slack_thread_ts)]
    assert any("Resolution note" in t for t in texts)
    # A later pass of the job finds nothing left to send.
    assert run_job(h.svc, "deliver_outputs", clock.advance(hours=2)).claimed == 0
    assert len(flowpilot_notes(psa)) == 1 and len(psa.time_entries()) == 1


def test_escalation_package_and_take_over_are_internal_notes(make: Make, psa: FakePsa) -> None:
    h = _harness(make)
    connect(h, psa)
    technician(h)
    s = open_ticket(h)
    on_latest(h, "escalate Needs an Exchange admin to check the mailbox")
    h.settle()
    (package,) = flowpilot_notes(psa)
    assert package["internalAnalysisFlag"] and not package["resolutionFlag"]
    assert "Exchange admin" in package["text"]
    (after,) = [x for x in sessions(h) if x.id == s.id]
    assert after.escalation_package_external_id == str(package["id"])

    h.slack.set_user("U2", real_name="Bob", profile={"real_name": "Bob", "display_name": "bob"})
    ts, button = h.find_button("fp_take_over", channel=ESC)
    h.click(button["action_id"], button["value"], message_ts=ts, user="U2", channel=ESC)
    h.settle()
    notes = flowpilot_notes(psa)
    assert len(notes) == 2 and notes[1]["internalAnalysisFlag"]
    assert "Taken over in Slack by" in notes[1]["text"]


def test_refusals_are_one_line_and_make_no_session(make: Make, psa: FakePsa) -> None:
    h = _harness(make)
    h.command("ticket 1001")  # no PSA connected yet
    h.settle()
    assert "no PSA connected" in h.ephemerals_text()
    connect(h, psa)
    for number, expected in (("4242", "#4242 was not found"), ("1002", "#1002 is closed"),
                             ("", "Name the ticket")):
        h.command(f"ticket {number}")
        h.settle()
        assert expected in h.ephemerals_text(), expected
    psa.private_key = "rotated-by-someone"  # the stored keys no longer work
    h.command("ticket 1001")
    h.settle()
    assert "refused the API keys (401)" in h.ephemerals_text()
    assert sessions(h) == [] and h.bot_messages("C1") == []


def test_mention_with_a_ticket_link_and_the_intake_form(make: Make, psa: FakePsa) -> None:
    h = _harness(make)
    connect(h, psa)
    psa.add_ticket(1003, summary="VPN drops every hour")
    link = "https://na.myconnectwise.net/v4_6_release/services/system_io/Service/fv_sr100_request.rails?service_recordid=1&srRecID=1003"
    h.event({"type": "app_mention", "channel": "C1", "user": "U1", "ts": "1700000100.000100",
             "text": f"<@UFPBOT> can you look at <{link}>"})
    h.settle()
    (s,) = sessions(h)
    assert s.psa_ticket_id == "1003" and "VPN drops" in (s.problem_summary or "")
    h.submit("fp_intake_modal", {"fp_intake_problem": "Printer offline",
                                 "fp_intake_log": "Event 4625 at 09:12",
                                 "fp_intake_ticket": "#1001"}, private_metadata="C1")
    h.settle()
    # Both sessions may share a creation time (the fake clock): compare without order.
    assert sorted(x.psa_ticket_id or "" for x in sessions(h)) == ["1001", "1003"]
    last = next(x for x in sessions(h) if x.psa_ticket_id == "1001")
    assert last.intake_type == "psa_ticket" and last.ticket_data is not None
    # Nothing typed into the form is lost: the problem and the pasted log are kept too.
    assert "Printer offline" in str(last.intake_content)
    assert "Event 4625" in str(last.intake_content)


def test_a_workspace_without_a_psa_is_unchanged(make: Make, psa: FakePsa) -> None:
    h = _harness(make)
    h.event({"type": "app_mention", "channel": "C1", "user": "U1", "ts": "1700000100.000100",
             "text": "<@UFPBOT> printer #1234 is offline"})
    h.settle()
    (s,) = sessions(h)
    assert s.intake_type == "free_text" and s.ticket_data is None
    on_latest(h, "resolve")
    h.settle()
    assert [(r.output_type, r.target, r.status) for r in outputs(h)] == [
        ("resolution_note", "slack", "posted")]
    assert psa.calls() == []


def test_psa_down_for_an_hour_then_every_output_arrives_once(make: Make, psa: FakePsa) -> None:
    clock = FakeClock()
    h = _harness(make, clock)
    connect(h, psa, resolved_status="Resolved")
    technician(h)
    s = open_ticket(h)
    psa.down = True
    on_latest(h, "resolve")
    h.settle()
    pending = [r for r in outputs(h, s.id) if r.target == "psa"]
    assert len(pending) == 3 and all(r.status == "pending" and r.last_error for r in pending)
    assert "500" in (pending[0].last_error or "")
    for _ in range(12):  # an hour of job passes, every five minutes, while it is down
        run_job(h.svc, "deliver_outputs", clock.advance(minutes=5))
    assert all(r.status == "pending" for r in outputs(h, s.id) if r.target == "psa")
    psa.down = False
    for _ in range(14):  # back: within the hour's backoff everything goes, once
        run_job(h.svc, "deliver_outputs", clock.advance(minutes=5))
    assert all(r.status == "posted" and r.external_id for r in outputs(h, s.id))
    assert len(flowpilot_notes(psa)) == 1 and len(psa.time_entries()) == 1
    assert len([c for c in psa.calls("PATCH") if c.status == 200]) == 1


def test_429_waits_for_retry_after(make: Make, psa: FakePsa) -> None:
    clock = FakeClock()
    h = _harness(make, clock)
    connect(h, psa)
    technician(h)
    s = open_ticket(h)
    psa.fail(429, retry_after=300, path="tickets/1001/notes")
    on_latest(h, "resolve")
    h.settle()
    (row,) = [r for r in outputs(h, s.id) if r.output_type == "resolution_note"
              and r.target == "psa"]
    assert row.status == "pending" and row.next_attempt_at is not None
    assert row.next_attempt_at >= clock.now + timedelta(seconds=300)
    assert run_job(h.svc, "deliver_outputs", clock.advance(minutes=2)).claimed == 0
    assert run_job(h.svc, "deliver_outputs", clock.advance(minutes=4)).done == 1
    assert len(flowpilot_notes(psa)) == 1


def test_timeout_after_the_psa_stored_the_note_posts_no_duplicate(make: Make,
                                                                   psa: FakePsa) -> None:
    clock = FakeClock()
    h = _harness(make, clock)
    connect(h, psa, timeout_seconds=0.5)
    technician(h)
    s = open_ticket(h)
    psa.fail(200, delay=1.5, after_apply=True, path="tickets/1001/notes")
    on_latest(h, "resolve")
    h.settle()
    (row,) = [r for r in outputs(h, s.id) if r.output_type == "resolution_note"
              and r.target == "psa"]
    assert row.status == "pending" and "in time" in (row.last_error or "")
    assert len(flowpilot_notes(psa)) == 1  # ConnectWise has it; we did not hear back
    assert run_job(h.svc, "deliver_outputs", clock.advance(minutes=2)).done == 1
    assert len(flowpilot_notes(psa)) == 1
    assert len(psa.calls("POST", "tickets/1001/notes")) == 1
    (row,) = [r for r in outputs(h, s.id) if r.output_type == "resolution_note"
              and r.target == "psa"]
    assert row.external_id == str(flowpilot_notes(psa)[0]["id"])


def test_no_member_for_the_email_is_told_once(make: Make, psa: FakePsa) -> None:
    h = _harness(make)
    connect(h, psa)
    technician(h, email="carol@example.com")
    s = open_ticket(h)
    on_latest(h, "resolve")
    h.settle()
    (entry,) = [r for r in outputs(h, s.id) if r.output_type == "time_entry"]
    assert entry.status == "failed" and "carol@example.com" in (entry.last_error or "")
    texts = " ".join(m.get("text", "") for m in h.bot_messages("C1", s.slack_thread_ts))
    assert "time entry could not be written" in texts and "carol@example.com" in texts
    assert psa.time_entries() == [] and len(flowpilot_notes(psa)) == 1


def test_hostile_and_huge_ticket_text_is_tamed(make: Make, psa: FakePsa) -> None:
    h = _harness(make)
    connect(h, psa)
    technician(h)
    huge = "<!channel> *pwned* <https://evil.example|click here> " + "A" * 200_000
    psa.add_ticket(1005, summary=huge, company={"id": 1, "name": "<!here> Evil & Co"})
    psa.add_note(1005, "Admin login is password=hunter2 and key AKIAIOSFODNN7EXAMPLE " +
                 "B" * 200_000)
    s = open_ticket(h, "1005")
    assert s.ticket_data is not None
    assert len(json.dumps(s.ticket_data)) < 10_000
    stored = json.dumps(s.ticket_data) + json.dumps(s.intake_content)
    assert "hunter2" not in stored and "AKIAIOSFODNN7EXAMPLE" not in stored
    header = _header(h, s.slack_thread_ts)
    assert "<!channel>" not in header and "<!here>" not in header
    on_latest(h, "resolve The password=hunter2 was reset; token xoxb-1234567890-abcdefghij")
    h.settle()
    sent = json.dumps([c.body for c in psa.calls("POST")])
    assert "hunter2" not in sent and "xoxb-1234567890" not in sent
    assert len(flowpilot_notes(psa, 1005)) == 1


def test_two_resolve_clicks_at_once_send_one_note(make: Make, psa: FakePsa) -> None:
    h = _harness(make)
    connect(h, psa)
    technician(h)
    s = open_ticket(h)
    ts, button = h.find_button("fp_resolve", where=lambda b: b["value"] == str(s.id))
    h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=s.slack_thread_ts)
    h.settle()
    submits: list[Any] = []

    def submit() -> None:
        submits.append(h.submit("fp_resolve_modal", {"fp_resolve_note": "Fixed."},
                                private_metadata=str(s.id)))

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h.settle()
    assert [code for code, _ in submits] == [200, 200]
    assert len(flowpilot_notes(psa)) == 1 and len(psa.time_entries()) == 1
    notes = [m for m in h.bot_messages("C1", s.slack_thread_ts)
             if "Resolution note" in str(m.get("text"))]
    assert len(notes) == 1
