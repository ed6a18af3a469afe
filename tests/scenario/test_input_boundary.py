"""Hostile and malformed bodies at the HTTP entry: a 4xx (or a 200 for signed junk we can
ignore), a one-line log, never a 500 or a traceback. Valid text with NUL bytes or lone
surrogates is cleaned and answered."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from support import SECRET, TEAM, Harness

from bot.sandbox.signing import FORM, JSON, block_action_body, event_body, sign_request
from storage.models import AISession, InboundEvent


def _deep(n: int) -> str:
    return "[" * n + "]" * n


def _payload(obj: object) -> str:
    return urlencode({"payload": json.dumps(obj)})


SIGNED_JUNK = [
    ("truncated_json", '{"type": "event_callback", "event": {"type": "mess', JSON, 400),
    ("json_list", '[{"type": "event_callback"}]', JSON, 400),
    ("json_string", '"hello"', JSON, 400),
    ("json_number", "42", JSON, 400),
    ("empty_json", "", JSON, 400),
    ("event_is_string", json.dumps({"type": "event_callback", "team_id": TEAM,
                                    "event": "message"}), JSON, 400),
    ("payload_not_json", "payload=not-json", FORM, 400),
    ("payload_is_list", _payload([1, 2]), FORM, 400),
    ("actions_is_string", _payload({"type": "block_actions", "actions": "fp_retry",
                                    "user": {"id": "U1"}, "team": {"id": TEAM}}), FORM, 400),
    ("action_id_is_list", _payload({"type": "block_actions", "user": {"id": "U1"},
                                    "team": {"id": TEAM},
                                    "actions": [{"action_id": ["x"], "value": 3}]}), FORM, 400),
    ("action_value_is_number", _payload({"type": "block_actions", "user": {"id": "U1"},
                                         "team": {"id": TEAM},
                                         "actions": [{"action_id": "fp_retry", "value": 7}]}),
     FORM, 400),
    ("user_is_list", _payload({"type": "block_actions", "user": [1], "team": {"id": TEAM},
                               "actions": [{"action_id": "fp_retry", "value": "x"}]}), FORM, 400),
    ("view_is_string", _payload({"type": "view_submission", "view": "v",
                                 "user": {"id": "U1"}}), FORM, 400),
    ("deep_json", '{"a": ' + _deep(5000) + "}", JSON, 400),
    ("very_deep_json", '{"a": ' + _deep(200_000) + "}", JSON, 400),
    ("non_numeric_ts", json.dumps({"type": "event_callback", "team_id": TEAM, "event_id": "Ev1",
                                   "event": {"type": "message", "channel": "C1", "user": "U1",
                                             "text": "hi", "ts": "abc",
                                             "thread_ts": "1.2"}}), JSON, 400),
    ("wrong_content_type", json.dumps({"type": "event_callback"}), "text/plain", 400),
    ("xml", "<xml/>", "application/xml", 400),
    ("not_utf8", "\udcff", JSON, 400),  # encoded with surrogateescape below
    ("form_garbage", "a=1&&&=&%zz", FORM, 400),
    ("empty_form", "", FORM, 400),
]


@pytest.mark.parametrize(("name", "body", "ctype", "expected"), SIGNED_JUNK,
                         ids=[c[0] for c in SIGNED_JUNK])
def test_signed_junk_is_a_4xx_without_traceback(
    harness: Harness, caplog: pytest.LogCaptureFixture, name: str, body: str, ctype: str,
    expected: int,
) -> None:
    raw = body.encode("utf-8", "surrogateescape")
    with caplog.at_level(logging.DEBUG):
        status, out = _send_bytes(harness, raw, ctype)
    assert status == expected, out
    assert "Traceback" not in caplog.text
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused a request")]
    assert len(refusals) == 1 and "\n" not in refusals[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    if len(body) > 50:
        assert body[:200] not in caplog.text  # the body itself is never logged


@pytest.mark.parametrize(("name", "body", "ctype", "expected"), SIGNED_JUNK[:8],
                         ids=[c[0] for c in SIGNED_JUNK[:8]])
def test_unsigned_junk_is_401(harness: Harness, caplog: pytest.LogCaptureFixture, name: str,
                              body: str, ctype: str, expected: int) -> None:
    with caplog.at_level(logging.DEBUG):
        status, _ = harness.send(body, ctype, signed=False)
        bad, _ = harness.send(body, ctype, secret="not-the-secret")
    assert (status, bad) == (401, 401)
    assert "Traceback" not in caplog.text
    if len(body) > 20:
        assert body not in caplog.text


@pytest.mark.parametrize("stamp", ["abc", "", "1e9", "-5", "9" * 40, "١٢٣"])
def test_non_numeric_or_odd_signature_timestamp_is_401(harness: Harness, stamp: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    body = json.dumps({"type": "event_callback"})
    sig = sign_request(SECRET, body)["X-Slack-Signature"]
    with caplog.at_level(logging.DEBUG):
        status, _ = harness.send(body, JSON, signed=False, headers={
            "X-Slack-Signature": sig, "X-Slack-Request-Timestamp": stamp})
    assert status == 401 and "Traceback" not in caplog.text


def test_oversize_body_is_413(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    body = json.dumps({"type": "event_callback", "x": "a" * (2 * 1024 * 1024 + 10)})
    with caplog.at_level(logging.DEBUG):
        status, _ = harness.send(body, JSON)
    assert status == 413 and "Traceback" not in caplog.text and "aaaaaaaa" not in caplog.text


def test_bolt_never_logs_a_refused_body(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    body, ctype = event_body(TEAM, {"type": "message", "channel": "C1", "user": "U1",
                                    "text": "password is Hunter2Hunter2", "ts": "1.1"})
    with caplog.at_level(logging.DEBUG):
        status, _ = harness.send(body, ctype, secret="wrong")
    assert status == 401 and "Hunter2Hunter2" not in caplog.text


def test_nul_and_lone_surrogate_in_a_reply_are_cleaned_and_answered(harness: Harness) -> None:
    h = harness
    h.command("outlook keeps popping pw box since this morning")
    h.settle()
    with h.svc.factory() as db:
        s = db.execute(select(AISession)).scalar_one()
    thread = s.slack_thread_ts
    before = len(h.bot_messages("C1", thread))
    # json.dumps writes the lone surrogate as the escape \ud800, as a JSON sender would.
    text = "it still\x00 fails \ud800 after a reboot"
    ts = h.slack.add_message("C1", "x", user="U1", thread_ts=thread)["ts"]
    status, _ = h.event({"type": "message", "channel": "C1", "user": "U1", "text": text,
                         "ts": ts, "thread_ts": thread, "channel_type": "channel"})
    assert status == 200
    h.settle()
    with h.svc.factory() as db:
        reply = db.execute(select(InboundEvent).where(InboundEvent.kind == "reply")).scalar_one()
    assert reply.payload["text"] == "it still fails \ufffd after a reboot"
    assert reply.status == "done"
    assert len(h.bot_messages("C1", thread)) > before  # answered


def test_a_valid_click_with_unicode_oddities_still_works(harness: Harness) -> None:
    body, ctype = block_action_body(TEAM, "U1", "C1", "1700000000.000100", "fp_open_session",
                                    "v\x00al")
    assert harness.send(body, ctype)[0] == 200


def _send_bytes(h: Harness, raw: bytes, ctype: str) -> tuple[int, str]:
    import io

    stamp = str(int(time.time()))
    import hashlib
    import hmac

    sig = "v0=" + hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + raw,
                           hashlib.sha256).hexdigest()
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "QUERY_STRING": "",
        "CONTENT_TYPE": ctype, "CONTENT_LENGTH": str(len(raw)), "wsgi.input": io.BytesIO(raw),
        "HTTP_X_SLACK_SIGNATURE": sig, "HTTP_X_SLACK_REQUEST_TIMESTAMP": stamp,
    }
    status: list[str] = []
    out = b"".join(h.wsgi(environ, lambda s, _h: status.append(s)))
    return int(status[0].split()[0]), out.decode()


def test_slack_entity_escapes_are_not_escaped_twice(harness: Harness) -> None:
    h = harness
    # Slack escapes &, < and > in command text; the header must show "&" once escaped.
    h.command("printer &amp; scanner offline &lt;HP 4050&gt;")
    h.settle()
    with h.svc.factory() as db:
        s = db.execute(select(AISession)).scalar_one()
    assert s.problem_summary == "printer & scanner offline <HP 4050>"
    header = next(m for m in h.slack.messages("C1") if m["ts"] == s.slack_thread_ts)
    shown = json.dumps(header)
    assert "printer &amp; scanner offline &lt;HP 4050&gt;" in shown
    assert "&amp;amp;" not in shown and "&amp;lt;" not in shown
