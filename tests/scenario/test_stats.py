"""``/flowpilot stats``: the numbers match the database (computed here from the rows this test
made, independently of the service's SQL), the chart is a real PNG in the asker's DM, and bad
input gets one clear line. Runs on SQLite and PostgreSQL (FLOWPILOT_TEST_DB)."""

from __future__ import annotations

import io
import json
import random
import statistics
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import Engine, select

from bot.clock import FakeClock
from bot.sandbox.fake_slack import FakeSlack
from bot.services.identity import ensure_account
from bot.services.stats import cost_usd, model_of
from storage.db import unit_of_work
from storage.models import AISession, AISessionStep, SessionHandoff, Team, Tree, User

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TEAM = "T0001"
ADMIN, TECH_A, TECH_B = "UADMIN", "UTECHA", "UTECHB"


@pytest.fixture()
def app(db_url: str, engine: Engine, fake_slack: FakeSlack) -> Iterator[Any]:
    from support import Harness

    h = Harness(db_url, fake_slack, clock=FakeClock(T0), workers=2)
    yield h
    h.close()


def _user(app: Any, slack_id: str, *, admin: bool = False, team: uuid.UUID | None = None
          ) -> uuid.UUID:
    with unit_of_work(app.svc.factory) as db:
        account = ensure_account(db, TEAM)
        found = db.execute(select(User).where(User.account_id == account.id,
                                              User.slack_user_id == slack_id)).scalar_one_or_none()
        if found is None:
            found = User(account_id=account.id, slack_user_id=slack_id, display_name=slack_id,
                         tz="UTC", is_admin=admin, team_id=team)
            db.add(found)
            db.flush()
        return found.id


def _team(app: Any, name: str) -> uuid.UUID:
    with unit_of_work(app.svc.factory) as db:
        team = Team(account_id=ensure_account(db, TEAM).id, name=name)
        db.add(team)
        db.flush()
        return team.id


def _seed(app: Any, owner: str, **cols: Any) -> uuid.UUID:
    owner_id = _user(app, owner)
    created = cols.pop("created_at", T0 - timedelta(days=1))
    values: dict[str, Any] = dict(
        status="active", problem_summary="Outlook keeps asking for a password",
        problem_domain="m365", slack_channel_id="C1",
        slack_thread_ts=f"{created.timestamp():.0f}.{uuid.uuid4().int % 10**6:06d}",
        participants=[owner], engine="offline",
        created_at=created, status_changed_at=created, last_activity_at=created)
    values.update(cols)
    with unit_of_work(app.svc.factory) as db:
        account = ensure_account(db, TEAM)
        s = AISession(user_id=owner_id, account_id=account.id, **values)
        db.add(s)
        db.flush()
        return s.id


def _respond_payloads(slack: FakeSlack) -> list[dict[str, Any]]:
    return [c.body for c in slack.calls("response_url")]


def _stats(app: Any, text: str, user: str) -> dict[str, Any]:
    app.slack.clear()
    status, _ = app.command(text, user=user)
    assert status == 200
    app.settle()
    [payload] = _respond_payloads(app.slack)
    assert payload.get("response_type") == "ephemeral"
    return payload


def _blocks_text(payload: dict[str, Any]) -> str:
    blocks = payload.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return json.dumps(blocks, ensure_ascii=False)


