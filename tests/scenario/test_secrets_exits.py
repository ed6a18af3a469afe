"""Every secret shape in tests/data/secret_shapes.py, typed into a session every way a
technician can (slash command, thread replies, the escalation modal, a message shortcut),
must be absent from every exit: the model's requests, Slack calls, every text column of
every table, the log (at DEBUG) and the PSA's payloads (the ConnectWise stand-in)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from data.secret_shapes import ALL, Shape
from lifecycle_support import ESC, load
from sqlalchemy import select, text
from support import Harness

from storage.db import Base
from storage.models import AISession

Make = Callable[..., Harness]
CHUNK = 6


def _variants(secret: str) -> set[str]:
    """The secret as it would read after Slack's mrkdwn escaping or JSON encoding."""
    escaped = secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {secret, escaped, json.dumps(secret)[1:-1]}


def leaks(where: str, haystack: str, shapes: Iterable[Shape] = ALL) -> list[str]:
    return [f"{s.id} in {where}" for s in shapes
            if any(v in haystack for v in _variants(s.secret))]


def database_dump(h: Harness) -> str:
    parts: list[str] = []
    with h.fp.db.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(text(f"SELECT * FROM {table.name}")):
                parts.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(parts)


def _thread(h: Harness) -> tuple[str, Any]:
    with h.svc.factory() as db:
        s = db.execute(select(AISession).order_by(AISession.created_at)).scalars().first()
        assert s is not None
        return s.slack_thread_ts, s.id


def test_no_secret_shape_reaches_any_exit(make: Make, fake_anthropic: Any,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    h = make(FLOWPILOT_ESCALATION_CHANNEL=ESC)
    first = ALL[0]
    assert h.command(first.text)[0] == 200
    h.settle()
    thread, sid = _thread(h)
    header = next(m for m in h.slack.messages("C1") if m["ts"] == thread)
    assert "[REDACTED" in json.dumps(header)  # the header shows the redacted summary

    for i in range(0, len(ALL), CHUNK):
        chunk = "\n\n".join(s.text for s in ALL[i : i + CHUNK])
        assert h.reply(chunk, thread)[0] == 200
        h.settle()

    shortcut = {"type": "message", "user": "U2", "ts": h.slack.add_message("C2", ALL[5].text,
                                                                         user="U2")["ts"],
                "text": ALL[5].text}
    assert h.shortcut(shortcut, channel="C2")[0] == 200
    h.settle()

    reason = "\n".join(s.text for s in ALL[1:4])
    status, body = h.submit("fp_escalate_modal", {"fp_escalate_reason": reason,
                                                  "fp_escalate_to": "UENG"},
                            private_metadata=str(sid))
    assert status == 200 and "errors" not in body
    h.settle()
    assert load(h, sid).status == "escalated"

    model = "\n".join(json.dumps(r.body, ensure_ascii=False) for r in fake_anthropic.requests)
    assert len(fake_anthropic.message_requests) >= 1 + len(ALL) // CHUNK
    slack = "\n".join(json.dumps(c.body, ensure_ascii=False) + c.raw_body
                      for c in h.slack.calls())
    found = (leaks("model request", model) + leaks("Slack call", slack)
             + leaks("database", database_dump(h)) + leaks("log", caplog.text))
    assert found == []
    # The replies did reach the model, redacted: the test is not vacuous.
    assert model.count("[REDACTED:") >= len(ALL) - 4


@pytest.mark.parametrize("shape", ALL, ids=[s.id for s in ALL])
def test_each_shape_is_masked(shape: Shape) -> None:
    from bot.redact import redact

    out = redact(shape.text).text
    assert shape.secret not in out and "[REDACTED:" in out


def test_no_secret_shape_reaches_the_psa(make: Make, caplog: pytest.LogCaptureFixture) -> None:
    """The fifth exit: a ConnectWise workspace, a session opened from ticket 1001; its
    escalation reason (the package, an internal note) and its resolution note (the
    resolution note, time entry notes) carry every shape; the stand-in receives none."""
    from psa_support import KEY, connect, flowpilot_notes, on_latest, open_ticket, technician

    from bot.clock import FakeClock
    from bot.sandbox.fake_psa import FakePsa

    caplog.set_level(logging.DEBUG)
    with FakePsa() as psa:
        h = make(anthropic_url=None, clock=FakeClock(), FLOWPILOT_SECRET_KEY=KEY,
                 FLOWPILOT_ESCALATION_CHANNEL=ESC)
        connect(h, psa)
        technician(h)
        escalated = open_ticket(h, "1001")
        reason = "\n".join(s.text for s in ALL)
        status, body = h.submit("fp_escalate_modal", {"fp_escalate_reason": reason,
                                                      "fp_escalate_to": "UENG"},
                                private_metadata=str(escalated.id))
        assert status == 200 and "errors" not in body
        h.settle()
        psa.add_ticket(1003, summary="Printer on the second floor is offline")
        resolved = open_ticket(h, "1003")
        assert resolved.id != escalated.id
        assert on_latest(h, "resolve " + "\n".join(s.text for s in ALL))[0] == 200
        h.settle()

        package = flowpilot_notes(psa, 1001)
        note = flowpilot_notes(psa, 1003)
        assert len(package) == 1 and package[0]["internalAnalysisFlag"]
        assert len(note) == 1 and note[0]["resolutionFlag"]
        sent = "\n".join(json.dumps(c.body, ensure_ascii=False) for c in psa.calls()
                         if c.body is not None)
        assert leaks("PSA payload", sent) == []
        # Not vacuous: the texts did reach the PSA, masked.
        assert "[REDACTED:" in package[0]["text"] and "[REDACTED:" in note[0]["text"]
        assert leaks("log", caplog.text) == []
