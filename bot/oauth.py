"""Installing FlowPilot in many workspaces: Bolt's OAuth flow on our database.

``GET /slack/install`` sends the browser to Slack's authorize page (with a one-time state
kept in ``slack_oauth_states`` and in a cookie); ``GET /slack/oauth_redirect`` checks the state,
exchanges the code through ``oauth.v2.access`` on ``SLACK_API_URL``, stores the installation
with its tokens encrypted, reactivates the workspace's account, and shows a page that says what
to do next. Requests from Slack are authorized per workspace by ``authorize`` (Bolt), from the
same token source every other Slack call uses.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import yaml
from slack_bolt import BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context import BoltContext
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine, create_engine

from bot.clock import Clock
from bot.config import Settings
from bot.crypto import SecretBox
from bot.errors import ConfigError
from bot.installs import EncryptedInstallationStore
from bot.tokens import TokenSource

if TYPE_CHECKING:
    from bot.services.container import Services

log = logging.getLogger(__name__)


class _NoCodes(logging.Filter):
    """Bolt logs a failed exchange with the install code in it: keep the reason only."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "with code:" in message:
            record.msg = re.sub(r"with code: \S+", "with code: [hidden]", message)
            record.args = ()
        return True


_flow_log = logging.getLogger("bot.oauth.flow")
for _name in ("bot.oauth.flow", "slack_bolt.oauth.oauth_flow"):  # Bolt logs on its own too
    logging.getLogger(_name).addFilter(_NoCodes())
MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yml"
STATE_SECONDS = 600  # an install link works once, for ten minutes
NOT_INSTALLED = ("FlowPilot is not installed in this workspace (it may have been removed). "
                 "An admin can install it again from FlowPilot's install page.")


def install_scopes(manifest: Path = MANIFEST) -> list[str]:
    """The bot scopes the install asks for: exactly the manifest's."""
    try:
        data = yaml.safe_load(manifest.read_text())
        return list(data["oauth_config"]["scopes"]["bot"])
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the bot scopes from {manifest} ({exc})") from None


def authorize_url(api_url: str) -> str:
    """Slack's authorize page next to its Web API (https://slack.com/oauth/v2/authorize)."""
    return urljoin(api_url, "../oauth/v2/authorize")


def make_flow(settings: Settings, engine: Engine, store: EncryptedInstallationStore,
              svc: Services) -> OAuthFlow:
    assert settings.slack_client_id and settings.slack_client_secret is not None
    states = SQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine,
                                       table_name="slack_oauth_states", logger=log)
    oauth_settings = OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=install_scopes(),
        redirect_uri=settings.slack_redirect_uri,
        install_path="/slack/install", redirect_uri_path="/slack/oauth_redirect",
        install_page_rendering_enabled=False,  # straight to Slack's page
        authorization_url=authorize_url(settings.slack_api_url),
        installation_store=store, state_store=states,
        callback_options=CallbackOptions(success=lambda a: _success(svc, a), failure=_failure),
        logger=_flow_log,
    )
    return OAuthFlow(client=WebClient(base_url=settings.slack_api_url), settings=oauth_settings)


def token_source(settings: Settings, engine: Engine, clock: Clock
                 ) -> tuple[TokenSource, EncryptedInstallationStore | None]:
    """The one token source: ``SLACK_BOT_TOKEN`` alone, or the encrypted installations."""
    if not settings.many_workspaces:
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        return TokenSource(single_token=token), None
    assert settings.slack_client_id and settings.slack_client_secret is not None
    if settings.secret_key is None or not settings.secret_key.get_secret_value().strip():
        raise ConfigError("FLOWPILOT_SECRET_KEY is not set: installing in many workspaces "
                          "(SLACK_CLIENT_ID) stores tokens encrypted with it")
    store = EncryptedInstallationStore(settings.slack_client_id, _reads(engine),
                                       SecretBox(settings.secret_key.get_secret_value()))
    source = TokenSource(
        store=store, engine=engine, client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        oauth_client=WebClient(base_url=settings.slack_api_url), clock=clock,
    )
    return source, store


def _reads(engine: Engine) -> Engine:
    """The store's engine. On SQLite, one without our ``BEGIN IMMEDIATE``: a token looked up
    while the same thread holds the write lock (a cache miss inside a unit of work) must not
    wait for itself. WAL lets it read meanwhile."""
    if engine.dialect.name != "sqlite":
        return engine
    return create_engine(engine.url, connect_args={"check_same_thread": False, "timeout": 30})


