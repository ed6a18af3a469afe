"""A ConnectWise Manage (PSA) stand-in for tests and the `flowpilot try` sandbox.

`FakePsa` is a threaded stdlib HTTP server on 127.0.0.1 (ephemeral port); its `url` is what
`flowpilot psa connect --site` takes. It keeps tickets, notes, time entries, members and
board statuses in memory, records every call, and lets tests inject 401/404/429/500 answers,
an outage, and slow answers (also "apply the write, then answer too late").

Each rule below is what the real API does, with its source:
[CW-AUTH]  Basic base64("companyId+publicKey:privateKey") — gist.github.com/bersfo/
           12efa79de156aa6f96d80ff14a060822; msp-domain.md §2 "Headers". Wrong keys → 401.
[CW-CLIENT] every request carries a `clientId` header (developer.connectwise.com/ClientID,
           quoted at app.preshmarketingsolutions.com/help/connectwise-developer-documentation).
[CW-BASE]  paths under /v4_6_release/apis/3.0/ (codebase from /login/companyinfo; msp-domain §2).
[CW-NOTE]  POST service/tickets/{id}/notes: `text` plus the type flags detailDescriptionFlag /
           internalAnalysisFlag / resolutionFlag (ServiceNote model, sowderca/connectwise-ruby-sdk
           docs/ServiceNote.md); JSON `\\n` escapes come back as spaces (msp-domain §2
           "Formatting").
[CW-TIME]  POST time/entries with chargeToType "ServiceTicket", chargeToId, member, timeStart/
           timeEnd in UTC with a trailing Z (msp-domain §2 "Time entry"; ai-connor/connectwise
           build/docs/TimeEntriesAPI.md for the paths).
[CW-PATCH] PATCH service/tickets/{id} takes a JSON Patch array; statuses are per board
           (service/boards/{id}/statuses) (msp-domain §2 "Resolve").
[CW-COND]  `conditions=` with `=`, `contains`, strings in double quotes, booleans True/False,
           joined by `and` (msp-domain §2 "Conditions").
[CW-LIMIT] throttling answers 429 with Retry-After (msp-domain §2 "Limits").
[CW-ERR]   errors are JSON `{"code", "message", "errors"}` (ConnectWise developer guide, error
           format; the same shape the SDKs above model as ErrorResponseMessage).
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)

API = "/v4_6_release/apis/3.0/"
COMPANY, PUBLIC_KEY, PRIVATE_KEY = "fpdemo", "pubkey123", "privkey456"
CLIENT_ID = "00000000-0000-4000-8000-00000000c11d"
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
JSON = dict[str, Any]


@dataclass(frozen=True)
class PsaCall:
    method: str
    path: str  # below /v4_6_release/apis/3.0/
    query: dict[str, str]
    body: Any
    status: int


@dataclass
class _Fault:
    status: int
    times: int
    path: str
    retry_after: float | None = None
    delay: float = 0.0
    after_apply: bool = False  # apply the write first, then answer (late or with the error)


@dataclass
class _Store:
    tickets: dict[int, JSON] = field(default_factory=dict)
    notes: dict[int, list[JSON]] = field(default_factory=dict)
    entries: list[JSON] = field(default_factory=list)
    members: list[JSON] = field(default_factory=list)
    statuses: dict[int, list[JSON]] = field(default_factory=dict)
    next_id: int = 5000


def _seed() -> _Store:
    s = _Store()
    s.statuses = {1: [{"id": 11, "name": "New"}, {"id": 12, "name": "In Progress"},
                      {"id": 13, "name": "Resolved"}, {"id": 14, "name": "Closed"}]}
    board = {"id": 1, "name": "Help Desk"}
    s.tickets[1001] = {
        "id": 1001, "summary": "Outlook keeps asking for a password after the password change",
        "board": board, "status": {"id": 11, "name": "New"},
        "company": {"id": 250, "identifier": "Contoso", "name": "Contoso Ltd"},
        "contact": {"id": 77, "name": "Dana Reyes"}, "priority": {"id": 3, "name": "Priority 3"},
        "closedFlag": False,
    }
    s.tickets[1002] = {**copy.deepcopy(s.tickets[1001]), "id": 1002,
                       "summary": "Printer offline on floor 2", "closedFlag": True,
                       "status": {"id": 14, "name": "Closed"}}
    s.notes[1001] = [
        {"id": 4001, "ticketId": 1001, "text": "User reports Outlook on her laptop prompts for a "
         "password every few minutes since yesterday's password change. Web mail works.",
         "detailDescriptionFlag": True, "internalAnalysisFlag": False, "resolutionFlag": False},
        {"id": 4002, "ticketId": 1001, "text": "Called the user: Windows 11, Microsoft 365 Apps.",
         "detailDescriptionFlag": False, "internalAnalysisFlag": True, "resolutionFlag": False},
    ]
    s.notes[1002] = []
    s.members = [
        {"id": 150, "identifier": "alice", "officeEmail": "alice@example.com",
         "inactiveFlag": False},
        {"id": 151, "identifier": "bob", "officeEmail": "bob@example.com", "inactiveFlag": False},
    ]
    return s


def _error(status: int, code: str, message: str) -> tuple[int, JSON, dict[str, str]]:
    return status, {"code": code, "message": message, "errors": None}, {}  # [CW-ERR]


def _matches(row: JSON, conditions: str) -> bool:
    """[CW-COND] the subset we use: `a = "x"`, `a = 5`, `a = False`, `a contains "x"`, `and`."""
    for clause in re.split(r"\s+and\s+", conditions.strip(), flags=re.I):
        m = re.match(r'^\s*([\w/]+)\s*(=|contains)\s*(".*"|\S+)\s*$', clause, re.I)
        if m is None:
            raise ValueError(clause)
        key, op, raw = m.group(1), m.group(2).lower(), m.group(3)
        value: Any = raw[1:-1] if raw.startswith('"') else (
            {"true": True, "false": False}.get(raw.lower(), raw))
        have = row
        for part in key.split("/"):
            have = have.get(part) if isinstance(have, dict) else None  # type: ignore[assignment]
        if op == "contains":
            if str(value).lower() not in str(have or "").lower():
                return False
        elif isinstance(value, bool):
            if bool(have) != value:
                return False
        elif str(have).lower() != str(value).lower():
            return False
    return True


class FakePsa:
    """`with FakePsa() as psa: ConnectWise(site=psa.url, company=COMPANY, ...)`."""

    def __init__(self, *, host: str = "127.0.0.1") -> None:
        self._host = host
        self._lock = threading.Lock()
        self._store = _seed()
        self._calls: list[PsaCall] = []
        self._faults: deque[_Fault] = deque()
        self.down = False  # every request answers 500 while True (an outage)
        self.company, self.public_key, self.private_key = COMPANY, PUBLIC_KEY, PRIVATE_KEY
        self.client_id = CLIENT_ID
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ── lifecycle ─────────────────────────────────────────────────────────────────────

    def start(self) -> FakePsa:
        if self._server is None:
            fake = self

            class Handler(_Handler):
                psa = fake

            self._server = ThreadingHTTPServer((self._host, 0), Handler)
            self._server.daemon_threads = True
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.05}, daemon=True,
                                            name="fake-psa")
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakePsa:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "FakePsa is not started"
        return f"http://{self._host}:{self._server.server_address[1]}"

    # ── scripting and reading ─────────────────────────────────────────────────────────

    def fail(self, status: int, *, times: int = 1, path: str = "", retry_after: float | None
             = None, delay: float = 0.0, after_apply: bool = False) -> None:
        """The next ``times`` requests whose path contains ``path`` answer ``status``
        (``status`` 200 with ``delay``: just slow). ``after_apply``: the write happens first."""
        with self._lock:
            self._faults.append(_Fault(status, times, path, retry_after, delay, after_apply))

    def calls(self, method: str | None = None, path: str = "") -> list[PsaCall]:
        with self._lock:
            return [c for c in self._calls if (method is None or c.method == method)
                    and path in c.path]

    def notes(self, ticket_id: int) -> list[JSON]:
        with self._lock:
            return copy.deepcopy(self._store.notes.get(ticket_id, []))

    def time_entries(self) -> list[JSON]:
        with self._lock:
            return copy.deepcopy(self._store.entries)

    def ticket(self, ticket_id: int) -> JSON:
        with self._lock:
            return copy.deepcopy(self._store.tickets[ticket_id])

    def add_ticket(self, ticket_id: int, **fields: Any) -> None:
        with self._lock:
            base = copy.deepcopy(self._store.tickets[1001])
            self._store.tickets[ticket_id] = {**base, "id": ticket_id, **fields}
            self._store.notes.setdefault(ticket_id, [])

    def add_note(self, ticket_id: int, text: str) -> None:
        with self._lock:
            self._store.next_id += 1
            self._store.notes.setdefault(ticket_id, []).append(
                {"id": self._store.next_id, "ticketId": ticket_id, "text": text,
                 "detailDescriptionFlag": True, "internalAnalysisFlag": False,
                 "resolutionFlag": False})

    # ── serving ───────────────────────────────────────────────────────────────────────

    def handle(self, method: str, raw_path: str, headers: dict[str, str],
               raw: bytes) -> tuple[int, Any, dict[str, str], float]:
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = unquote(parts.path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        status, payload, extra, delay = self._answer(method, path, query, headers, body)
        with self._lock:
            self._calls.append(PsaCall(method, path.removeprefix(API), query, body, status))
        return status, payload, extra, delay

    def _answer(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                body: Any) -> tuple[int, Any, dict[str, str], float]:
        if not path.startswith(API):  # [CW-BASE]
            return (*_error(404, "NotFound", "Not found"), 0.0)
        if not self._authorised(headers):  # [CW-AUTH]
            return 401, {"code": "Unauthorized", "message": "Unauthorized"}, {}, 0.0
        if not headers.get("clientid"):  # [CW-CLIENT]
            return (*_error(401, "Unauthorized", "clientId header is required"), 0.0)
        sub = path.removeprefix(API)
        fault = self._take_fault(sub)
        if self.down:
            return (*_error(500, "InternalServerError", "An error has occurred."), 0.0)
        if fault is not None and not fault.after_apply and fault.status != 200:
            extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after else {}
            code = "TooManyRequests" if fault.status == 429 else "Error"  # [CW-LIMIT]
            st, payload, _ = _error(fault.status, code, f"injected {fault.status}")
            return st, payload, extra, fault.delay
        with self._lock:
            try:
                st, payload, extra = self._route(method, sub, query, body)
            except ValueError as exc:
                st, payload, extra = _error(400, "InvalidObject", f"bad request: {exc}")
        if fault is not None and fault.after_apply and fault.status != 200:
            st, payload, extra = _error(fault.status, "Error", f"injected {fault.status}")
        return st, payload, extra, fault.delay if fault is not None else 0.0

    def _authorised(self, headers: dict[str, str]) -> bool:
        expected = base64.b64encode(
            f"{self.company}+{self.public_key}:{self.private_key}".encode()).decode()
        return headers.get("authorization", "") == f"Basic {expected}"

    def _take_fault(self, sub: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path in sub:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _route(self, method: str, sub: str, query: dict[str, str],
               body: Any) -> tuple[int, Any, dict[str, str]]:
        s = self._store
        if method == "GET" and sub == "system/info":
            return 200, {"version": "v2025.1.fake", "isCloud": False}, {}
        if method == "GET" and sub == "system/members":
            return 200, self._list(s.members, query), {}
        if sub == "time/entries":
            if method == "GET":
                return 200, self._list(s.entries, query), {}
            if method == "POST":
                return self._post_entry(body)
        m = re.fullmatch(r"service/boards/(\d+)/statuses", sub)
        if m and method == "GET":
            return 200, copy.deepcopy(s.statuses.get(int(m.group(1)), [])), {}
        m = re.fullmatch(r"service/tickets/(\d+)(/notes)?", sub)
        if m is None:
            return _error(404, "NotFound", "Not found")
        tid = int(m.group(1))
        if tid not in s.tickets:
            return _error(404, "NotFound", f"Ticket {tid} not found")
        if m.group(2):
            if method == "GET":
                return 200, self._list(s.notes.get(tid, []), query), {}
            if method == "POST":
                return self._post_note(tid, body)
        elif method == "GET":
            return 200, copy.deepcopy(s.tickets[tid]), {}
        elif method == "PATCH":
            return self._patch_ticket(tid, body)
        return _error(405, "MethodNotAllowed", "Method not allowed")

    def _list(self, rows: list[JSON], query: dict[str, str]) -> list[JSON]:
        out = [r for r in rows if _matches(r, query["conditions"])] if query.get(
            "conditions") else list(rows)
        if query.get("orderBy", "").replace(" ", "").lower() == "iddesc":
            out.sort(key=lambda r: -int(r["id"]))
        size = min(int(query.get("pageSize") or 25), 1000)
        return copy.deepcopy(out[:size])

    def _new_id(self) -> int:
        self._store.next_id += 1
        return self._store.next_id

    def _post_note(self, tid: int, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict) or not str(body.get("text") or "").strip():
            return _error(400, "InvalidObject", "text is required")  # [CW-NOTE]
        flags = ("detailDescriptionFlag", "internalAnalysisFlag", "resolutionFlag")
        if not any(body.get(f) for f in flags):
            return _error(400, "InvalidObject",
                          "One of detailDescriptionFlag, internalAnalysisFlag or resolutionFlag "
                          "must be true")
        note = {"id": self._new_id(), "ticketId": tid,
                "text": str(body["text"]).replace("\n", " "),  # [CW-NOTE] flattening quirk
                **{f: bool(body.get(f)) for f in flags},
                "processNotifications": bool(body.get("processNotifications")),
                "internalFlag": True, "externalFlag": True}
        self._store.notes.setdefault(tid, []).append(note)
        return 201, copy.deepcopy(note), {}

    def _post_entry(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict):
            return _error(400, "InvalidObject", "body must be an object")
        if body.get("chargeToType") != "ServiceTicket":  # [CW-TIME]
            return _error(400, "InvalidObject", "chargeToType must be ServiceTicket here")
        if int(body.get("chargeToId") or 0) not in self._store.tickets:
            return _error(400, "InvalidObject", "chargeToId is not a ticket")
        ident = (body.get("member") or {}).get("identifier")
        if not any(m["identifier"] == ident for m in self._store.members):
            return _error(400, "InvalidObject", "member is required and must exist")
        start, end = str(body.get("timeStart") or ""), str(body.get("timeEnd") or "")
        if not TIME_RE.match(start) or not TIME_RE.match(end) or end <= start:
            return _error(400, "InvalidObject", "timeStart/timeEnd must be UTC (…Z), start < end")
        entry = {**copy.deepcopy(body), "id": self._new_id()}
        self._store.entries.append(entry)
        return 201, copy.deepcopy(entry), {}

    def _patch_ticket(self, tid: int, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, list):  # [CW-PATCH]
            return _error(400, "InvalidObject", "a JSON Patch array is required")
        ticket = self._store.tickets[tid]
        for op in body:
            if op.get("op") != "replace" or op.get("path") != "status":
                return _error(400, "InvalidObject", f"unsupported patch {op!r}")
            sid = (op.get("value") or {}).get("id")
            board = self._store.statuses.get(int(ticket["board"]["id"]), [])
            match = next((x for x in board if x["id"] == sid), None)
            if match is None:
                return _error(400, "InvalidObject", "status is not on the ticket's board")
            ticket["status"] = dict(match)
            ticket["closedFlag"] = match["name"] in ("Closed", "Resolved")
        return 200, copy.deepcopy(ticket), {}


class _Handler(BaseHTTPRequestHandler):
    psa: FakePsa

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, payload, extra, delay = self.psa.handle(method, self.path, headers, raw)
        except Exception:  # a bug in the fake must not hang the client
            log.exception("FakePsa failed on %s", self.path)
            status, payload, extra, delay = 500, {"code": "FakeBug", "message": "bug"}, {}, 0.0
        if delay:
            time.sleep(delay)
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (a timeout test)
            pass
