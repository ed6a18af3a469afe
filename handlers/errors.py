"""The one Bolt error handler: show the message (or a reference id) ephemerally."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.services.container import Services
from handlers.common import readable, tell


def register(app: App, svc: Services) -> None:
    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        tell(svc, body, f"⚠️ {readable(error)}")
