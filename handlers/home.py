"""The App Home tab (``bot.services.home``, ``bot.render.home``) and ``/flowpilot list``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.domain.refs import session_ref
from bot.domain.status import STATUS_LABELS
from bot.errors import SlackError
from bot.render.home import render_home
from bot.render.knowledge import drafts_blocks
from bot.render.safe import neutralize, safe_link
from bot.services.container import Services
from bot.services.drafts import review_queue
from bot.services.home import home_view
from bot.services.queries import SessionLine, my_open_sessions
from handlers.commands import subcommand
from handlers.common import team_of, user_of


def _line(s: SessionLine) -> str:
    summary = neutralize(s.summary[:150]) or "(no summary)"
    label = STATUS_LABELS.get(s.status, s.status)
    return (f"• {safe_link(s.link, summary) if s.link else summary} — _{label}_ · "
            f"`{session_ref(s.session_id)}`")


def lines_text(sessions: list[SessionLine]) -> str:
    if not sessions:
        return "You have no open sessions. Start one with `/flowpilot <problem>`."
    return "*Your open sessions*\n" + "\n".join(_line(s) for s in sessions)


@subcommand("list", group="sessions", summary="your open sessions, with their references and links")
def _list(svc: Services, body: dict[str, Any], rest: str, respond: Callable[..., Any]) -> None:
    respond(text=lines_text(my_open_sessions(svc, team_of(body), user_of(body))),
            response_type="ephemeral")


def publish_home(svc: Services, team_id: str, user_id: str) -> None:
    h = home_view(svc, team_id, user_id)
    pending, total = review_queue(svc, team_id, user_id)  # admins only
    view = render_home(h, drafts_blocks(pending, total))
    try:
        svc.notifier.publish_home(user_id, view)
    except SlackError:
        pass
