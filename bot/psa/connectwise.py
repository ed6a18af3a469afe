"""Our own small ConnectWise Manage (PSA) REST client: httpx + pydantic.

The public Python clients are GPL or unmaintained, so this covers just what FlowPilot does.
API facts (cited in /work/shared/reference/msp-domain.md §2 and the stand-in
``bot/sandbox/fake_psa.py``):
- base ``https://{site}/v4_6_release/apis/3.0/``; cloud sites answer on ``api-{region}``;
- ``Authorization: Basic base64("{companyId}+{publicKey}:{privateKey}")`` plus a ``clientId``
  header (developer.connectwise.com/ClientID); a pinned ``Accept`` version;
- 429 carries ``Retry-After``; 5xx and timeouts are worth retrying with backoff.

Only reads and idempotent writes (GET, PATCH) are retried here. A POST is sent once (a 429 or
a refused connection never reached the PSA, so those are retried too): whether a timed-out
POST was applied is decided by the outbox, which looks for the note before posting again.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict

from bot.errors import PsaError
from bot.psa.base import Delivered, Outbound, Ticket, marker

API_PATH = "/v4_6_release/apis/3.0"
ACCEPT = "application/vnd.connectwise.com+json; version=2022.1"
CLOUD_HOST = re.compile(r"^(na|eu|au|za|staging)\.myconnectwise\.net$", re.I)
MAX_WAIT = 30.0  # longest Retry-After we sleep through in-process; longer goes to the outbox
NOTES_KEPT = 5
NOTE_CHARS = 2000


class Ref(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int | None = None
    name: str | None = None
    identifier: str | None = None


class CwTicket(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int
    summary: str = ""
    board: Ref | None = None
    status: Ref | None = None
    company: Ref | None = None
    contact: Ref | None = None
    priority: Ref | None = None
    closedFlag: bool = False  # noqa: N815 (the API's field name)


class CwNote(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int
    text: str = ""


def base_url(site: str) -> str:
    """``--site`` takes a host (``na.myconnectwise.net``) or a full base URL."""
    site = site.strip().rstrip("/")
    if not site:
        raise PsaError("The PSA site is empty: give a host like na.myconnectwise.net.")
    if "://" not in site:
        host = site
        if CLOUD_HOST.match(host):
            host = "api-" + host  # cloud sites serve the API on api-<region>
        site = f"https://{host}"
    parts = urlsplit(site)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PsaError(f"The PSA site {site!r} is not a host or an http(s) URL.")
    return site + API_PATH


def auth_header(company: str, public_key: str, private_key: str) -> str:
    raw = f"{company}+{public_key}:{private_key}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class ConnectWise:
    """One workspace's ConnectWise connection. Implements ``bot.psa.base.PsaTarget``."""

    kind = "connectwise"

    def __init__(self, *, site: str, company: str, public_key: str, private_key: str,
                 client_id: str, timeout: float = 10.0, attempts: int = 3,
                 sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._base = base_url(site)
        self._attempts = max(1, attempts)
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), transport=transport,
            headers={"Authorization": auth_header(company, public_key, private_key),
                     "clientId": client_id, "Accept": ACCEPT,
                     "Content-Type": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    # ── the wire ──────────────────────────────────────────────────────────────────────

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              body: Any = None) -> Any:
        idempotent = method in ("GET", "PATCH", "PUT")
        delay = 0.5
        for attempt in range(1, self._attempts + 1):
            last = attempt == self._attempts
            try:
                resp = self._http.request(method, self._base + path, params=params, json=body)
            except httpx.ConnectError as exc:  # never reached the PSA: safe to repeat
                err = PsaError(f"the PSA could not be reached ({exc.__class__.__name__})",
                               retryable=True)
            except httpx.TimeoutException:
                err = PsaError("the PSA did not answer in time", retryable=True,
                               uncertain=not idempotent)
                if not idempotent:
                    raise err from None
            except httpx.HTTPError as exc:
                err = PsaError(f"the PSA connection failed ({exc.__class__.__name__})",
                               retryable=True, uncertain=not idempotent)
                if not idempotent:
                    raise err from None
            else:
                if resp.status_code < 400:
                    return resp.json() if resp.content else None
                err = _error(resp, idempotent)
                if resp.status_code == 429:
                    wait = err.retry_after if err.retry_after is not None else delay
                    if wait > MAX_WAIT or last:
                        raise err
                    self._sleep(wait)
                    continue
                if not err.retryable or not idempotent:
                    raise err
            if last:
                raise err
            self._sleep(delay)
            delay *= 2
        raise PsaError("the PSA request was not sent")  # pragma: no cover (loop always returns)

    # ── PsaTarget ─────────────────────────────────────────────────────────────────────

    def check(self) -> str:
        info = self._call("GET", "/system/info") or {}
        return f"ConnectWise {info.get('version', '?')} answered"

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        if not str(ticket_id).isdigit():
            raise PsaError(f"#{ticket_id} is not a ConnectWise ticket number.", status=404)
        try:
            raw = self._call("GET", f"/service/tickets/{ticket_id}")
        except PsaError as exc:
            if exc.status == 404:
                raise PsaError(f"Ticket #{ticket_id} was not found in ConnectWise.",
                               status=404) from None
            raise
        t = CwTicket.model_validate(raw)
        notes = [CwNote.model_validate(n) for n in self._call(
            "GET", f"/service/tickets/{ticket_id}/notes",
            params={"orderBy": "id desc", "pageSize": NOTES_KEPT}) or []]
        return Ticket(
            id=str(t.id), summary=t.summary, board=_name(t.board), status=_name(t.status),
            company=_name(t.company), contact=_name(t.contact), priority=_name(t.priority),
            closed=t.closedFlag,
            notes=[n.text[:NOTE_CHARS] for n in reversed(notes) if n.text.strip()],
        )

    def find(self, item: Outbound) -> str | None:
        if item.kind == "status" or not item.ticket_id:
            return None
        tag = marker(item.ref)
        if item.kind == "time_entry":
            rows = self._call("GET", "/time/entries", params={
                "conditions": f'chargeToId={int(item.ticket_id)} and chargeToType="ServiceTicket"'
                              f' and notes contains "{tag}"', "pageSize": 10}) or []
        else:
            rows = self._call("GET", f"/service/tickets/{item.ticket_id}/notes",
                              params={"conditions": f'text contains "{tag}"',
                                      "pageSize": 10}) or []
        return str(rows[0]["id"]) if rows else None

    def deliver(self, item: Outbound, now: datetime) -> Delivered:
        if not item.ticket_id:
            raise PsaError("this session has no ticket to write to")
        if item.kind == "time_entry":
            return self._time_entry(item)
        if item.kind == "status":
            return self._status(item)
        return self._note(item)

    # ── outputs ───────────────────────────────────────────────────────────────────────

    def _note(self, item: Outbound) -> Delivered:
        flag = str(item.extra.get("flag") or "internal")
        text = f"{flatten(item.text)} {marker(item.ref)}"
        body = {"text": text, "detailDescriptionFlag": flag == "discussion",
                "internalAnalysisFlag": flag == "internal", "resolutionFlag": flag == "resolution",
                "processNotifications": False}  # never e-mail the client from a bot
        out = self._call("POST", f"/service/tickets/{item.ticket_id}/notes", body=body)
        return Delivered(str(out["id"]), f"{flag} note")

    def member_by_email(self, email: str) -> str | None:
        email = email.strip().replace('"', "")
        if not email:
            return None
        rows = self._call("GET", "/system/members", params={
            "conditions": f'officeEmail="{email}" and inactiveFlag=False', "pageSize": 2}) or []
        return str(rows[0]["identifier"]) if rows else None

    def _time_entry(self, item: Outbound) -> Delivered:
        email = str(item.extra.get("email") or "")
        member = self.member_by_email(email)
        if member is None:
            who = email or "the technician (Slack shows no e-mail)"
            raise PsaError(f"No active ConnectWise member has the e-mail {who}; the time entry "
                           "was not logged.", status=404)
        body: dict[str, Any] = {
            "chargeToId": int(item.ticket_id or 0), "chargeToType": "ServiceTicket",
            "member": {"identifier": member},
            "timeStart": item.extra["start"], "timeEnd": item.extra["end"],
            "billableOption": "Billable" if item.extra.get("billable", True) else "DoNotBill",
            "notes": f"{flatten(item.text)} {marker(item.ref)}",
            "addToDetailDescriptionFlag": False, "addToInternalAnalysisFlag": False,
            "addToResolutionFlag": False, "emailResourceFlag": False,
            "emailContactFlag": False, "emailCcFlag": False,
        }
        if item.extra.get("work_type"):
            body["workType"] = {"name": str(item.extra["work_type"])}
        out = self._call("POST", "/time/entries", body=body)
        return Delivered(str(out["id"]), f"time entry for {member}")

    def _status(self, item: Outbound) -> Delivered:
        wanted = str(item.extra.get("status") or "").strip()
        ticket = CwTicket.model_validate(self._call("GET", f"/service/tickets/{item.ticket_id}"))
        if ticket.board is None or ticket.board.id is None:
            raise PsaError(f"Ticket #{item.ticket_id} has no board, so its status cannot be set.")
        # Statuses are per board: look the name up rather than hard-coding an id.
        statuses = self._call("GET", f"/service/boards/{ticket.board.id}/statuses",
                              params={"pageSize": 200}) or []
        match = next((s for s in statuses if str(s.get("name", "")).lower() == wanted.lower()),
                     None)
        if match is None:
            raise PsaError(f"The board {_name(ticket.board)!r} has no status {wanted!r}.")
        self._call("PATCH", f"/service/tickets/{item.ticket_id}",
                   body=[{"op": "replace", "path": "status", "value": {"id": match["id"]}}])
        return Delivered(f"status:{match['id']}", f"status {wanted}")


