"""``/flowpilot show fp-…``: a session's details and where its outputs went (ephemeral)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.domain.refs import take_session_word
from bot.render.details import render_session_details
from bot.services.container import Services
from bot.services.session_info import find_any, session_details
from handlers.commands import subcommand
from handlers.common import team_of, user_of


@subcommand("show")
def _show(svc: Services, body: dict[str, Any], rest: str, respond: Callable[..., Any]) -> None:
    team, user = team_of(body), user_of(body)
    ref, link, _ = take_session_word(rest)
    msg = render_session_details(session_details(svc, team, user, find_any(svc, team, ref, link)))
    respond(text=msg.text, blocks=msg.blocks, response_type="ephemeral")
