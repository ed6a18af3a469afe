"""``/flowpilot``: open a session, or a subcommand (help, list, resolve, park, handoff…)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.context import BoltContext

from bot import ids
from bot.render.modals import intake_modal
from bot.services.container import Services
from handlers.common import readable

HELP = """*FlowPilot* — troubleshooting co-pilot in a thread.
• `/flowpilot <problem>` — open a session (e.g. `/flowpilot Outlook keeps asking for a password`)
• `/flowpilot` — open the intake form (problem, pasted log, ticket number)
• `@FlowPilot <problem>` — open a session on that message's thread (inside a thread, the thread so far is the intake)
• Message menu → *Troubleshoot this* — open a session from any message
• Reply in the session's thread to answer; use the buttons to answer questions, mark actions and fixes
• `/flowpilot show fp-…` — a session's details: its flow, ticket and where its outputs went (any session, open or closed)
• `/flowpilot list` — your open sessions, with their references (`fp-…`, also in each session's header) · `/flowpilot scripts` — approved scripts
• `/flowpilot resolve fp-… [note]` · `park fp-…` · `resume fp-…` · `handoff fp-… @user` · `escalate fp-… [team:NAME] [reason]` — name the session by its reference or its thread's link (Slack does not tell FlowPilot which thread a command was typed in)
• `/flowpilot help` — this help"""

Subcommand = Callable[[Services, dict[str, Any], str, Callable[..., Any]], None]
SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(name: str) -> Callable[[Subcommand], Subcommand]:
    def wrap(fn: Subcommand) -> Subcommand:
        SUBCOMMANDS[name] = fn
        return fn

    return wrap


@subcommand("help")
def _help(svc: Services, body: dict[str, Any], rest: str, respond: Callable[..., Any]) -> None:
    respond(text=HELP, response_type="ephemeral")


def register(app: App, svc: Services) -> None:
    @app.command(ids.COMMAND)
    def on_command(ack: Ack, body: dict[str, Any], respond: Callable[..., Any], client: Any,
                   context: BoltContext) -> None:
        text = (body.get("text") or "").strip()
        word, _, rest = text.partition(" ")
        handler = SUBCOMMANDS.get(word.lower())
        if not text:
            ack()
            client.views_open(trigger_id=body["trigger_id"],
                              view=intake_modal(str(body.get("channel_id") or "")))
            return
        if handler is not None:
            ack()
            try:
                handler(svc, body, rest.strip(), respond)
            except Exception as exc:
                respond(text=f"⚠️ {readable(exc)}", response_type="ephemeral")
            return
        ack()
        if not context.get("fp_queued"):  # queued already with its delivery record
            svc.later("open_command", command_payload(body))


def opens_session(body: dict[str, Any]) -> bool:
    """A ``/flowpilot <problem>`` (not empty, not a subcommand)."""
    text = (body.get("text") or "").strip()
    return bool(text) and text.partition(" ")[0].lower() not in SUBCOMMANDS


def command_payload(body: dict[str, Any]) -> dict[str, Any]:
    return {"team_id": body.get("team_id"), "user_id": body.get("user_id"),
            "channel_id": body.get("channel_id"), "text": (body.get("text") or "").strip(),
            "response_url": body.get("response_url")}
