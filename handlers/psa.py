"""PSA in Slack: `/flowpilot ticket 12345` opens a session from a ConnectWise ticket;
`/flowpilot psa` (admins) shows the connection and opens the form to connect one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot import ids
from bot.psa.connections import CwDetails
from bot.render.psa import psa_modal
from bot.services import psa_admin, tickets
from bot.services.container import Services
from handlers.commands import subcommand
from handlers.common import readable, team_of, tell, user_of
from handlers.views import field


@subcommand("ticket", group="psa", usage="ticket <number>", summary="open a session from a PSA ticket")
def _ticket(svc: Services, body: dict[str, Any], rest: str, respond: Callable[..., Any]) -> None:
    number = tickets.ticket_number(rest, bare=True)
    if number is None:
        respond(text="Name the ticket: `/flowpilot ticket 12345` (or paste its link).",
                response_type="ephemeral")
        return
    tickets.open_from_ticket(svc, team_id=team_of(body), user_id=user_of(body),
                             channel=str(body.get("channel_id") or ""), number=number)


@subcommand("psa", group="psa", summary="connect your PSA (admins)")
def _psa(svc: Services, body: dict[str, Any], rest: str, respond: Callable[..., Any]) -> None:
    team, user = team_of(body), user_of(body)
    psa_admin.require_admin(svc, team, user)
    svc.notifier.open_view(str(body.get("trigger_id") or ""),
                           psa_modal(str(body.get("channel_id") or ""),
                                     psa_admin.status_line(svc, team)))


def register(app: App, svc: Services) -> None:
    @app.view(ids.SETTINGS_MODAL)
    def on_settings(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        kind, _, channel = str(view.get("private_metadata") or "").partition("|")
        if kind != "psa":
            ack()
            return
        details = CwDetails(
            site=str(field(view, ids.PSA_SITE) or ""),
            company=str(field(view, ids.PSA_COMPANY) or ""),
            public_key=str(field(view, ids.PSA_PUBLIC_KEY) or ""),
            private_key=str(field(view, ids.PSA_PRIVATE_KEY) or ""),
            client_id=str(field(view, ids.PSA_CLIENT_ID) or ""),
            options={"note_flag": field(view, ids.PSA_NOTE_FLAG)},
        )
        ack()  # the check call may take longer than Slack's 3 seconds: answer afterwards
        where = {"user": {"id": user_of(body)}, "channel": {"id": channel}}
        try:
            line = psa_admin.connect(svc, team_of(body), user_of(body), details)
        except Exception as exc:
            tell(svc, where, f"⚠️ ConnectWise was not connected: {readable(exc)}")
            return
        tell(svc, where, f"✅ Connected: {line}")
