"""``/flowpilot show fp-…``: a session's details and where its outputs went, read back from
what really happened at the ConnectWise and Slack stand-ins; and the PSA outputs go only to
the connection a session's ticket came from."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

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
from bot.domain.refs import session_ref
from bot.sandbox.fake_psa import FakePsa
from storage.db import unit_of_work
from storage.models import PsaConnection

Make = Callable[..., Harness]


@pytest.fixture
def psa() -> Iterator[FakePsa]:
    with FakePsa() as fake:
        yield fake


def _harness(make: Make) -> Harness:
    return make(anthropic_url=None, clock=FakeClock(), FLOWPILOT_SECRET_KEY=KEY,
                FLOWPILOT_ESCALATION_CHANNEL=ESC)


def _show(h: Harness, words: str, user: str = "U1", team: str = "T0001") -> str:
    before = len(h.slack.calls("response_url"))
    status, _ = h.command(f"show {words}".rstrip(), user=user, team=team)
    assert status == 200
    h.settle()
    answers = h.slack.calls("response_url")[before:]
    assert answers, "show gave no answer"
    return json.dumps([a.body for a in answers], ensure_ascii=False)


def test_show_tells_where_each_output_went(make: Make, psa: FakePsa) -> None:
    h = _harness(make)
    connect(h, psa)
    technician(h)
    s = open_ticket(h)
    on_latest(h, "resolve Cleared the cached Office credentials.")
    h.settle()
    (note,) = flowpilot_notes(psa)
    shown = _show(h, session_ref(str(s.id)))
    assert "Resolution note → PSA" in shown and "delivered" in shown
    assert str(note["id"]) in shown  # the PSA's own id of the note
    assert "Time entry → PSA" in shown
    assert "#1001 on ConnectWise" in shown
    assert "resolved" in shown
    # the session row holds the same id, shown as the PSA's
    (after,) = [x for x in sessions(h) if x.id == s.id]
    assert after.resolution_note_external_id and after.resolution_note_external_id in shown


def test_show_names_the_last_error_while_the_psa_is_down(make: Make, psa: FakePsa) -> None:
    h = _harness(make)
    connect(h, psa)
    technician(h)
    s = open_ticket(h)
    psa.down = True
    on_latest(h, "resolve Reset the mailbox rules.")
    h.settle()
    rows = [r for r in outputs(h, s.id) if r.target == "psa"]
    assert rows and all(r.status != "posted" and r.last_error for r in rows)
    shown = _show(h, session_ref(str(s.id)))
    assert "last error" in shown and "Resolution note → PSA" in shown
    assert "attempt" in shown


def test_show_refuses_what_it_cannot_name(make: Make, psa: FakePsa) -> None:
    h = _harness(make)
    technician(h)
    assert "Name the session" in _show(h, "")
    assert "No session of this workspace is fp-abcdef" in _show(h, "fp-abcdef")
    h.command("Printer on floor 2 shows <!channel> offline")
    h.settle()
    ref = session_ref(str(sessions(h)[-1].id))
    mine = _show(h, ref)
    assert "&lt;!channel&gt;" in mine and "@\u200dchannel" not in mine
    assert "<!channel>" not in mine.replace('"plain_text", "text": "', "")[:0] + "".join(
        part for part in mine.split('"mrkdwn", "text": "')[1:])  # never pings
    # another workspace cannot read it
    assert "No session of this workspace" in _show(h, ref, user="U9", team="T0002")


def test_outputs_go_only_to_the_connection_the_ticket_came_from(make: Make,
                                                                 psa: FakePsa) -> None:
    h = _harness(make)
    connect(h, psa)
    technician(h)
    s = open_ticket(h)
    assert s.psa_connection_id is not None
    with unit_of_work(h.svc.factory) as db:  # the admin switches to another PSA instance
        old = db.get(PsaConnection, s.psa_connection_id)
        assert old is not None
        old.is_active = False
        db.add(PsaConnection(account_id=old.account_id, kind="connectwise", is_active=True,
                             name="ConnectWise other", config=dict(old.config or {}),
                             credentials_encrypted=old.credentials_encrypted))
    on_latest(h, "resolve Replaced the toner.")
    h.settle()
    assert flowpilot_notes(psa) == []  # ticket 1001 of the old PSA is not the new one's
    assert {(r.output_type, r.target) for r in outputs(h, s.id)} == {("resolution_note", "slack")}


def test_the_psa_gets_the_package_as_stored(make: Make, psa: FakePsa) -> None:
    h = _harness(make)
    connect(h, psa)
    technician(h)
    s = open_ticket(h)
    on_latest(h, "escalate Needs an Exchange admin")
    h.settle()
    (package,) = flowpilot_notes(psa)
    (after,) = [x for x in sessions(h) if x.id == s.id]
    assert after.escalation_package_markdown
    first = after.escalation_package_markdown.strip().splitlines()[0].lstrip("# ")
    assert first in package["text"] and "Needs an Exchange admin" in package["text"]
    assert "escalation package" in _show(h, session_ref(str(s.id)))
