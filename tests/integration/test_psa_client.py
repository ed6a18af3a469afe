"""Our ConnectWise client against the stand-in, and the stand-in refusing what ConnectWise
refuses (wrong keys, no clientId, notes without a type flag, bad time entries)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from bot.errors import PsaError
from bot.psa.base import Outbound
from bot.psa.connectwise import ConnectWise, base_url, flatten
from bot.sandbox.fake_psa import API, FakePsa

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def psa() -> Iterator[FakePsa]:
    with FakePsa() as fake:
        yield fake


def client(psa: FakePsa, **kw: object) -> ConnectWise:
    sleeps: list[float] = []
    args: dict = dict(site=psa.url, company=psa.company, public_key=psa.public_key,
                      private_key=psa.private_key, client_id=psa.client_id, timeout=2.0,
                      sleep=sleeps.append)
    args.update(kw)
    cw = ConnectWise(**args)
    cw.sleeps = sleeps  # type: ignore[attr-defined]
    return cw


def test_base_url_forms() -> None:
    assert base_url("na.myconnectwise.net") == "https://api-na.myconnectwise.net" + \
        "/v4_6_release/apis/3.0"
    assert base_url("cw.example.com") == "https://cw.example.com/v4_6_release/apis/3.0"
    assert base_url("http://127.0.0.1:8123/") == "http://127.0.0.1:8123/v4_6_release/apis/3.0"
    with pytest.raises(PsaError):
        base_url("  ")


def test_reads_a_ticket_with_its_latest_notes(psa: FakePsa) -> None:
    t = client(psa).fetch_ticket("1001")
    assert (t.id, t.board, t.company, t.contact, t.status, t.closed) == (
        "1001", "Help Desk", "Contoso Ltd", "Dana Reyes", "New", False)
    assert t.notes[0].startswith("User reports Outlook")  # oldest of the latest first
    assert "Ticket #1001" in t.intake_text()


def test_wrong_keys_are_a_readable_401(psa: FakePsa) -> None:
    with pytest.raises(PsaError) as err:
        client(psa, private_key="nope").check()
    assert err.value.status == 401 and "API keys" in err.value.message
    assert "nope" not in err.value.message


def test_stand_in_refuses_what_connectwise_refuses(psa: FakePsa) -> None:
    good = "Basic " + base64.b64encode(
        f"{psa.company}+{psa.public_key}:{psa.private_key}".encode()).decode()
    url = psa.url + API
    # No clientId header: refused even with the right keys.
    assert httpx.get(url + "system/info", headers={"Authorization": good}).status_code == 401
    hdrs = {"Authorization": good, "clientId": psa.client_id}
    # A note needs text and one type flag.
    r = httpx.post(url + "service/tickets/1001/notes", headers=hdrs, json={"text": "x"})
    assert r.status_code == 400 and r.json()["code"] == "InvalidObject"
    # A time entry must be charged to a ticket, by a member, with UTC times.
    r = httpx.post(url + "time/entries", headers=hdrs, json={
        "chargeToType": "ServiceTicket", "chargeToId": 1001, "member": {"identifier": "alice"},
        "timeStart": "2026-11-24 09:00", "timeEnd": "2026-11-24T09:30:00Z"})
    assert r.status_code == 400
    # A status must be one of the ticket's board.
    r = httpx.patch(url + "service/tickets/1001", headers=hdrs,
                    json=[{"op": "replace", "path": "status", "value": {"id": 999}}])
    assert r.status_code == 400
    assert httpx.get(url + "service/tickets/4242", headers=hdrs).status_code == 404


def test_unknown_ticket_and_not_a_number(psa: FakePsa) -> None:
    cw = client(psa)
    with pytest.raises(PsaError, match="#4242 was not found"):
        cw.fetch_ticket("4242")
    with pytest.raises(PsaError, match="not a ConnectWise ticket number"):
        cw.fetch_ticket("12a")


def test_429_waits_retry_after_then_succeeds(psa: FakePsa) -> None:
    psa.fail(429, retry_after=7, path="system/info")
    cw = client(psa)
    assert "answered" in cw.check()
    assert cw.sleeps == [7.0]  # type: ignore[attr-defined]
    assert [c.status for c in psa.calls("GET", "system/info")] == [429, 200]


def test_long_retry_after_goes_back_to_the_caller(psa: FakePsa) -> None:
    psa.fail(429, retry_after=600, path="notes")
    item = Outbound("note", "r1", "1001", "hello", "s1", {"flag": "internal"})
    with pytest.raises(PsaError) as err:
        client(psa).deliver(item, NOW)
    assert err.value.retryable and err.value.retry_after == 600 and not err.value.uncertain


def test_get_retries_5xx_with_backoff_but_post_does_not(psa: FakePsa) -> None:
    psa.fail(500, times=2, path="service/tickets/1001")
    cw = client(psa)
    assert cw.fetch_ticket("1001").id == "1001"
    assert cw.sleeps == [0.5, 1.0]  # type: ignore[attr-defined]
    psa.fail(500, path="notes")
    with pytest.raises(PsaError) as err:
        cw.deliver(Outbound("note", "r2", "1001", "x", "s1", {"flag": "internal"}), NOW)
    assert err.value.uncertain and err.value.retryable
    assert len(psa.calls("POST", "notes")) == 1


def test_timeout_after_the_note_was_stored_is_found_again(psa: FakePsa) -> None:
    psa.fail(200, delay=1.5, after_apply=True, path="notes")
    cw = client(psa, timeout=0.5)
    item = Outbound("note", "ref-abc", "1001", "## Problem\nOutlook\n1. Close it", "s1",
                    {"flag": "resolution"})
    with pytest.raises(PsaError) as err:
        cw.deliver(item, NOW)
    assert err.value.uncertain
    found = cw.find(item)
    assert found is not None
    (stored,) = [n for n in psa.notes(1001) if n["id"] == int(found)]
    assert stored["resolutionFlag"] and not stored["internalAnalysisFlag"]
    assert "— Problem: Outlook 1. Close it" in stored["text"]


def test_time_entry_finds_the_member_by_email(psa: FakePsa) -> None:
    cw = client(psa)
    item = Outbound("time_entry", "t1", "1001", "FlowPilot session", "s1", {
        "start": "2026-11-24T09:00:00Z", "end": "2026-11-24T09:15:00Z",
        "email": "alice@example.com", "billable": False, "work_type": "Remote"})
    out = cw.deliver(item, NOW)
    (entry,) = psa.time_entries()
    assert str(entry["id"]) == out.external_id and entry["member"]["identifier"] == "alice"
    assert entry["billableOption"] == "DoNotBill" and cw.find(item) == out.external_id
    nobody = Outbound("time_entry", "t2", "1001", "x", "s1", {
        "start": "2026-11-24T09:00:00Z", "end": "2026-11-24T09:15:00Z",
        "email": "zed@example.com"})
    with pytest.raises(PsaError, match="zed@example.com"):
        cw.deliver(nobody, NOW)


def test_status_is_looked_up_on_the_board(psa: FakePsa) -> None:
    cw = client(psa)
    cw.deliver(Outbound("status", "s", "1001", "", "s1", {"status": "resolved"}), NOW)
    assert psa.ticket(1001)["status"]["name"] == "Resolved"
    with pytest.raises(PsaError, match="no status"):
        cw.deliver(Outbound("status", "s", "1001", "", "s1", {"status": "Gone"}), NOW)


def test_flatten_keeps_one_readable_line() -> None:
    assert flatten("# Title\n\n**Ticket:** 5\n1. a\n2. b") == "— Title: Ticket: 5 1. a 2. b"