def _workload(app: Any) -> list[uuid.UUID]:
    """A random but reproducible mix of sessions for three people over ten days."""
    rng = random.Random(19)
    team = _team(app, "Service desk")
    with unit_of_work(app.svc.factory) as db:
        tree = Tree(flow_key="outlook", title="Outlook prompting for a password")
        db.add(tree)
        db.flush()
        tree_id = tree.id
    _user(app, ADMIN, admin=True)
    _user(app, TECH_A, team=team)
    _user(app, TECH_B)
    made = []
    for n in range(40):
        owner = rng.choice([TECH_A, TECH_A, TECH_B, ADMIN])
        status = rng.choice(["resolved", "resolved", "resolved", "abandoned", "escalated",
                             "active", "paused"])
        created = T0 - timedelta(days=rng.randint(0, 9), hours=rng.randint(0, 9))
        cols: dict[str, Any] = dict(
            status=status, created_at=created,
            problem_domain=rng.choice(["m365", "network", "printing", None]),
            total_active_seconds=rng.randint(60, 7200), total_parked_seconds=rng.randint(0, 9000),
            handoff_count=rng.choice([0, 0, 0, 1, 2]),
            team_id=team if owner == TECH_A else None,
            matched_flow_id=tree_id if n % 3 == 0 else None)
        if status == "escalated" or (status == "resolved" and rng.random() < 0.2):
            cols["escalation_package_posted_at"] = created + timedelta(hours=1)
        if status == "resolved":
            cols["resolved_at"] = created + timedelta(hours=2)
            cols["resolution_action"] = rng.choice(["1. Reset the password", "1. Rebuild profile"])
            cols["resolution_summary"] = "Fixed"
            if rng.random() < 0.7:
                cols["session_rating"] = rng.randint(1, 5)
            if rng.random() < 0.3:
                cols["session_feedback"] = f"feedback {n}"
        if rng.random() < 0.5:
            cols.update(system_prompt_snapshot="claude claude-sonnet-5-5; system prompt sha256:x",
                        total_input_tokens=rng.randint(100, 9000),
                        total_output_tokens=rng.randint(10, 900),
                        total_cache_read_tokens=rng.randint(0, 20000),
                        total_cache_write_tokens=rng.randint(0, 5000))
        made.append(_seed(app, owner, **cols))
    with unit_of_work(app.svc.factory) as db:  # hand-offs and model turns of a few sessions
        for sid in made[:5]:
            db.add(SessionHandoff(session_id=sid, kind="take_over", reason="r"))
            db.add(AISessionStep(session_id=sid, step_order=1, step_type="ai_turn",
                                 content={}, input_tokens=10, output_tokens=5))
    return made


def _expected(app: Any, days: int, owner: str | None) -> dict[str, Any]:
    """The numbers, from the rows, in plain Python (not the service's SQL)."""
    since = datetime.combine(T0.date() - timedelta(days=days - 1), datetime.min.time(),
                             tzinfo=UTC)
    with unit_of_work(app.svc.factory) as db:
        rows = db.execute(select(AISession, User.slack_user_id)
                          .join(User, User.id == AISession.user_id)).all()
        picked = [(s, u) for s, u in rows if since <= s.created_at < T0
                  and (owner is None or u == owner)]
        ss = [s for s, _ in picked]

        def esc(s: AISession) -> bool:
            return s.status in ("escalated", "requesting_escalation") or \
                s.escalation_package_posted_at is not None

        resolved = [s for s in ss if s.status == "resolved"]
        outcome = [s for s in ss if s.status in ("resolved", "abandoned") or esc(s)]
        first = [s for s in resolved if s.handoff_count == 0 and not esc(s)
                 and s.escalated_to_id is None]
        ratings = [s.session_rating for s in ss if s.session_rating is not None]
        usage = [s for s in ss if s.system_prompt_snapshot]
        cost = sum(cost_usd(model_of(s.system_prompt_snapshot), s.total_input_tokens,
                            s.total_output_tokens, s.total_cache_read_tokens,
                            s.total_cache_write_tokens) or 0 for s in usage)
        return {
            "opened": len(ss), "resolved": len(resolved), "escalated": sum(map(esc, ss)),
            "abandoned": sum(s.status == "abandoned" for s in ss),
            "open": sum(s.status in ("active", "paused") for s in ss),
            "median": statistics.median([s.total_active_seconds for s in resolved])
            if resolved else None,
            "fsr": (len(first), len(outcome)),
            "ratings": {k: ratings.count(k) for k in set(ratings)},
            "handoffs": sum(s.handoff_count for s in ss),
            "flow": sum(s.matched_flow_id is not None for s in ss),
            "domains": sorted(((d or "other", sum((s.problem_domain or "other") == (d or "other")
                                                  for s in ss)) for d in
                               {s.problem_domain for s in ss}), key=lambda x: (-x[1], x[0])),
            "cost": cost, "users": {u for _, u in picked},
        }


