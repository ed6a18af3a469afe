"""Checks a start-up and ``flowpilot doctor`` share: the tokens' shapes (offline) and what
Slack says about them (live). Each problem is one line naming the cause and the fix."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.config import Settings
from bot.errors import ConfigError

BOT_TOKEN_PAGE = "api.slack.com/apps → your app → OAuth & Permissions → Bot User OAuth Token"
APP_TOKEN_PAGE = ("api.slack.com/apps → your app → Basic Information → App-Level Tokens "
                  "(scope connections:write)")
SIGNING_PAGE = "api.slack.com/apps → your app → Basic Information → Signing Secret"
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")


def token_problems(settings: Settings) -> list[str]:
    """Problems with the shape of the Slack tokens that are set (no network)."""
    problems: list[str] = []
    bot = _value(settings.slack_bot_token)
    app = _value(settings.slack_app_token)
    if bot is not None:
        problems += _shape("SLACK_BOT_TOKEN", bot, "xoxb-", BOT_TOKEN_PAGE)
    if app is not None:
        problems += _shape("SLACK_APP_TOKEN", app, "xapp-", APP_TOKEN_PAGE)
    return problems


def require_token_shapes(settings: Settings) -> None:
    problems = token_problems(settings)
    if problems:
        raise ConfigError(problems[0])


def _value(secret: object) -> str | None:
    from pydantic import SecretStr

    if isinstance(secret, SecretStr):
        return secret.get_secret_value()
    return None


_KINDS = {
    "xoxb-": "a bot token (xoxb-…)",
    "xapp-": "an app-level token (xapp-…)",
    "xoxp-": "a user token (xoxp-…)",
    "xoxe": "a refresh or config token (xoxe…)",
}


def _shape(name: str, value: str, prefix: str, page: str) -> list[str]:
    if value != value.strip() or value[:1] in "\"'" or any(c.isspace() for c in value):
        return [f"{name} has spaces or quotes around it: paste the token alone ({page})"]
    if value.startswith(prefix):
        return []
    for other, kind in _KINDS.items():
        if value.startswith(other):
            return [f"{name} holds {kind}, not {_KINDS[prefix]}: copy the right one from {page}"]
    return [f"{name} does not look like a Slack token (it should start with {prefix}): "
            f"copy it from {page}"]


@dataclass(frozen=True)
class Live:
    """The answer of a live check: ``ok``; else ``offline`` (Slack not reachable) or not."""

    ok: bool
    text: str
    offline: bool = False


def check_app_token(settings: Settings) -> Live:
    """``apps.connections.open`` with the app-level token, as Socket Mode will call it.
    (It only issues a WebSocket URL; nothing connects to it.)"""
    from slack_sdk.errors import SlackApiError

    from bot.notify import make_web_client

    token = _value(settings.slack_app_token)
    if not token:
        return Live(False, "SLACK_APP_TOKEN is not set: flowpilot run needs it "
                    f"({APP_TOKEN_PAGE})")
    client = make_web_client(None, settings.slack_api_url)
    try:
        client.apps_connections_open(app_token=token)
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        return Live(False, f"Slack refused SLACK_APP_TOKEN ({error}): create a new app-level "
                    f"token at {APP_TOKEN_PAGE}")
    except Exception:
        return Live(False, offline_line(settings), offline=True)
    return Live(True, "app-level token accepted (apps.connections.open)")


def offline_line(settings: Settings) -> str:
    return (f"Slack could not be reached at {settings.slack_api_url} (no network, DNS or a "
            "proxy in the way); the token was not checked")


def require_app_token(settings: Settings) -> None:
    live = check_app_token(settings)
    if not live.ok:
        raise ConfigError(live.text)
