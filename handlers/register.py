"""Wire every listener onto the Bolt app (called from ``bot.bootstrap`` only)."""

from __future__ import annotations

from slack_bolt import App

from bot.services.container import Services
from handlers import (
    actions,
    commands,
    details,
    errors,
    events,
    home,
    knowledge,
    lifecycle,
    middleware,
    nudges,
    psa,
    session_edit,
    settings,
    teams,
    tenancy,
    views,
)


def register_all(app: App, svc: Services) -> None:
    app.use(tenancy.make_workspace_middleware(svc))  # first: the workspace's token for all
    app.use(middleware.make_delivery_middleware(svc))
    commands.register(app, svc)
    events.register(app, svc)
    actions.register(app, svc)
    views.register(app, svc)
    lifecycle.register(app, svc)
    nudges.register(app, svc)
    psa.register(app, svc)
    knowledge.register(app, svc)
    session_edit.register(app, svc)  # issue 18: Rename
    errors.register(app, svc)
    tenancy.register(app, svc)
    _ = (details, home, settings, teams)  # register their subcommands on import
