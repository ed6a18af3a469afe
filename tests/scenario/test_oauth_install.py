"""Installing in many workspaces through ``/slack/install`` and ``/slack/oauth_redirect``,
against the Slack stand-in: tokens stored encrypted, and every bad turn of the flow refused
with a page that says what to do next."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text, update
from support import Harness
from workspaces_support import (
    CLIENT_ID,
    REDIRECT,
    A,
    B,
    browse,
    finish,
    install,
    oauth_harness,
    query,
    start_install,
    workspace,
)

from bot.oauth import install_scopes
from bot.sandbox.fake_slack import FakeSlack
from storage.models import Account
from storage.models.slack_oauth import oauth_states


@pytest.fixture()
def h(db_url: str, engine: Engine, fake_slack: FakeSlack) -> Iterator[Harness]:
    harness = oauth_harness(db_url, fake_slack)
    yield harness
    harness.close()


def _rows(engine: Engine, table: str) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(f"SELECT * FROM {table}")).mappings()]


def test_two_workspaces_install_side_by_side_tokens_encrypted(
    h: Harness, engine: Engine, fake_slack: FakeSlack
) -> None:
    url, _ = start_install(h)
    asked = query(url)
    assert url.startswith(fake_slack.authorize_url)
    assert asked["client_id"] == CLIENT_ID and asked["redirect_uri"] == REDIRECT
    assert asked["scope"].split(",") == install_scopes() and asked["state"]

    page_a = install(h, workspace(fake_slack, A))
    page_b = install(h, workspace(fake_slack, B))
    assert "FlowPilot is installed" in page_a and "Acme MSP" in page_a
    assert "/invite @FlowPilot" in page_a and "/flowpilot settings" in page_a
    assert "Beta IT" in page_b

    issued = [t for t, i in fake_slack.oauth.tokens.items() if i.kind == "bot"]
    assert len(issued) == 2
    dump = repr(_rows(engine, "slack_installations") + _rows(engine, "slack_bots"))
    assert not any(token in dump for token in issued)  # nothing in clear
    with h.svc.factory() as db:
        active = db.execute(select(Account.slack_team_id, Account.is_active)).all()
    assert sorted(active) == [(A["team"], True), (B["team"], True)]
    tokens = h.svc.notifier.tokens
    assert tokens is not None
    assert tokens.token(A["team"]) in issued and tokens.token(B["team"]) in issued
    assert tokens.token(A["team"]) != tokens.token(B["team"])


def test_a_replayed_state_is_refused_and_installs_nothing_more(
    h: Harness, engine: Engine, fake_slack: FakeSlack
) -> None:
    url, cookie = start_install(h)
    redirect = fake_slack.oauth.approve(url, workspace(fake_slack, A))
    assert finish(h, redirect, cookie)[0] == 200
    status, page = finish(h, redirect, cookie)  # the same link again
    assert status == 401 and "This install link has expired" in page
    assert "/slack/install" in page
    assert len(_rows(engine, "slack_bots")) == 1


def test_an_expired_state_is_refused(h: Harness, engine: Engine, fake_slack: FakeSlack) -> None:
    url, cookie = start_install(h)
    with engine.begin() as conn:  # ten minutes later
        conn.execute(update(oauth_states).values(expire_at=oauth_states.c.expire_at
                                                 - timedelta(minutes=11)))
    status, page = finish(h, fake_slack.oauth.approve(url, workspace(fake_slack, A)), cookie)
    assert status == 401 and "expired" in page
    assert _rows(engine, "slack_bots") == []
    assert not fake_slack.calls("oauth.v2.access")  # the code was never exchanged


def test_a_state_from_another_browser_is_refused(h: Harness, fake_slack: FakeSlack) -> None:
    url, _ = start_install(h)
    status, page = finish(h, fake_slack.oauth.approve(url, workspace(fake_slack, A)), "")
    assert status == 400 and "another browser" in page


def test_a_denied_install_says_nothing_was_installed(
    h: Harness, engine: Engine, fake_slack: FakeSlack
) -> None:
    url, cookie = start_install(h)
    status, page = finish(h, fake_slack.oauth.approve(url, deny=True), cookie)
    assert status == 200 and "Installation cancelled" in page and "Nothing was installed" in page
    assert _rows(engine, "slack_bots") == [] and _rows(engine, "accounts") == []


def test_a_failed_code_exchange_says_what_to_check(
    h: Harness, engine: Engine, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    url, cookie = start_install(h)
    redirect = fake_slack.oauth.approve(url, workspace(fake_slack, A))
    status, page = finish(h, redirect.replace("code=", "code=tampered"), cookie)
    assert status == 401 and "Slack refused the install code" in page
    assert "SLACK_CLIENT_SECRET" in page
    [call] = fake_slack.calls("oauth.v2.access")
    assert call.body.get("code", "").startswith("tampered")
    assert "invalid_code" in caplog.text and "tampered" not in caplog.text  # no code logged
    assert _rows(engine, "slack_bots") == []


def test_wrong_client_secret_fails_the_exchange(db_url: str, engine: Engine,
                                                fake_slack: FakeSlack) -> None:
    harness = oauth_harness(db_url, fake_slack)
    fake_slack.oauth.apps[CLIENT_ID].client_secret = "rotated-at-slack"
    try:
        url, cookie = start_install(harness)
        status, page = finish(harness, fake_slack.oauth.approve(url, workspace(fake_slack, A)),
                              cookie)
        assert status == 401 and "Slack did not complete the install" in page
    finally:
        harness.close()


def test_other_paths_are_unchanged(h: Harness) -> None:
    assert browse(h, "/healthz")[0] == 200
    assert browse(h, "/slack/nothing")[0] == 404
