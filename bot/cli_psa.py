"""``flowpilot psa connect|test|webhook`` and ``flowpilot secrets new-key|rotate``.

Secrets never come from arguments (they would sit in shell history and ``ps``): the private
key from ``FLOWPILOT_PSA_PRIVATE_KEY`` or standard input, the webhook secret from
``FLOWPILOT_PSA_WEBHOOK_SECRET``. Nothing secret is printed or logged.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from bot.config import Settings
from bot.errors import ConfigError, FlowPilotError, PsaError


def _settings() -> Settings:
    from bot.cli import cli_settings

    return cli_settings()


def _factory(settings: Settings) -> Any:
    from storage.db import make_engine, make_session_factory

    return make_session_factory(make_engine(settings.database_url))


def _key(settings: Settings) -> str | None:
    return settings.secret_key.get_secret_value() if settings.secret_key else None


def _private_key() -> str:
    value = os.environ.get("FLOWPILOT_PSA_PRIVATE_KEY", "")
    if not value and not sys.stdin.isatty():
        value = sys.stdin.readline()
    value = value.strip()
    if not value:
        raise ConfigError("No private key: set FLOWPILOT_PSA_PRIVATE_KEY or pipe it on stdin.")
    return value


def cmd_connect(args: argparse.Namespace) -> int:
    from bot.psa.connections import CwDetails, describe, require_box, save_connectwise
    from bot.services.identity import ensure_account
    from storage.db import unit_of_work

    settings = _settings()
    box = require_box(_key(settings))  # refuse before asking for anything secret
    details = CwDetails(
        site=args.site, company=args.company, public_key=args.public_key,
        private_key=_private_key(), client_id=args.client_id,
        options={"note_flag": args.note_flag, "round_minutes": args.round_minutes,
                 "billable": args.billable, "work_type": args.work_type,
                 "resolved_status": args.resolved_status},
    )
    details.validate()
    client = details.client()
    try:
        answered = client.check()  # one API call: the keys work before anything is stored
    finally:
        client.close()
    with unit_of_work(_factory(settings)) as db:
        row = save_connectwise(db, box, ensure_account(db, args.workspace), details)
        line = describe(row)
    print(f"connected {args.workspace}: {line} — {answered}")
    return 0


def cmd_webhook(args: argparse.Namespace) -> int:
    from bot.psa.connections import require_box, save_webhook
    from bot.services.identity import ensure_account
    from storage.db import unit_of_work

    settings = _settings()
    box = require_box(_key(settings))
    secret = os.environ.get("FLOWPILOT_PSA_WEBHOOK_SECRET", "").strip()
    if not secret:
        raise ConfigError("Set FLOWPILOT_PSA_WEBHOOK_SECRET (at least 16 characters).")
    with unit_of_work(_factory(settings)) as db:
        save_webhook(db, box, ensure_account(db, args.workspace), args.url, secret)
    print(f"webhook set for {args.workspace}: {args.url} (signed with X-FlowPilot-Signature)")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    settings = _settings()
    line, ok = test_line(settings, _factory(settings), args.workspace)
    print(line) if ok else print(line, file=sys.stderr)
    return 0 if ok else 1


def test_line(settings: Settings, factory: Any, team_id: str) -> tuple[str, bool]:
    """``psa test``: one line about the workspace's connections and whether they answer."""
    from sqlalchemy import select

    from bot.crypto import secret_box
    from bot.psa import connections as conn
    from storage.db import unit_of_work
    from storage.models import Account

    with unit_of_work(factory) as db:
        account = db.execute(select(Account).where(Account.slack_team_id == team_id)
                             ).scalar_one_or_none()
        rows = [r for r in (conn.connectwise(db, account.id), conn.webhook(db, account.id))
                if r is not None] if account else []
        found = [(conn.describe(r), r) for r in rows]
        for _, r in found:
            db.expunge(r)
    if not found:
        return f"psa: {team_id} has no PSA connected (`flowpilot psa connect`)", False
    box = secret_box(_key(settings))
    parts, ok = [], True
    for text, row in found:
        try:
            target = conn.target(row, box, timeout=5.0)
            parts.append(f"{text}: {target.check()}")
        except FlowPilotError as exc:
            ok = False
            parts.append(f"{text}: {exc.message}")
    return "psa: " + "; ".join(parts), ok


def doctor_line(settings: Settings) -> str:
    """For ``flowpilot doctor``: how many workspaces have a PSA, and whether a key is set."""
    from sqlalchemy import func, select

    from storage.db import make_engine, make_session_factory, unit_of_work
    from storage.models import PsaConnection

    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(make_session_factory(engine)) as db:
            n = db.execute(select(func.count(PsaConnection.id))
                           .where(PsaConnection.is_active.is_(True))).scalar_one()
    except Exception as exc:
        return f"psa: not checked ({exc.__class__.__name__})"
    finally:
        engine.dispose()
    if not n:
        return "psa: none connected (optional; `flowpilot psa connect`)"
    if not settings.secret_key:
        return f"psa: {n} connection(s) stored but FLOWPILOT_SECRET_KEY is not set"
    return f"psa: {n} connection(s); check one with `flowpilot psa test --workspace T…`"


def cmd_new_key(args: argparse.Namespace) -> int:
    from bot.crypto import generate_key

    print(generate_key())
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    from bot.psa.connections import require_box
    from bot.secrets_store import rotate_all

    settings = _settings()
    counts = rotate_all(_factory(settings), require_box(_key(settings)))
    total = sum(counts.values())
    print(f"re-encrypted {total} secret(s) with the first key: "
          + ", ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


def add_commands(sub: Any) -> None:
    psa = sub.add_parser("psa", help="connect a PSA (ConnectWise, or a signed webhook)")
    cmds = psa.add_subparsers(dest="psa_command", required=True)
    c = cmds.add_parser("connect", help="connect ConnectWise (private key from "
                        "FLOWPILOT_PSA_PRIVATE_KEY or stdin)")
    c.add_argument("--workspace", required=True, help="Slack team id (T…)")
    c.add_argument("--site", required=True, help="host (na.myconnectwise.net) or base URL")
    c.add_argument("--company", required=True)
    c.add_argument("--public-key", required=True)
    c.add_argument("--client-id", required=True)
    c.add_argument("--note-flag", choices=("resolution", "internal", "discussion"))
    c.add_argument("--round-minutes", type=int)
    c.add_argument("--billable", action=argparse.BooleanOptionalAction, default=None)
    c.add_argument("--work-type")
    c.add_argument("--resolved-status", help="set the ticket to this status on resolve")
    c.set_defaults(fn=cmd_connect)
    t = cmds.add_parser("test", help="check the workspace's PSA in one line")
    t.add_argument("--workspace", required=True)
    t.set_defaults(fn=cmd_test)
    w = cmds.add_parser("webhook", help="send outputs as signed JSON (secret from "
                        "FLOWPILOT_PSA_WEBHOOK_SECRET)")
    w.add_argument("--workspace", required=True)
    w.add_argument("--url", required=True)
    w.set_defaults(fn=cmd_webhook)
    sec = sub.add_parser("secrets", help="encryption keys for stored credentials")
    scmds = sec.add_subparsers(dest="secrets_command", required=True)
    scmds.add_parser("new-key", help="print a fresh FLOWPILOT_SECRET_KEY").set_defaults(
        fn=cmd_new_key)
    scmds.add_parser("rotate", help="re-encrypt every stored secret with the first key"
                     ).set_defaults(fn=cmd_rotate)


__all__ = ["PsaError", "add_commands", "doctor_line", "test_line"]
