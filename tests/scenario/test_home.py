"""App Home: my open sessions, escalations waiting for someone (Take over works from there),
my team's stale sessions, for admins drafts and settings, my week; within 100 blocks."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from test_stats import ADMIN, T0, TECH_A, TECH_B, _seed, _team, _user, app

from bot import ids
from bot.sandbox.signing import block_action_body
from storage.db import unit_of_work
from storage.models import AISession, DraftTemplate
from storage.settings_store import set_settings

__all__ = ["app"]  # fixture


def _home(app: Any, user: str) -> dict[str, Any]:
    app.slack.clear()
    app.event({"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home",
               "event_ts": app.slack.next_ts()})
    app.settle()
    [call] = app.slack.calls("views.publish")
    assert call.body["user_id"] == user
    view = call.body["view"]
    return json.loads(view) if isinstance(view, str) else view  # type: ignore[no-any-return]


def _text(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def _take_over_buttons(view: dict[str, Any]) -> list[str]:
    return [b["accessory"]["value"] for b in view["blocks"]
            if (b.get("accessory") or {}).get("action_id", "").startswith(ids.TAKE_OVER)]


def _world(app: Any) -> dict[str, Any]:
    team = _team(app, "Service desk")
    _user(app, ADMIN, admin=True)
    _user(app, TECH_A, team=team)
    _user(app, TECH_B, team=team)
    quiet = T0 - timedelta(hours=3)
    return {
        "mine": _seed(app, TECH_A, problem_summary="Printer offline on floor 2",
                      created_at=T0 - timedelta(minutes=5), last_activity_at=T0, team_id=team),
        "waiting": _seed(app, TECH_B, status="escalated", problem_summary="VPN drops hourly",
                         status_changed_at=T0 - timedelta(hours=2), team_id=team),
        "stale": _seed(app, TECH_B, problem_summary="Teams crashes at start",
                       created_at=quiet, last_activity_at=quiet, team_id=team),
        "other_team": _seed(app, ADMIN, problem_summary="Not my team", created_at=quiet,
                            last_activity_at=quiet),
    }


def test_a_technicians_home(app: Any) -> None:
    w = _world(app)
    view = _home(app, TECH_A)
    text = _text(view)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    assert "Your open sessions" in text and "Printer offline on floor 2" in text
    assert "Escalations waiting for someone (1)" in text and "VPN drops hourly" in text
    assert "waiting 2h 00m" in text
    assert _take_over_buttons(view) == [str(w["waiting"])]
    assert "Stale in Service desk (1)" in text and "Teams crashes at start" in text
    assert "Not my team" not in text
    assert "Your week" in text and "1 opened · 0 resolved" in text
    assert "Workspace settings" not in text  # admins only


def test_an_admins_home_has_drafts_and_settings(app: Any) -> None:
    w = _world(app)
    with unit_of_work(app.svc.factory) as db:
        s = db.get(AISession, w["mine"])
        assert s is not None
        set_settings(db, s.account_id, {"digest_channel": "CDIGEST", "digest_hour": 8,
                                        "escalation_channel": "CESC"})
        db.add(DraftTemplate(account_id=s.account_id, session_id=s.id, title="Unlock account",
                             body="Unlock-ADAccount", status="pending"))
    text = _text(_home(app, ADMIN))
    assert "Drafts to review (1)" in text and "Unlock account" in text
    assert "Workspace settings" in text and "<#CDIGEST> at 8:00" in text and "<#CESC>" in text


def test_take_over_from_app_home_and_the_home_is_redrawn(app: Any) -> None:
    w = _world(app)
    _home(app, TECH_A)
    body, ctype = block_action_body("T0001", TECH_A, "", "", ids.TAKE_OVER, str(w["waiting"]))
    payload = json.loads(parse_qs(body)["payload"][0])
    payload.pop("channel"), payload.pop("message")
    payload["container"] = {"type": "view", "view_id": "VHOME"}
    payload["view"] = {"id": "VHOME", "type": "home"}
    app.slack.clear()
    status, _ = app.send(urlencode({"payload": json.dumps(payload)}), ctype)
    assert status == 200
    app.settle()
    with unit_of_work(app.svc.factory) as db:
        s = db.get(AISession, w["waiting"])
        assert s is not None and s.status == "active"
    [call] = app.slack.calls("views.publish")
    view = call.body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert _take_over_buttons(view) == [] and "Escalations waiting" not in _text(view)


def test_a_busy_workspace_stays_within_slacks_100_blocks(app: Any) -> None:
    _user(app, ADMIN, admin=True)
    for n in range(60):
        _seed(app, TECH_B, status="escalated", problem_summary=f"Escalation {n}",
              created_at=T0 - timedelta(minutes=n + 1))
        _seed(app, ADMIN, problem_summary=f"Mine {n} " + "x" * 300,
              created_at=T0 - timedelta(minutes=n + 1))
    view = _home(app, ADMIN)
    assert len(view["blocks"]) <= 100
    assert "Escalations waiting for someone (60)" in _text(view)
    assert "and 52 more" in _text(view)


def test_an_empty_workspace_home(app: Any) -> None:
    text = _text(_home(app, TECH_A))
    assert "You have no open sessions" in text and "Escalations waiting" not in text
    assert "Your week" in text and "0 opened · 0 resolved" in text
