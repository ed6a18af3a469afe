"""Installations are stored with every token encrypted; the store reads them back in clear."""

from __future__ import annotations

import pytest
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import Engine, text

from bot.config import load_settings
from bot.crypto import SecretBox, generate_key
from bot.errors import ConfigError
from bot.installs import EncryptedInstallationStore


def _installation(team: str, token: str, refresh: str | None = None) -> Installation:
    return Installation(
        app_id="AFPAPP", team_id=team, team_name=team, bot_token=token, bot_id="B1",
        bot_user_id="UBOT", bot_scopes="chat:write,commands", user_id="UINSTALLER",
        user_token="xoxp-user-secret-1", bot_refresh_token=refresh,
        bot_token_expires_in=43200 if refresh else None,
        incoming_webhook_url="https://hooks.slack.com/services/T/B/secret",
    )


def test_no_token_is_stored_in_clear(engine: Engine) -> None:
    store = EncryptedInstallationStore("111.222", engine, SecretBox(generate_key()))
    store.save(_installation("T1", "xoxb-clear-token-1", "xoxe-1-refresh-secret"))
    with engine.connect() as conn:
        rows = [dict(r) for t in ("slack_installations", "slack_bots")
                for r in conn.execute(text(f"SELECT * FROM {t}")).mappings()]
    assert len(rows) == 2
    dump = repr(rows)
    for secret in ("xoxb-clear-token-1", "xoxe-1-refresh-secret", "xoxp-user-secret-1",
                   "hooks.slack.com"):
        assert secret not in dump
    assert all(str(r["bot_token"]).startswith("fp1:") for r in rows)
    bot = store.find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == "xoxb-clear-token-1"
    assert bot.bot_refresh_token == "xoxe-1-refresh-secret"
    found = store.find_installation(enterprise_id=None, team_id="T1")
    assert found is not None and found.user_token == "xoxp-user-secret-1"


def test_another_key_cannot_read_the_tokens(engine: Engine) -> None:
    EncryptedInstallationStore("111.222", engine, SecretBox(generate_key())).save(
        _installation("T1", "xoxb-a"))
    other = EncryptedInstallationStore("111.222", engine, SecretBox(generate_key()))
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        other.find_bot(enterprise_id=None, team_id="T1")


def test_a_long_token_fits(engine: Engine) -> None:
    store = EncryptedInstallationStore("111.222", engine, SecretBox(generate_key()))
    long_token = "xoxe.xoxb-1-" + "x" * 400
    store.save(_installation("T2", long_token, "xoxe-1-" + "y" * 400))
    bot = store.find_bot(enterprise_id=None, team_id="T2")
    assert bot is not None and bot.bot_token == long_token


def test_client_id_without_secret_key_is_one_line_config_error() -> None:
    settings = load_settings(env_file=None, SLACK_CLIENT_ID="111.222",
                             SLACK_CLIENT_SECRET="s", SLACK_SIGNING_SECRET="x")
    with pytest.raises(ConfigError) as err:
        settings.require_for("serve")
    assert "FLOWPILOT_SECRET_KEY is not set" in str(err.value)
    assert "\n" not in str(err.value)
    ok = load_settings(env_file=None, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="s",
                       SLACK_SIGNING_SECRET="x", FLOWPILOT_SECRET_KEY=generate_key())
    ok.require_for("serve")


def test_key_rotation_re_encrypts_slack_tokens(engine: Engine, factory) -> None:  # type: ignore[no-untyped-def]
    """`flowpilot secrets rotate` covers the installation tables too: after it, the new key
    alone reads every token."""
    from bot.secrets_store import rotate_all

    old, new = generate_key(), generate_key()
    EncryptedInstallationStore("111.222", engine, SecretBox(old)).save(
        _installation("T1", "xoxb-rotate-me", "xoxe-1-rotate-refresh"))
    counts = rotate_all(factory, SecretBox(f"{new},{old}"))
    assert counts["slack_bots.bot_token"] == 1 and counts["slack_installations.user_token"] == 1
    bot = EncryptedInstallationStore("111.222", engine, SecretBox(new)).find_bot(
        enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == "xoxb-rotate-me"
    assert bot.bot_refresh_token == "xoxe-1-rotate-refresh"
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        EncryptedInstallationStore("111.222", engine, SecretBox(old)).find_bot(
            enterprise_id=None, team_id="T1")
