"""The signed webhook target, for any other PSA (Autotask, HaloPSA, an automation tool).

Each output is one JSON POST with ``X-FlowPilot-Signature: sha256=<hex HMAC-SHA256 of the
raw body>`` (the secret from ``FLOWPILOT_PSA_WEBHOOK_SECRET``) and ``X-FlowPilot-Delivery``,
the output's ref: a receiver that keeps refs it has seen applies each output exactly once,
however often a retry repeats it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import httpx

from bot.errors import PsaError
from bot.psa.base import Delivered, Outbound, Ticket


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(item: Outbound, now: datetime) -> dict[str, Any]:
    return {"delivery": item.ref, "kind": item.kind, "session_id": item.session_id,
            "ticket_id": item.ticket_id, "text": item.text, "details": item.extra,
            "sent_at": now.isoformat()}


class Webhook:
    kind = "webhook"

    def __init__(self, *, url: str, secret: str, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise PsaError(f"The webhook URL {url!r} must start with https:// (or http://).")
        self._url, self._secret = url, secret
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def _post(self, body: dict[str, Any], ref: str) -> httpx.Response:
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        try:
            return self._http.post(self._url, content=raw, headers={
                "Content-Type": "application/json", "X-FlowPilot-Delivery": ref,
                "X-FlowPilot-Signature": signature(self._secret, raw)})
        except httpx.TimeoutException:
            raise PsaError("the webhook did not answer in time", retryable=True,
                           uncertain=True) from None
        except httpx.HTTPError as exc:
            raise PsaError(f"the webhook could not be reached ({exc.__class__.__name__})",
                           retryable=True) from None

    def check(self) -> str:
        resp = self._post({"kind": "ping"}, "ping")
        if resp.status_code >= 400:
            raise PsaError(f"the webhook answered {resp.status_code}", status=resp.status_code)
        return f"webhook answered {resp.status_code}"

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        raise PsaError("This workspace's PSA is a webhook, which cannot look tickets up.")

    def find(self, item: Outbound) -> str | None:
        return None  # the receiver de-duplicates by X-FlowPilot-Delivery

    def deliver(self, item: Outbound, now: datetime) -> Delivered:
        resp = self._post(payload(item, now), item.ref)
        code = resp.status_code
        if code >= 400:
            raise PsaError(f"the webhook answered {code}", status=code,
                           retryable=code == 429 or code >= 500, uncertain=code >= 500)
        return Delivered(item.ref, f"webhook {code}")
