"""The signed webhook target (any other PSA) and the resolution note's Slack thread post, both
through the outbox: retried until they land, applied once."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from psa_support import KEY, connect_webhook, on_latest, outputs, sessions
from support import Harness

from bot.clock import FakeClock
from bot.jobs.registry import run_job

Make = Callable[..., Harness]
SECRET = "a-long-enough-webhook-secret"


class Receiver:
    """An automation tool's endpoint: checks the signature, keeps each delivery once."""

    def __init__(self) -> None:
        self.fail_next = 0
        self.seen: dict[str, dict[str, Any]] = {}
        self.requests = 0
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests += 1
                want = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(want, self.headers.get("X-FlowPilot-Signature", "")):
                    receiver.bad_signatures += 1
                    code = 401
                elif receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    code = 503
                else:
                    receiver.seen.setdefault(self.headers["X-FlowPilot-Delivery"], json.loads(raw))
                    code = 202
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/flowpilot"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_webhook_gets_signed_outputs_with_retries(make: Make, receiver: Receiver) -> None:
    clock = FakeClock()
    h = make(anthropic_url=None, clock=clock, FLOWPILOT_SECRET_KEY=KEY)
    connect_webhook(h, receiver.url, SECRET)
    receiver.fail_next = 3  # the tool is down for the first tries
    h.command("Printer on floor 2 shows offline")
    h.settle()
    clock.advance(minutes=7)
    on_latest(h, "resolve Power-cycled the printer")
    h.settle()
    for _ in range(8):
        run_job(h.svc, "deliver_outputs", clock.advance(minutes=3))
    (s,) = sessions(h)
    rows = outputs(h, s.id)
    assert {(r.output_type, r.target, r.status) for r in rows} == {
        ("resolution_note", "slack", "posted"), ("resolution_note", "webhook", "posted"),
        ("time_entry", "webhook", "posted")}
    assert receiver.bad_signatures == 0 and receiver.requests >= 5
    kinds = sorted(body["kind"] for body in receiver.seen.values())
    assert kinds == ["note", "time_entry"]
    entry = next(b for b in receiver.seen.values() if b["kind"] == "time_entry")
    assert entry["details"]["minutes"] == 15 and entry["session_id"] == str(s.id)


def test_a_failed_slack_note_post_is_retried(make: Make) -> None:
    clock = FakeClock()
    h = make(anthropic_url=None, clock=clock)
    h.command("Printer on floor 2 shows offline")
    h.settle()
    (s,) = sessions(h)
    h.slack.fail_channel("C1", "fatal_error")
    on_latest(h, "resolve")
    h.settle()
    (row,) = outputs(h, s.id)
    assert row.status == "pending" and row.last_error
    h.slack.unfail_channel("C1")
    assert run_job(h.svc, "deliver_outputs", clock.advance(minutes=2)).done == 1
    notes = [m for m in h.bot_messages("C1", s.slack_thread_ts)
             if "Resolution note" in str(m.get("text"))]
    assert len(notes) == 1
    (row,) = outputs(h, s.id)
    assert row.status == "posted" and row.external_id == notes[0]["ts"]


def test_admin_connects_connectwise_from_slack(make: Make) -> None:
    from bot.sandbox.fake_psa import FakePsa
    from storage.models import PsaConnection

    h = make(anthropic_url=None, FLOWPILOT_SECRET_KEY=KEY)
    h.command("psa", user="U7")  # not an admin
    h.settle()
    assert "Only workspace admins" in h.ephemerals_text("U7")
    assert not [v for v in h.slack.views() if v.get("callback_id") == "fp_settings_modal"]
    h.slack.set_user("UADMIN", is_admin=True)
    with FakePsa() as psa:
        h.command("psa", user="UADMIN")
        h.settle()
        (view,) = [v for v in h.slack.views() if v.get("callback_id") == "fp_settings_modal"]
        assert "no PSA connected" in json.dumps(view["blocks"])
        values = {"fp_psa_site": psa.url, "fp_psa_company": psa.company,
                  "fp_psa_public_key": psa.public_key, "fp_psa_private_key": "wrong-key",
                  "fp_psa_client_id": psa.client_id}
        h.submit("fp_settings_modal", values, private_metadata="psa|C1", user="UADMIN")
        h.settle()
        assert "was not connected" in h.ephemerals_text("UADMIN")
        assert "401" in h.ephemerals_text("UADMIN")
        with h.svc.factory() as db:
            assert db.query(PsaConnection).count() == 0
        h.submit("fp_settings_modal", {**values, "fp_psa_private_key": psa.private_key},
                 private_metadata="psa|C1", user="UADMIN")
        h.settle()
        said = h.ephemerals_text("UADMIN")
        assert "✅ Connected" in said
        everything = said + json.dumps([c.body for c in h.slack.calls("chat.postMessage")])
        assert psa.private_key not in everything and "wrong-key" not in everything
        with h.svc.factory() as db:
            (row,) = db.query(PsaConnection).all()
            assert row.credentials_encrypted and psa.private_key not in row.credentials_encrypted
