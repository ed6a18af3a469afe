"""``/flowpilot stats [7d|30d|90d]``: the numbers privately, the chart in the asker's DM."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.render.stats import render_stats
from bot.services.container import Services
from bot.services.stats import parse_window, share_chart, stats_for
from handlers.commands import subcommand
from handlers.common import team_of, user_of


@subcommand("stats", group="sessions", usage="stats [7d|30d|90d]",
            summary="sessions, resolution, CSAT, cost, with a chart (admins: the whole "
                    "workspace, by team and technician)")
def _stats(svc: Services, body: dict[str, Any], rest: str, respond: Callable[..., Any]) -> None:
    window = parse_window(rest)  # a bad window: one line naming the allowed ones
    view = stats_for(svc, team_of(body), user_of(body), window)
    note = share_chart(svc, view, user=user_of(body))
    msg = render_stats(view, note)
    respond(text=msg.text, blocks=msg.blocks, response_type="ephemeral")
