"""Many workspaces: each request acts for the workspace it came from (its token is used for
every Slack call its work makes), and install lifecycle events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App
from slack_bolt.context import BoltContext

from bot.services import identity, tenancy
from bot.services.container import Services
from bot.tokens import enter


def make_workspace_middleware(svc: Services) -> Callable[..., Any]:
    def workspace(context: BoltContext, next: Callable[[], None]) -> None:
        team, org = context.team_id, context.enterprise_id
        if org and team and tenancy.multi(svc):
            tenancy.remember_enterprise(svc, team, org)
        # Set for the rest of this request (the server runs each request in its own context;
        # the listener threads get a copy).
        enter(team, org)
        if tenancy.multi(svc):
            tenancy.warm(svc, team, org)  # before any transaction this request opens
        next()

    return workspace


def register(app: App, svc: Services) -> None:
    @app.event("app_uninstalled")
    def on_uninstalled(context: BoltContext) -> None:
        tenancy.uninstalled(svc, context.team_id, context.enterprise_id,
                            org=bool(context.is_enterprise_install))

    @app.event("tokens_revoked")
    def on_tokens_revoked(event: dict[str, Any], context: BoltContext) -> None:
        # https://docs.slack.dev/reference/events/tokens_revoked: ``tokens.bot`` lists the
        # bot users whose tokens were revoked (user ids, not tokens).
        if (event.get("tokens") or {}).get("bot"):
            tenancy.uninstalled(svc, context.team_id, context.enterprise_id,
                                org=bool(context.is_enterprise_install))

    @app.event("user_change")
    def on_user_change(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
        # https://docs.slack.dev/reference/events/user_change (scope users:read): ``user`` is
        # the whole user object, as users.info returns it; sent when a member's profile or
        # data changes (a time zone change too, except daylight saving).
        user = event.get("user")
        if not isinstance(user, dict):
            return
        identity.profile_changed(svc, context.team_id, context.enterprise_id, user,
                                 _event_time(event, body) or svc.clock())


def _event_time(event: dict[str, Any], body: dict[str, Any]) -> datetime | None:
    """When Slack says the event happened (``event_ts``, else the envelope's ``event_time``)."""
    for raw in (event.get("event_ts"), body.get("event_time")):
        if not isinstance(raw, str | int | float):
            continue
        try:
            return datetime.fromtimestamp(float(raw), UTC)
        except (ValueError, OverflowError, OSError):
            continue
    return None