def test_admin_sees_workspace_numbers_that_match_the_rows(app: Any) -> None:
    _workload(app)
    payload = _stats(app, "stats 7d", ADMIN)
    text = _blocks_text(payload)
    e = _expected(app, 7, None)
    assert e["opened"] > 10
    assert (f"{e['opened']} opened · {e['resolved']} resolved · {e['escalated']} escalated · "
            f"{e['abandoned']} abandoned · {e['open']} still open") in text
    num, den = e["fsr"]
    assert f"{round(num / den * 100)}% ({num} of {den} that reached an outcome" in text
    n = sum(e["ratings"].values())
    avg = sum(k * v for k, v in e["ratings"].items()) / n
    assert f"*CSAT*: {avg:.1f}/5 from {n}" in text
    assert f"*Handoffs*: {e['handoffs']} in" in text
    assert f"estimated cost ${e['cost']:,.2f}" in text
    assert "By technician" in text and all(f"<@{u}>" in text for u in e["users"])
    assert "Service desk" in text  # by team
    assert f"Outlook prompting for a password ({e['flow']})" in text
    top, count = e["domains"][0]
    assert f"*Top domains*: {top} ({count})" in text
    from bot.domain.timekeeping import seconds_to_text
    assert seconds_to_text(round(e["median"])) in text


def test_30d_window_counts_more_days_and_admins_see_all_time_tokens(app: Any) -> None:
    _workload(app)
    with unit_of_work(app.svc.factory) as db:
        account = ensure_account(db, TEAM)
        account.total_input_tokens, account.total_output_tokens = 1_500_000, 42_000
        account.total_cache_read_tokens, account.total_cache_write_tokens = 7, 0
    text = _blocks_text(_stats(app, "stats 30d", ADMIN))
    assert f"{_expected(app, 30, None)['opened']} opened" in text
    assert "last 30d" in text
    assert "all time, whole workspace: 1.5M in · 42.0k out · 7 cache reads · 0 cache writes" in text
    mine = _blocks_text(_stats(app, "stats 30d", TECH_A))
    assert "all time" not in mine


def test_a_technician_gets_their_own_numbers_only(app: Any) -> None:
    _workload(app)
    text = _blocks_text(_stats(app, "stats", TECH_B))
    e = _expected(app, 7, TECH_B)
    assert f"{e['opened']} opened · {e['resolved']} resolved" in text
    assert "By technician" not in text and f"<@{TECH_A}>" not in text
    assert "Your own numbers" in text


def test_the_chart_is_a_real_png_in_the_askers_dm(app: Any) -> None:
    _workload(app)
    text = _blocks_text(_stats(app, "stats", ADMIN))
    assert "The chart is in your messages with FlowPilot" in text
    [shared] = app.slack.uploads(ADMIN)
    image = Image.open(io.BytesIO(shared["data"]))
    assert image.format == "PNG" and image.size == (1000, 440)
    assert shared["title"].startswith("FlowPilot · workspace")
    [msg] = [m for m in app.slack.messages(ADMIN) if m.get("subtype") == "file_share"]
    assert msg["files"][0]["id"] == shared["id"]


def test_without_files_write_the_numbers_still_come(app: Any) -> None:
    _workload(app)
    app.slack.scopes.discard("files:write")
    text = _blocks_text(_stats(app, "stats", ADMIN))
    assert "opened ·" in text and "files:write" in text
    assert app.slack.uploads() == []


def test_a_failed_upload_still_posts_the_numbers(app: Any) -> None:
    _workload(app)
    app.slack.fail_uploads(5)
    text = _blocks_text(_stats(app, "stats", ADMIN))
    assert "opened ·" in text and "could not be uploaded" in text


def test_empty_workspace_is_friendly_zeros_and_no_chart(app: Any) -> None:
    text = _blocks_text(_stats(app, "stats", ADMIN))
    assert "No sessions yet in this window: 0 opened · 0 resolved" in text
    assert app.slack.uploads() == [] and not app.slack.calls("files.upload_v2")


@pytest.mark.parametrize("word", ["5y", "7", "30d 90d", "7d; DROP TABLE", "x" * 5000])
def test_a_bad_window_gets_one_line_naming_the_allowed_ones(app: Any, word: str) -> None:
    payload = _stats(app, f"stats {word}", ADMIN)
    assert "is not a stats window. Use `/flowpilot stats 7d`, `30d` or `90d`" in payload["text"]
    assert len(payload["text"]) < 200
    with unit_of_work(app.svc.factory) as db:  # "stats …" never opens a session
        assert db.scalar(select(AISession.id)) is None
