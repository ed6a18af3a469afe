"""A workspace's PSA connections (``psa_connections``): saved with their secrets encrypted
(``bot.crypto.SecretBox``), turned back into a ``PsaTarget`` when something must be sent.

A workspace has at most one active ConnectWise connection (tickets in, notes and time out)
and at most one active webhook (the same outputs as signed JSON). Per-workspace output
settings live in the connection's ``config``: ``note_flag`` (resolution | internal |
discussion), ``round_minutes``, ``billable``, ``work_type``, ``resolved_status``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.crypto import SecretBox
from bot.errors import ConfigError, PsaError
from bot.psa.base import PsaTarget
from bot.psa.connectwise import ConnectWise, base_url
from bot.psa.webhook import Webhook
from storage.models import Account, PsaConnection

NOTE_FLAGS = ("resolution", "internal", "discussion")
DEFAULTS: dict[str, Any] = {"note_flag": "resolution", "round_minutes": 15, "billable": True,
                            "work_type": None, "resolved_status": None}
NO_KEY = ("FLOWPILOT_SECRET_KEY is not set, so PSA secrets cannot be stored encrypted "
          "(make one with `flowpilot secrets new-key`).")


def require_box(key: str | None) -> SecretBox:
    if not key:
        raise ConfigError(NO_KEY)
    return SecretBox(key)


@dataclass(frozen=True)
class CwDetails:
    """What `psa connect` and the admin modal collect."""

    site: str
    company: str
    public_key: str
    private_key: str
    client_id: str
    options: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        for name in ("site", "company", "public_key", "private_key", "client_id"):
            if not str(getattr(self, name)).strip():
                raise PsaError(f"The {name.replace('_', ' ')} is empty.")
        base_url(self.site)
        flag = self.options.get("note_flag")
        if flag is not None and flag not in NOTE_FLAGS:
            raise PsaError(f"The note flag must be one of {', '.join(NOTE_FLAGS)}.")
        rnd = self.options.get("round_minutes")
        if rnd is not None and not (1 <= int(rnd) <= 240):
            raise PsaError("Round time to between 1 and 240 minutes.")

    def client(self, timeout: float = 10.0) -> ConnectWise:
        return ConnectWise(site=self.site, company=self.company, public_key=self.public_key,
                           private_key=self.private_key, client_id=self.client_id,
                           timeout=timeout)


def _active(db: Session, account_id: Any, kind: str) -> PsaConnection | None:
    return db.execute(
        select(PsaConnection).where(PsaConnection.account_id == account_id,
                                    PsaConnection.kind == kind,
                                    PsaConnection.is_active.is_(True))
        .order_by(PsaConnection.created_at.desc())
    ).scalars().first()


def _upsert(db: Session, account: Account, kind: str, name: str, config: dict[str, Any],
            secret: str) -> PsaConnection:
    row = _active(db, account.id, kind)
    if row is None:
        row = PsaConnection(account_id=account.id, kind=kind, is_active=True)
        db.add(row)
    row.name, row.config, row.credentials_encrypted = name, config, secret
    return row


def save_connectwise(db: Session, box: SecretBox, account: Account,
                     d: CwDetails) -> PsaConnection:
    """Store (replace) the workspace's ConnectWise connection. Call after ``validate`` and
    one successful API call."""
    old = _active(db, account.id, "connectwise")
    options = {**DEFAULTS, **((old.config or {}).get("options", {}) if old else {}),
               **{k: v for k, v in d.options.items() if v is not None}}
    config = {"site": d.site.strip(), "company": d.company.strip(),
              "public_key": d.public_key.strip(), "options": options}
    # The clientId is kept secret too (developer.connectwise.com/ClientID: "never share it").
    secret = box.encrypt(json.dumps({"private_key": d.private_key, "client_id": d.client_id}))
    return _upsert(db, account, "connectwise", f"ConnectWise {d.site.strip()}", config, secret)


def save_webhook(db: Session, box: SecretBox, account: Account, url: str,
                 secret: str) -> PsaConnection:
    Webhook(url=url, secret=secret).close()  # refuses a malformed URL
    if len(secret) < 16:
        raise PsaError("The webhook secret must be at least 16 characters.")
    return _upsert(db, account, "webhook", "Webhook", {"url": url},
                   box.encrypt(json.dumps({"secret": secret})))


def options(row: PsaConnection | None) -> dict[str, Any]:
    return {**DEFAULTS, **((row.config or {}).get("options", {}) if row else {})}


def connectwise(db: Session, account_id: Any) -> PsaConnection | None:
    return _active(db, account_id, "connectwise")


def webhook(db: Session, account_id: Any) -> PsaConnection | None:
    return _active(db, account_id, "webhook")


def target(row: PsaConnection, box: SecretBox | None, timeout: float = 10.0) -> PsaTarget:
    """The client for a stored connection (secrets decrypted only here, never logged)."""
    if box is None:
        raise ConfigError(NO_KEY)
    secrets = json.loads(box.decrypt(row.credentials_encrypted or ""))
    cfg = row.config or {}
    timeout = float(options(row).get("timeout_seconds") or timeout)
    if row.kind == "webhook":
        return Webhook(url=str(cfg["url"]), secret=str(secrets["secret"]), timeout=timeout)
    return ConnectWise(site=str(cfg["site"]), company=str(cfg["company"]),
                       public_key=str(cfg["public_key"]), private_key=str(secrets["private_key"]),
                       client_id=str(secrets["client_id"]), timeout=timeout)


def describe(row: PsaConnection) -> str:
    """One line about a connection, no secret in it: its name, where it points, its options
    and when it was last saved (so an admin can tell a stale connection from a fresh one)."""
    cfg = row.config or {}
    saved = f", saved {row.updated_at:%Y-%m-%d}" if row.updated_at is not None else ""
    if row.kind == "webhook":
        return f"webhook {cfg.get('url', '?')}" + (f" ({saved[2:]})" if saved else "")
    opts = options(row)
    name = row.name or f"ConnectWise {cfg.get('site', '?')}"
    return (f"{name} company {cfg.get('company', '?')} "
            f"(notes: {opts['note_flag']}, time rounded to {opts['round_minutes']} min{saved})")
