"""A workspace's life with FlowPilot installed by OAuth: uninstall and revoke, reinstall with
settings and sessions intact, a token revoked mid-job, a workspace with no installation,
Enterprise Grid org installs, and token rotation serialised across processes."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text, update
from support import Harness
from test_tenant_isolation import WEDNESDAY, open_by_command, sessions
from workspaces_support import A, B, grid_body, install, oauth_harness, workspace

from bot.config import load_settings
from bot.jobs.registry import run_job
from bot.oauth import NOT_INSTALLED, token_source
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.signing import event_body, slash_command_body
from bot.services.identity import ensure_account
from storage.db import make_engine, unit_of_work
from storage.models import Account, AISession
from storage.settings_store import get_all_settings, set_setting


@pytest.fixture()
def two(db_url: str, engine: Engine, fake_slack: FakeSlack) -> Iterator[Harness]:
    h = oauth_harness(db_url, fake_slack)
    install(h, workspace(fake_slack, A))
    install(h, workspace(fake_slack, B))
    yield h
    h.close()


def _active(h: Harness, team: str) -> bool:
    with h.svc.factory() as db:
        return bool(db.execute(select(Account.is_active)
                               .where(Account.slack_team_id == team)).scalar_one())


def _bots(engine: Engine) -> list[tuple[str | None, str | None]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT team_id, enterprise_id FROM "
                                                    "slack_bots ORDER BY id"))]


def test_uninstall_then_reinstall_keeps_settings_and_sessions(
    two: Harness, engine: Engine, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    h = two
    s = open_by_command(h, A)
    with unit_of_work(h.svc.factory) as db:
        set_setting(db, ensure_account(db, A["team"]).id, "digest_channel", "CADIGEST")

    fake_slack.oauth.revoke(A["team"])  # Slack's side of the uninstall
    for event in ({"type": "tokens_revoked", "tokens": {"bot": ["UFPBOT"]}},
                  {"type": "app_uninstalled"}):
        assert h.event(event, team=A["team"])[0] == 200
    h.settle()
    assert not _active(h, A["team"]) and _active(h, B["team"])
    assert _bots(engine) == [(B["team"], None)]

    # A workspace with no installation: a clear 200, the message, logged once.
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        assert h.command("printer jam", user=A["user"], channel=A["channel"],
                         team=A["team"])[0] == 200
    status, body = h.event({"type": "app_home_opened", "user": A["user"], "tab": "home"},
                           team=A["team"])
    assert status == 200 and body == NOT_INSTALLED
    told = [json.dumps(c.body) for c in fake_slack.calls("response_url")]
    assert len(told) == 2 and all("not installed" in t for t in told)
    logged = [r for r in caplog.records if "no installation for workspace TA0001" in r.message]
    assert len(logged) == 1
    assert not [r for r in caplog.records if "AuthorizeResult" in r.getMessage()]
    assert len(sessions(h, A)) == 1

    install(h, workspace(fake_slack, A))  # reinstall
    assert _active(h, A["team"])
    with unit_of_work(h.svc.factory) as db:
        account = ensure_account(db, A["team"])
        assert get_all_settings(db, account.id)["digest_channel"] == "CADIGEST"
        assert db.get(AISession, s.id) is not None
        assert db.get(AISession, s.id).account_id == account.id  # type: ignore[union-attr]
    fake_slack.clear()
    open_by_command(h, A)
    assert {fake_slack.team_of(c) for c in fake_slack.calls("chat.postMessage")} == {A["team"]}


def test_a_token_revoked_mid_job_skips_that_workspace_and_the_job_goes_on(
    two: Harness, fake_slack: FakeSlack
) -> None:
    h = two
    for ws in (A, A, B):
        open_by_command(h, ws)
    with unit_of_work(h.svc.factory) as db:
        a_id = ensure_account(db, A["team"]).id
        for i, s in enumerate(db.execute(select(AISession).order_by(
                (AISession.account_id == a_id).desc(), AISession.created_at)).scalars()):
            s.status, s.last_human_activity_at, s.snoozed_until = "active", None, None
            s.next_nudge_at = WEDNESDAY - timedelta(minutes=30 - i)  # A's two first, then B's
            s.job_lease_until = None
    fake_slack.oauth.revoke(A["team"])  # no event yet: the job finds out by itself
    fake_slack.clear()
    result = run_job(h.svc, "nudge_stale", WEDNESDAY)
    assert (result.claimed, result.failed, result.skipped, result.done) == (3, 1, 1, 1)
    assert [fake_slack.team_of(c) for c in fake_slack.calls("chat.postMessage")
            if c.body.get("channel") == B["channel"]] == [B["team"]]
    assert not _active(h, A["team"]) and _active(h, B["team"])  # marked

    install(h, workspace(fake_slack, A))  # an admin reinstalls: A is nudged again
    assert _active(h, A["team"])
    with unit_of_work(h.svc.factory) as db:
        db.execute(update(AISession).values(job_lease_until=None))
    later = run_job(h.svc, "nudge_stale", WEDNESDAY + timedelta(minutes=10))
    assert later.failed == 0 and later.done >= 1


def test_enterprise_grid_org_install_serves_its_workspaces_and_uninstalls_whole(
    db_url: str, engine: Engine, fake_slack: FakeSlack
) -> None:
    h = oauth_harness(db_url, fake_slack)
    try:
        org = fake_slack.workspace("E0ORG", "Org", enterprise_id="E0ORG", org_install=True)
        page = install(h, org)
        assert "FlowPilot is installed" in page
        assert _bots(engine) == [(None, "E0ORG")]

        body, ctype = slash_command_body("T0G1", "UG1", "CG1", "VPN down for the whole site",
                                         response_url=fake_slack.hook_url("T0G1/cmd"))
        assert h.send(grid_body(body, ctype, "E0ORG", org_install=True), ctype)[0] == 200
        h.settle()
        posts = fake_slack.calls("chat.postMessage")
        assert posts and {fake_slack.team_of(c) for c in posts} == {"E0ORG"}
        with h.svc.factory() as db:
            account = db.execute(select(Account).where(Account.slack_team_id == "T0G1")
                                 ).scalar_one()
            assert account.slack_enterprise_id == "E0ORG"  # jobs find the org's token

        # A job, outside any request, finds the org's token through the account.
        with unit_of_work(h.svc.factory) as db:
            db.execute(update(AISession).values(
                status="active", next_nudge_at=WEDNESDAY - timedelta(minutes=1),
                last_human_activity_at=None, job_lease_until=None))
        fake_slack.clear()
        assert run_job(h.svc, "nudge_stale", WEDNESDAY).done == 1
        assert {fake_slack.team_of(c) for c in fake_slack.calls("chat.postMessage")} == {"E0ORG"}

        body, ctype = event_body("T0G1", {"type": "app_uninstalled"})
        fake_slack.oauth.revoke(None, "E0ORG")
        assert h.send(grid_body(body, ctype, "E0ORG", org_install=True), ctype)[0] == 200
        h.settle()
        assert _bots(engine) == [] and not _active(h, "T0G1")
        install(h, org)
        assert _active(h, "T0G1")
    finally:
        h.close()


def test_tokens_are_refreshed_before_expiry_once_across_processes(
    db_url: str, engine: Engine, fake_slack: FakeSlack
) -> None:
    now = [datetime.now(UTC)]
    h = oauth_harness(db_url, fake_slack, token_rotation=True, clock=lambda: now[0])
    try:
        install(h, workspace(fake_slack, A))
        first = h.svc.notifier.tokens.token(A["team"])  # type: ignore[union-attr]
        assert first is not None and first.startswith("xoxe.xoxb-")
        now[0] += timedelta(hours=11)  # an hour before the 12-hour expiry

        # Two processes (two token sources, two connection pools) need the token at once.
        settings = h.fp.settings
        got: list[str | None] = []
        gate = threading.Barrier(4)

        def process() -> None:
            source, _ = token_source(settings, make_engine(db_url), lambda: now[0])
            gate.wait()
            got.append(source.token(A["team"]))

        threads = [threading.Thread(target=process) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        refreshes = [c for c in fake_slack.calls("oauth.v2.access")
                     if c.body.get("grant_type") == "refresh_token"]
        assert len(refreshes) == 1  # serialised: the refresh token works once
        assert len(set(got)) == 1 and got[0] != first

        # The app's own calls now use the new token (its cache ran out with the clock).
        fake_slack.clear()
        open_by_command(h, A)
        used = {c.token for c in fake_slack.calls("chat.postMessage")}
        assert used == {got[0]}
        assert fake_slack.oauth.refusal(str(got[0])) is None
    finally:
        h.close()


def test_a_secret_key_is_needed_to_build_many_workspace_mode(db_url: str) -> None:
    from bot.errors import ConfigError

    settings = load_settings(env_file=None, SLACK_CLIENT_ID="1.2", SLACK_CLIENT_SECRET="s",
                             SLACK_SIGNING_SECRET="x", FLOWPILOT_DATABASE_URL=db_url)
    with pytest.raises(ConfigError, match="FLOWPILOT_SECRET_KEY"):
        token_source(settings, make_engine(db_url), lambda: datetime.now(UTC))
