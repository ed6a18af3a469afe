"""Every model survives a write in one session and a read in a fresh one, on both backends:
tz-aware UTC datetimes, uuid.UUID ids, JSON (nested, unicode) unchanged, relationships loaded
in order, and deleting a session takes its parts with it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.db import Base
from storage.models import (
    Account,
    AccountSettings,
    AISession,
    AISessionStep,
    DraftTemplate,
    ForkPoint,
    InboundEvent,
    KnowledgeEntry,
    PsaConnection,
    ScriptTemplate,
    SeenBeforeOffer,
    SessionBranch,
    SessionFact,
    SessionHandoff,
    SessionResolutionOutput,
    SessionSuggestedFix,
    Team,
    Tree,
    User,
)

IST = timezone(timedelta(hours=5, minutes=30))
T0 = datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
UNICODE = "Prüfung ✓ — 日本語 «quotes» 'apos' \"dq\" \\ back\\slash 🚀"
NESTED: dict[str, Any] = {
    "text": UNICODE,
    "numbers": [0, -1, 2.5, 10**12],
    "flags": {"on": True, "off": False, "nothing": None},
    "deep": {"a": {"b": {"c": [{"d": "é"}, [], {}]}}},
    "empty_string": "",
}


def _at(minutes: int, tz: timezone = UTC) -> datetime:
    """A distinct instant, optionally expressed in another zone (it must come back as UTC)."""
    return (T0 + timedelta(minutes=minutes)).astimezone(tz)


def _columns(model: type[Base]) -> set[str]:
    return {attr.key for attr in model.__mapper__.column_attrs}


def _assert_row(db: Session, model: type[Base], values: dict[str, Any]) -> None:
    row = db.get(model, values["id"])
    assert row is not None, f"{model.__name__} {values['id']} was not stored"
    got = {key: getattr(row, key) for key in values}
    assert got == values, model.__name__
    for key, value in got.items():
        if isinstance(value, datetime):
            assert value.utcoffset() == timedelta(0), f"{model.__name__}.{key} not UTC: {value!r}"
            assert value.tzinfo is not None
        if isinstance(values[key], uuid.UUID):
            assert isinstance(value, uuid.UUID), f"{model.__name__}.{key}: {value!r}"


def _world() -> list[tuple[type[Base], dict[str, Any]]]:
    """One workspace with a fully-populated escalated session and every companion row.
    Each dict names every column of its model (checked below), in insert order."""
    ids = {name: uuid.uuid4() for name in (
        "account", "team", "owner", "engineer", "psa", "builtin", "flow", "session",
        "step0", "step1", "step2", "fact", "fix_a", "fix_b", "handoff", "fork", "branch_root",
        "branch_child", "out_note", "out_pkg", "event", "draft", "script",
    )}
    # The parent branch sorts first, as the ORM orders its DELETEs by primary key: deleting it
    # cascades to the child in the database before the ORM reaches the child's row.
    ids["branch_root"], ids["branch_child"] = sorted((ids["branch_root"], ids["branch_child"]))
    account = {
        "id": ids["account"], "name": "Acme MSP ✓", "slack_team_id": "T0ACME",
        "slack_enterprise_id": "E0ACME", "is_active": True, "uninstalled_at": _at(1, IST),
        "total_input_tokens": 3_000_000_000, "total_output_tokens": 7,
        "total_cache_read_tokens": 11, "total_cache_write_tokens": 13,
        "created_at": _at(0), "updated_at": _at(2, IST),
    }
    team = {
        "id": ids["team"], "account_id": ids["account"], "name": "Tier 3 — Escalations",
        "slack_usergroup_id": "S0TIER3", "routing": "round_robin", "next_member": 2,
        "created_at": _at(3),
    }
    owner = {
        "id": ids["owner"], "account_id": ids["account"], "team_id": None,
        "slack_user_id": "U0OWNER", "display_name": "Zoë Técnico", "tz": "Europe/Berlin",
        "is_admin": False, "created_at": _at(4), "updated_at": _at(5),
    }
    engineer = {
        "id": ids["engineer"], "account_id": ids["account"], "team_id": ids["team"],
        "slack_user_id": "U0ENG", "display_name": "Ана Инженер", "tz": "Asia/Kolkata",
        "is_admin": True, "created_at": _at(6, IST), "updated_at": _at(7, IST),
    }
    settings = {
        "account_id": ids["account"],
        "settings": {"escalation_channel": "C0ESC", "timings": {"nudge": 30}, "note": UNICODE},
        "updated_at": _at(8),
    }
    psa = {
        "id": ids["psa"], "account_id": ids["account"], "kind": "connectwise",
        "name": "ConnectWise (prod)", "config": {"site": "eu.myconnectwise.net", "board": [1, 2]},
        "credentials_encrypted": "gAAAAABk…ciphertext", "is_active": True,
        "created_at": _at(9), "updated_at": _at(10),
    }
    builtin = {
        "id": ids["builtin"], "account_id": None, "flow_key": "printer_offline",
        "title": "Printer offline", "domain": "printing", "source": "builtin",
        "definition": {"start": "q1", "nodes": {"q1": {"question": "Ping?", "options": {}}}},
        "yaml_text": "id: printer_offline\n", "created_at": _at(11), "updated_at": _at(12),
    }
    flow = {
        "id": ids["flow"], "account_id": ids["account"], "flow_key": "printer_offline",
        "title": "Printer offline (Acme)", "domain": "printing", "source": "workspace",
        "definition": NESTED, "yaml_text": None, "created_at": _at(13), "updated_at": _at(14),
    }
    session = {
        "id": ids["session"], "user_id": ids["owner"], "account_id": ids["account"],
        "team_id": ids["team"], "session_type": "guided", "title": "Outlook keeps prompting ✉",
        "intake_type": "combined", "intake_content": NESTED,
        "problem_summary": "Outlook prompts for credentials after MFA change",
        "problem_domain": "m365", "status": "escalated", "confidence_tier": "guided",
        "confidence_score": 0.875, "matched_flow_id": ids["flow"], "match_score": 0.5,
        "psa_ticket_id": "CW-123456", "psa_connection_id": ids["psa"],
        "ticket_data": {"summary": UNICODE, "contacts": [{"name": "Zoë", "phone": None}]},
        "resolution_summary": "n/a", "resolution_action": "none yet",
        "escalation_reason": "Needs tenant admin — “conditional access”",
        "escalation_package": {"tried": ["cleared creds"], "known": {"os": "Win 11"}},
        "escalated_to_id": ids["engineer"], "session_rating": 4,
        "session_feedback": "très bien 👍", "analysis_status": "completed",
        "total_input_tokens": 12345, "total_output_tokens": 678, "step_count": 3,
        "created_at": _at(20), "updated_at": _at(21, IST), "resolved_at": _at(22, IST),
        "system_prompt_snapshot": "You are FlowPilot…",
        "conversation_messages": [
            {"role": "user", "content": UNICODE},
            {"role": "assistant", "content": [{"type": "tool_use", "input": NESTED}]},
        ],
        "pending_task_lane": {"items": [{"id": "lane-1", "kind": "action", "done": False}]},
        "resolution_note_markdown": "**Resolved** — see _steps_",
        "resolution_note_posted_at": _at(23), "resolution_note_external_id": "note-1",
        "escalation_package_markdown": "# Package\n- tried X", "escalation_package_posted_at":
        _at(24), "escalation_package_external_id": "note-2", "is_branching": True,
        "active_branch_id": ids["branch_child"], "handoff_count": 1,
        "total_active_seconds": 3600, "total_parked_seconds": 120,
        "slack_channel_id": "C0HELP", "slack_thread_ts": "1700000000.000100",
        "root_message_ts": "1700000000.000200", "participants": ["U0OWNER", "U0ENG"],
        "engine": "claude", "engine_state": {"cache": {"prefix_hash": "abc"}, "turn": 3},
        "flow_key": "printer_offline", "total_cache_read_tokens": 9000,
        "total_cache_write_tokens": 1000, "last_turn_error": "timeout ⏱",
        "turn_lease_until": _at(25), "turn_lease_holder": "host|boot|42|1", "status_changed_at": _at(26),
        "last_activity_at": _at(27), "last_human_activity_at": _at(28), "ended_at": _at(29),
        "next_nudge_at": _at(30), "snoozed_until": _at(31), "nudge_count": 2,
        "last_nudged_at": _at(32), "escalation_urgency": "high",
        "escalation_channel_id": "C0ESC", "escalation_message_ts": "1700000001.000300",
        "escalation_requested_by_id": ids["owner"], "escalation_post_attempts": 1,
        "escalation_post_next_at": _at(33), "escalation_deadline_at": _at(34),
        "escalation_reping_count": 1, "escalation_team_id": ids["team"],
        "job_lease_until": _at(35),
        "analysis_error": "none",
    }
    steps = [
        {
            "id": ids[f"step{n}"], "session_id": ids["session"], "step_order": n,
            "step_type": ("intake", "ai_turn", "handoff")[n],
            "actor_user_id": ids["owner"] if n != 1 else None,
            "content": {"n": n, "text": UNICODE, "blocks": [{"type": "section"}]},
            "slack_ts": f"1700000000.00010{n}", "input_tokens": 100 * n, "output_tokens": n,
            "created_at": _at(40 + n),
        }
        # Inserted out of order: the relationship must still come back ordered.
        for n in (2, 0, 1)
    ]
    fact = {
        "id": ids["fact"], "session_id": ids["session"], "text": "Printer is on VLAN 20",
        "source": "action", "source_type": "lane_item",
        # Polymorphic pointer into pending_task_lane: a plain string, not a foreign key.
        "source_ref": "lane-1", "is_active": True, "created_by_id": ids["owner"],
        "created_at": _at(50),
    }
    fix_a = {
        "id": ids["fix_a"], "session_id": ids["session"], "position": 0,
        "title": "Clear cached credentials", "steps": ["Open Credential Manager", "Remove"],
        "rationale": "Stale token", "verify": "No prompt", "confidence": 0.4, "risk": "low",
        "node_id": "fix1", "user_decision": "superseded", "decided_by_id": ids["owner"],
        "decided_at": _at(51), "supersedes_id": None, "superseded_by_id": ids["fix_b"],
        "slack_message_ts": "1700000002.000100", "created_at": _at(52), "updated_at": _at(53),
    }
    fix_b = {
        "id": ids["fix_b"], "session_id": ids["session"], "position": 1,
        "title": "Reset MFA registration", "steps": [{"text": "Revoke sessions", "cmd": None}],
        "rationale": "Token bound to old method", "verify": "", "confidence": 0.9,
        "risk": "medium", "node_id": None, "user_decision": "pending", "decided_by_id": None,
        "decided_at": None, "supersedes_id": ids["fix_a"], "superseded_by_id": None,
        "slack_message_ts": None, "created_at": _at(54), "updated_at": _at(55),
    }
    handoff = {
        "id": ids["handoff"], "session_id": ids["session"], "from_user_id": ids["owner"],
        "to_user_id": ids["engineer"], "kind": "take_over", "reason": "Übernahme",
        "created_at": _at(56),
    }
    fork = {
        "id": ids["fork"], "session_id": ids["session"], "step_id": ids["step1"],
        "label": "Two hypotheses", "created_at": _at(57),
    }
    branch_root = {
        "id": ids["branch_root"], "session_id": ids["session"], "fork_point_id": ids["fork"],
        "parent_branch_id": None, "name": "DNS", "branch_order": 0, "is_active": False,
        "created_at": _at(58),
    }
    branch_child = {
        "id": ids["branch_child"], "session_id": ids["session"], "fork_point_id": ids["fork"],
        "parent_branch_id": ids["branch_root"], "name": "DHCP", "branch_order": 1,
        "is_active": True, "created_at": _at(59),
    }
    out_note = {
        "id": ids["out_note"], "session_id": ids["session"], "output_type": "resolution_note",
        "target": "slack", "content_markdown": "*Note* ✓", "content": {"sections": ["a"]},
        "status": "posted", "external_id": "1700000003.000100", "attempts": 1,
        "last_error": None, "posted_at": _at(60), "next_attempt_at": _at(59),
        "created_at": _at(61), "updated_at": _at(62),
    }
    out_pkg = {
        "id": ids["out_pkg"], "session_id": ids["session"], "output_type": "escalation_package",
        "target": "psa", "content_markdown": "# Pkg", "content": NESTED, "status": "failed",
        "external_id": None, "attempts": 3, "last_error": "HTTP 503", "posted_at": None,
        "next_attempt_at": None, "created_at": _at(63), "updated_at": _at(64),
    }
    event = {
        "id": ids["event"], "delivery_key": "C0HELP:1700000000.000300", "kind": "message",
        "slack_team_id": "T0ACME", "session_id": ids["session"],
        "payload": {"event": {"text": UNICODE, "files": []}}, "status": "done", "attempts": 1,
        "lease_until": _at(65), "lease_holder": "host|boot|42|1", "error": None, "received_at": _at(66), "processed_at": _at(67),
    }
    script = {
        "id": ids["script"], "account_id": ids["account"], "title": "Reset MFA",
        "description": "Revokes sessions — safe", "language": "powershell",
        "body": "Revoke-MgUserSignInSession -UserId $UserId",
        "parameters": [{"name": "UserId", "required": True}],
        # Provenance: the session, the technician and the PSA ticket the draft came from.
        "source_session_id": ids["session"], "source_user_id": ids["owner"],
        "source_ticket_ref": "CW-123456", "use_count": 3, "last_used_at": _at(72),
        "created_at": _at(70), "updated_at": _at(71),
    }
    draft = {
        "id": ids["draft"], "account_id": ids["account"], "session_id": ids["session"],
        "title": "Reset MFA", "description": "Revokes sessions — safe",
        "language": "powershell", "body": "Revoke-MgUserSignInSession -UserId $UserId",
        "parameters": [{"name": "UserId", "required": True}], "status": "promoted",
        "promoted_template_id": ids["script"], "reviewed_by_id": ids["engineer"],
        "reviewed_at": _at(73), "review_note": None, "origin": "steps",
        "created_at": _at(68), "updated_at": _at(69),
    }
    entry = {
        "id": 7, "account_id": ids["account"], "session_id": ids["session"],
        "problem": UNICODE, "facts": "Outlook 2021 ✓", "fix_title": "Reset MFA",
        "fix_steps": ["Revoke sessions", "Re-register"], "note": "# Note ✓", "domain": "m365",
        "resolved_by_slack_id": "U0OWNER", "resolved_at": _at(74), "channel_id": "C0HELP",
        "thread_ts": "1700000000.000100",
    }
    offer = {
        "id": uuid.uuid4(), "session_id": ids["session"], "entry_id": 7, "rank": 1,
        "message_ts": "1700000009.000100", "added_fix_id": ids["fix_a"], "created_at": _at(75),
    }
    return [
        (Account, account), (Team, team), (User, owner), (User, engineer),
        (AccountSettings, settings), (PsaConnection, psa), (Tree, builtin), (Tree, flow),
        (AISession, session), *[(AISessionStep, s) for s in steps], (SessionFact, fact),
        (SessionSuggestedFix, fix_a), (SessionSuggestedFix, fix_b), (SessionHandoff, handoff),
        (ForkPoint, fork), (SessionBranch, branch_root), (SessionBranch, branch_child),
        (SessionResolutionOutput, out_note), (SessionResolutionOutput, out_pkg),
        (InboundEvent, event), (ScriptTemplate, script), (DraftTemplate, draft),
        (KnowledgeEntry, entry), (SeenBeforeOffer, offer),
    ]


def _write(factory: sessionmaker[Session], rows: list[tuple[type[Base], dict[str, Any]]]) -> None:
    with factory() as db:
        for model, values in rows:
            db.add(model(**dict(values)))
            # Flush row by row: self-references (fix supersedes fix, branch parent) and the
            # draft → script pointer need their target in the table first.
            db.flush()
        db.commit()


def test_every_model_writes_every_column(factory: sessionmaker[Session]) -> None:
    rows = _world()
    for model, values in rows:
        expected = _columns(model) - ({"state_version"} if model is AISession else set())
        assert set(values) == expected, f"{model.__name__}: fill every column"
    _write(factory, rows)
    with factory() as db:
        for model, values in rows:
            if model is AccountSettings:
                got = db.get(AccountSettings, values["account_id"])
                assert got is not None
                assert {"settings": got.settings, "updated_at": got.updated_at} == {
                    "settings": values["settings"], "updated_at": values["updated_at"]
                }
                assert got.updated_at.tzinfo is not None
                continue
            _assert_row(db, model, values)


def test_datetimes_come_back_as_the_same_instant_in_utc(factory: sessionmaker[Session]) -> None:
    rows = _world()
    _write(factory, rows)
    sent = dict(rows)[Account]["uninstalled_at"]
    assert sent.utcoffset() == timedelta(hours=5, minutes=30)
    with factory() as db:
        account = db.execute(select(Account)).scalar_one()
    assert account.uninstalled_at == sent
    assert account.uninstalled_at is not None
    assert account.uninstalled_at.tzinfo == UTC
    # 09:27:53 UTC was sent as 14:57:53+05:30.
    assert (account.uninstalled_at.hour, account.uninstalled_at.minute) == (9, 27)
    assert (sent.hour, sent.minute) == (14, 57)


def test_relationships_load_in_order(factory: sessionmaker[Session]) -> None:
    rows = _world()
    _write(factory, rows)
    session_id = dict(rows)[AISession]["id"]
    with factory() as db:
        s = db.get(AISession, session_id)
        assert s is not None
        assert [step.step_order for step in s.steps] == [0, 1, 2]
        assert [step.step_type for step in s.steps] == ["intake", "ai_turn", "handoff"]
        assert [fix.title for fix in s.fixes] == [
            "Clear cached credentials", "Reset MFA registration"
        ]
        assert s.fixes[1].supersedes_id == s.fixes[0].id
        assert s.fixes[0].superseded_by_id == s.fixes[1].id
        assert [(f.text, f.source_ref) for f in s.facts] == [("Printer is on VLAN 20", "lane-1")]
        assert [(h.kind, h.to_user_id) for h in s.handoffs] == [("take_over", s.escalated_to_id)]
        assert sorted(o.output_type for o in s.resolution_outputs) == [
            "escalation_package", "resolution_note"
        ]
        assert [b.name for b in s.branches] == ["DNS", "DHCP"]
        assert s.branches[1].parent_branch_id == s.branches[0].id
        assert s.user.slack_user_id == "U0OWNER"
        assert s.escalated_to is not None and s.escalated_to.slack_user_id == "U0ENG"
        assert s.team is not None and s.team.name == "Tier 3 — Escalations"
        assert s.account.slack_team_id == "T0ACME"
        assert s.matched_flow is not None and s.matched_flow.source == "workspace"
        assert s.psa_connection is not None and s.psa_connection.kind == "connectwise"
        assert all(step.session is s for step in s.steps)


def test_builtin_and_workspace_flows_share_a_key(factory: sessionmaker[Session]) -> None:
    _write(factory, _world())
    with factory() as db:
        trees = db.execute(
            select(Tree.account_id, Tree.source).where(Tree.flow_key == "printer_offline")
        ).all()
    assert sorted((a is None, src) for a, src in trees) == [(False, "workspace"), (True, "builtin")]


def test_draft_promoted_to_script_keeps_provenance(factory: sessionmaker[Session]) -> None:
    rows = _world()
    by_model = dict(rows)
    session_id = by_model[AISession]["id"]
    owner_id, engineer_id = (v["id"] for m, v in rows if m is User)
    # Write the world without its templates, then promote a pending draft in later sessions.
    base = [(m, v) for m, v in rows if m not in (DraftTemplate, ScriptTemplate)]
    _write(factory, base)
    account_id = by_model[Account]["id"]
    with factory() as db:
        new_draft = DraftTemplate(
            account_id=account_id, session_id=session_id, title="Flush DNS ✓",
            language="powershell", body="ipconfig /flushdns", parameters=[],
        )
        db.add(new_draft)
        db.commit()
        draft_id = new_draft.id
    with factory() as db:
        draft = db.get(DraftTemplate, draft_id)
        assert draft is not None and draft.status == "pending"
        script = ScriptTemplate(
            account_id=account_id, title=draft.title, description=draft.description,
            language=draft.language, body=draft.body, parameters=draft.parameters,
            source_session_id=draft.session_id, source_user_id=owner_id,
            source_ticket_ref="CW-123456",
        )
        db.add(script)
        db.flush()
        draft.status, draft.promoted_template_id = "promoted", script.id
        draft.reviewed_by_id = engineer_id
        db.commit()
    with factory() as db:
        promoted = db.get(DraftTemplate, draft_id)
        assert promoted is not None and promoted.status == "promoted"
        assert promoted.reviewed_by_id == engineer_id
        stored = db.get(ScriptTemplate, promoted.promoted_template_id)
        assert stored is not None
        assert (stored.title, stored.body, stored.language) == (
            "Flush DNS ✓", "ipconfig /flushdns", "powershell"
        )
        assert (stored.source_session_id, stored.source_user_id, stored.source_ticket_ref) == (
            session_id, owner_id, "CW-123456"
        )
        assert isinstance(stored.source_session_id, uuid.UUID)


def _children(db: Session, session_id: uuid.UUID) -> dict[str, int]:
    counts = {}
    for model in (
        AISessionStep, SessionFact, SessionSuggestedFix, SessionHandoff, SessionBranch,
        ForkPoint, SessionResolutionOutput, InboundEvent,
    ):
        counts[model.__name__] = db.execute(
            select(func.count()).select_from(model).where(model.session_id == session_id)
        ).scalar_one()
    return counts


def _assert_session_gone(factory: sessionmaker[Session], rows: list[Any]) -> None:
    by_model = dict(rows)
    session_id = by_model[AISession]["id"]
    with factory() as db:
        assert db.get(AISession, session_id) is None
        assert set(_children(db, session_id).values()) == {0}
        # Knowledge outlives the session: the provenance pointers are cleared, not the rows.
        script = db.get(ScriptTemplate, by_model[ScriptTemplate]["id"])
        draft = db.get(DraftTemplate, by_model[DraftTemplate]["id"])
        assert script is not None and script.source_session_id is None
        assert script.source_ticket_ref == "CW-123456"
        assert draft is not None and draft.session_id is None
        assert db.execute(select(func.count()).select_from(User)).scalar_one() == 2


@pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")
def test_deleting_a_session_through_the_orm_cascades(factory: sessionmaker[Session]) -> None:
    rows = _world()
    _write(factory, rows)
    session_id = dict(rows)[AISession]["id"]
    with factory() as db:
        before = _children(db, session_id)
        assert all(count > 0 for count in before.values()), before
        assert before["AISessionStep"] == 3 and before["SessionSuggestedFix"] == 2
        s = db.get(AISession, session_id)
        assert s is not None
        db.delete(s)
        db.commit()
    _assert_session_gone(factory, rows)


def test_deleting_a_session_row_cascades_in_the_database(factory: sessionmaker[Session]) -> None:
    # A plain DELETE (no ORM cascade) relies on the schema's ON DELETE rules.
    rows = _world()
    _write(factory, rows)
    with factory() as db:
        db.execute(delete(AISession).where(AISession.id == dict(rows)[AISession]["id"]))
        db.commit()
    _assert_session_gone(factory, rows)


def test_slack_installation_store_round_trip(engine: Engine) -> None:
    store = SQLAlchemyInstallationStore(client_id="111.222", engine=engine)
    installed = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    store.save(
        Installation(
            app_id="A0APP", team_id="T0ACME", team_name="Acme ✓", bot_token="xoxb-1-secret",
            bot_id="B0BOT", bot_user_id="U0BOT", bot_scopes=["chat:write", "commands"],
            user_id="U0INSTALLER", user_token="xoxp-1", user_scopes=["search:read"],
            installed_at=installed.timestamp(),
        )
    )
    # A later re-install of the same workspace: find_bot returns the newest.
    store.save(
        Installation(
            app_id="A0APP", team_id="T0ACME", team_name="Acme ✓", bot_token="xoxb-2-secret",
            bot_id="B0BOT", bot_user_id="U0BOT",
            bot_scopes=["chat:write", "commands", "users:read"], user_id="U0INSTALLER",
            installed_at=(installed + timedelta(days=1)).timestamp(),
        )
    )
    bot = store.find_bot(enterprise_id=None, team_id="T0ACME")
    assert bot is not None
    assert (bot.bot_token, bot.bot_id, bot.bot_user_id, bot.team_name) == (
        "xoxb-2-secret", "B0BOT", "U0BOT", "Acme ✓"
    )
    assert list(bot.bot_scopes) == ["chat:write", "commands", "users:read"]
    assert store.find_bot(enterprise_id=None, team_id="T0OTHER") is None
    found = store.find_installation(enterprise_id=None, team_id="T0ACME", user_id="U0INSTALLER")
    assert found is not None and found.bot_token == "xoxb-2-secret"
    with engine.connect() as conn:
        assert conn.execute(
            select(func.count()).select_from(Base.metadata.tables["slack_bots"])
        ).scalar_one() == 2
        assert conn.execute(
            select(func.count()).select_from(Base.metadata.tables["slack_installations"])
        ).scalar_one() == 2
