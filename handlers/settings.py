"""``/flowpilot settings``: show the workspace's settings; admins set or unset one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.services import admin
from bot.services.container import Services
from handlers.commands import subcommand
from handlers.common import team_of, user_of

USAGE = ("`/flowpilot settings` shows them · `/flowpilot settings set <name> <value>` · "
         "`/flowpilot settings unset <name>` (admins), e.g. "
         "`/flowpilot settings set escalation_channel #escalations`")


def _show(value: Any, key: str) -> str:
    if key == "allow_images":  # off by default: screenshots can't be redacted (issue 18)
        return "`on` (screenshots go to Claude)" if value is True else \
            "`off` (screenshots are not sent: they can't be redacted)"
    if value in (None, "", []):
        return "—"
    if key.endswith("_channel"):
        return f"<#{value}>"
    if key == "escalation_group":
        return f"<!subteam^{value}>"
    return f"`{value}`"


@subcommand("settings")
def _settings(svc: Services, body: dict[str, Any], rest: str, respond: Callable[..., Any]) -> None:
    words = rest.split(None, 2)
    team, user = team_of(body), user_of(body)
    if words and words[0] in ("set", "unset"):
        if len(words) < 2 or (words[0] == "set" and len(words) < 3):
            respond(text=f"Usage: {USAGE}", response_type="ephemeral")
            return
        key = words[1]
        value = admin.change(svc, team, user, key, words[2] if words[0] == "set" else None)
        shown = _show(value, key) if words[0] == "set" else "its default"
        respond(text=f"✅ `{key}` is now {shown}.", response_type="ephemeral")
        return
    values = admin.effective(svc, team)
    lines = [f"• `{k}`: {_show(v, k)}" for k, v in values.items()]
    changed = admin.last_changed(svc, team)
    when = f"_Last changed {changed:%Y-%m-%d %H:%M} UTC_\n" if changed else "_All defaults._\n"
    respond(text="*FlowPilot settings for this workspace*\n" + when + "\n".join(lines)
            + f"\n{USAGE}",
            response_type="ephemeral")