def make_authorize(tokens: TokenSource) -> Any:
    """Bolt's per-request authorization, from the token source."""

    def authorize(context: BoltContext, enterprise_id: str | None,
                  team_id: str | None) -> AuthorizeResult | None:
        grant = tokens.grant(team_id, enterprise_id, bool(context.is_enterprise_install))
        if grant is None:
            return None  # Bolt answers 200 with NOT_INSTALLED; the source logged it once
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id,
                               bot_token=grant.token, bot_id=grant.bot_id,
                               bot_user_id=grant.bot_user_id)

    return authorize


class _DropRepeats(logging.Filter):
    """Bolt logs an error on every request from a workspace without an installation; the
    token source already logged it once for that workspace."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "AuthorizeResult (returned value from authorize)" not in record.getMessage()


def quiet_missing_installations(app: Any) -> None:
    for middleware in getattr(app, "_middleware_list", []):
        logger = getattr(middleware, "logger", None)
        if type(middleware).__name__ == "MultiTeamsAuthorization" and logger is not None:
            logger.addFilter(_DropRepeats())


# ── pages ───────────────────────────────────────────────────────────────────────────────


def _success(svc: Services, args: SuccessArgs) -> BoltResponse:
    from bot.services.tenancy import installed

    inst = args.installation
    installed(svc, inst.team_id if not inst.is_enterprise_install else None,
              inst.enterprise_id, inst.team_name or "")
    where = inst.team_name or inst.enterprise_name or inst.team_id or inst.enterprise_id or ""
    open_link = (f"slack://open?team={html.escape(inst.team_id)}" if inst.team_id
                 else "slack://open")
    body = _page(
        "FlowPilot is installed",
        f"<p>FlowPilot is now installed in <b>{html.escape(where)}</b>.</p>"
        "<p>Next:</p><ol>"
        "<li>Invite it to the channel your technicians work in: "
        "<code>/invite @FlowPilot</code>.</li>"
        "<li>Open a session: <code>/flowpilot &lt;problem&gt;</code>, or mention "
        "<code>@FlowPilot</code> in a thread.</li>"
        "<li>Admins: <code>/flowpilot settings</code> sets the escalation channel and more."
        "</li></ol>"
        f'<p><a href="{open_link}">Open Slack</a></p>',
    )
    return BoltResponse(status=200, body=body, headers={"Content-Type": "text/html; charset=utf-8"})


FAILURES = {
    "access_denied": ("Installation cancelled",
                      "Nothing was installed. To install FlowPilot, start again at "
                      "<a href=\"/slack/install\">/slack/install</a> and click Allow."),
    "invalid_state": ("This install link has expired",
                      "Each install link works once, for ten minutes. Start again at "
                      "<a href=\"/slack/install\">/slack/install</a>."),
    "invalid_browser": ("This install link was opened in another browser",
                        "Finish the install in the browser where you started it, or start "
                        "again at <a href=\"/slack/install\">/slack/install</a>."),
    "invalid_code": ("Slack did not complete the install",
                     "Slack refused the install code (it expires after ten minutes and works "
                     "once). Start again at <a href=\"/slack/install\">/slack/install</a>. If "
                     "it keeps failing, the operator should check SLACK_CLIENT_ID, "
                     "SLACK_CLIENT_SECRET and the app's redirect URL."),
    "missing_code": ("Slack did not complete the install",
                     "The page was opened without an install code. Start again at "
                     "<a href=\"/slack/install\">/slack/install</a>."),
    "storage_error": ("The install could not be saved",
                      "Nothing was changed. Try again in a minute at "
                      "<a href=\"/slack/install\">/slack/install</a>; if it keeps failing, "
                      "the operator should check FlowPilot's database and logs."),
}


def _failure(args: FailureArgs) -> BoltResponse:
    title, text = FAILURES.get(args.reason, (
        "Slack did not complete the install",
        f"Slack answered “{html.escape(args.reason)}”. Start again at "
        "<a href=\"/slack/install\">/slack/install</a>."))
    log.info("install failed: %s", args.reason)
    return BoltResponse(status=args.suggested_status_code, body=_page(title, f"<p>{text}</p>"),
                        headers={"Content-Type": "text/html; charset=utf-8"})


def _page(title: str, body: str) -> str:
    return ("<!doctype html><html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)} · FlowPilot</title></head>"
            f"<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\">"
            f"<h1>{html.escape(title)}</h1>{body}</body></html>")
