"""The PSA in `flowpilot try`: a ConnectWise stand-in with seeded tickets (1001 open, 1002
closed), connected to the sandbox workspace, and `:psa` to see what reached it."""

from __future__ import annotations

import json
from typing import Any

from bot.crypto import SecretBox
from bot.psa.connections import CwDetails, save_connectwise
from bot.sandbox.fake_psa import FakePsa
from bot.services.identity import ensure_account
from storage.db import unit_of_work


def connect_sandbox(fp: Any, psa: FakePsa, team_id: str, key: str) -> None:
    details = CwDetails(site=psa.url, company=psa.company, public_key=psa.public_key,
                        private_key=psa.private_key, client_id=psa.client_id,
                        options={"resolved_status": "Resolved"})
    with unit_of_work(fp.services.factory) as db:
        save_connectwise(db, SecretBox(key), ensure_account(db, team_id), details)


def psa_lines(psa: FakePsa | None) -> list[str]:
    """What reached the stand-in: every write, and a count of the reads."""
    if psa is None:
        return ["No PSA stand-in is running."]
    calls = psa.calls()
    reads = sum(1 for c in calls if c.method == "GET")
    lines = [f"ConnectWise stand-in at {psa.url}: {len(calls)} call(s), {reads} read(s)."]
    for c in calls:
        if c.method == "GET":
            continue
        body = c.body if isinstance(c.body, dict) else {"patch": c.body}
        shown = {k: v for k, v in body.items() if k in (
            "text", "resolutionFlag", "internalAnalysisFlag", "detailDescriptionFlag",
            "chargeToId", "member", "timeStart", "timeEnd", "billableOption", "notes", "patch")}
        text = json.dumps(shown, ensure_ascii=False)
        lines.append(f"  {c.method} {c.path} → {c.status}: {text[:400]}")
    if len(lines) == 1:
        lines.append("  nothing written yet (resolve or escalate a `/flowpilot ticket 1001`"
                     " session)")
    return lines