def _name(ref: Ref | None) -> str:
    if ref is None:
        return ""
    return ref.name or ref.identifier or (str(ref.id) if ref.id is not None else "")


def flatten(text: str) -> str:
    """ConnectWise drops ``\\n`` from JSON note bodies (msp-domain.md §2, "Formatting"): keep
    the note readable on one line — headings become "— X:", list items stay numbered."""
    parts: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            line = "— " + line.lstrip("#").strip() + ":"
        line = line.replace("**", "")
        parts.append(line)
    return " ".join(parts)


def _error(resp: httpx.Response, idempotent: bool) -> PsaError:
    """A readable error from ConnectWise's ``{"code", "message", "errors"}`` body."""
    code = resp.status_code
    try:
        data = resp.json()
        detail = str(data.get("message") or data.get("code") or "")[:200]
    except (ValueError, AttributeError):
        detail = ""
    retry_after = None
    if code == 429:
        try:
            retry_after = max(0.0, float(resp.headers.get("Retry-After", "")))
        except ValueError:
            retry_after = None
    messages = {
        401: "ConnectWise refused the API keys (401): check the company id, public and "
             "private key",
        403: "the ConnectWise API member's security role may not do this (403)",
        404: "ConnectWise has no such record (404)",
        429: "ConnectWise is throttling requests (429)",
    }
    text = messages.get(code) or f"ConnectWise answered {code}"
    if detail and code not in (401, 403):
        text += f": {detail}"
    return PsaError(text, status=code, retryable=code == 429 or code >= 500,
                    uncertain=code >= 500 and not idempotent, retry_after=retry_after)
