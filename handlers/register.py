"""Wire every listener onto the Bolt app (called from ``bot.bootstrap`` only)."""

from __future__ import annotations

from slack_bolt import App

from bot.services.container import Services
from handlers import (
    actions,
    commands,
    errors,
    events,
    home,
    lifecycle,
    middleware,
    nudges,
    session_edit,
    settings,
    teams,
    views,
)


def register_all(app: App, svc: Services) -> None:
    app.use(middleware.make_delivery_middleware(svc))
    commands.register(app, svc)
    events.register(app, svc)
    actions.register(app, svc)
    views.register(app, svc)
    lifecycle.register(app, svc)
    nudges.register(app, svc)
    session_edit.register(app, svc)  # issue 18: Rename
    errors.register(app, svc)
    _ = (home, settings, teams)  # register their subcommands on import
