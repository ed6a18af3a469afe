"""``/flowpilot``: open a session, or a subcommand (help, list, resolve, park, handoff…)."""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.context import BoltContext

from bot import ids
from bot.render.commands import render_start_prompt, render_starting
from bot.render.modals import intake_modal
from bot.services import acks
from bot.services.container import Services
from handlers.common import action_value, channel_of, readable, team_of, user_of

# What ``help`` shows before the registered subcommands: the ways in that are not words.
OPENERS = (
    "`/flowpilot <problem>` — open a session (e.g. `/flowpilot Outlook keeps asking for a password`)",
    "`/flowpilot` — open the intake form (problem, pasted log, ticket number)",
    "`@FlowPilot <problem>` — open a session on that message's thread (inside a thread, the "
    "thread so far is the intake)",
    "Message menu → *Troubleshoot this* — open a session from any message",
)
# Help's groups, in the order shown; a subcommand names one (unknown names go last).
GROUPS = ("sessions", "knowledge", "teams", "psa", "admin", "help")
GROUP_TITLES = {"sessions": "Sessions", "knowledge": "Knowledge", "teams": "Teams (admins)",
                "psa": "PSA", "admin": "Workspace (admins)", "help": "Help"}
NAMING = ("Commands that act on a session name it by its reference (`fp-…`, in its header and "
          "in `/flowpilot list`) or its thread's link: Slack does not tell FlowPilot which "
          "thread a command was typed in.")

Subcommand = Callable[[Services, dict[str, Any], str, Callable[..., Any]], None]


@dataclass(frozen=True)
class Spec:
    """A registered subcommand and its line in ``help``."""

    name: str
    run: Subcommand
    group: str
    usage: str
    summary: str


SUBCOMMANDS: dict[str, Subcommand] = {}
SPECS: dict[str, Spec] = {}


def subcommand(name: str, *, group: str = "more", usage: str = "",
               summary: str = "") -> Callable[[Subcommand], Subcommand]:
    """Register ``/flowpilot <name> …``; ``help`` lists it under ``group`` (generated from
    this registry, so it cannot drift)."""

    def wrap(fn: Subcommand) -> Subcommand:
        SUBCOMMANDS[name] = fn
        SPECS[name] = Spec(name, fn, group, usage or name, summary)
        return fn

    return wrap


def help_text() -> str:
    """Everything ``/flowpilot`` does, grouped, from the registered subcommands."""
    lines = ["*FlowPilot* — troubleshooting co-pilot in a thread.", "", "*Open a session*"]
    lines += [f"• {line}" for line in OPENERS]
    order = {g: i for i, g in enumerate(GROUPS)}
    groups = sorted({s.group for s in SPECS.values()}, key=lambda g: (order.get(g, 99), g))
    for group in groups:
        lines += ["", f"*{GROUP_TITLES.get(group, group.capitalize())}*"]
        for spec in sorted((s for s in SPECS.values() if s.group == group),
                           key=lambda s: s.name):
            said = f" — {spec.summary}" if spec.summary else ""
            lines.append(f"• `/flowpilot {spec.usage}`{said}")
    lines += ["", f"_{NAMING}_"]
    return "\n".join(lines)


@subcommand("help", group="help", summary="this list")
def _help(svc: Services, body: dict[str, Any], rest: str, respond: Callable[..., Any]) -> None:
    respond(text=help_text(), response_type="ephemeral")


# A single word longer than a button's value can carry (Slack: 2,000 characters) is a paste,
# not a mistyped subcommand: it opens a session at once rather than lose its tail.
ASK_MAX = 1_900


def classify(text: str) -> str:
    """What ``/flowpilot <text>`` does: ``form`` (empty), ``sub`` (a known subcommand),
    ``ask`` (a single unknown word: confirm first) or ``open`` (a problem: open a session)."""
    text = text.strip()
    if not text:
        return "form"
    word = text.split(None, 1)[0]
    if word.lower() in SUBCOMMANDS:
        return "sub"
    if word == text and len(text) <= ASK_MAX:
        return "ask"
    return "open"


def suggestion(word: str) -> str | None:
    """The subcommand a word is a close misspelling of (``staus`` → ``status``), if any."""
    if len(word) > 40:
        return None
    found = difflib.get_close_matches(word.lower(), list(SUBCOMMANDS), n=1, cutoff=0.75)
    return found[0] if found else None


def register(app: App, svc: Services) -> None:
    @app.command(ids.COMMAND)
    def on_command(ack: Ack, body: dict[str, Any], respond: Callable[..., Any], client: Any,
                   context: BoltContext) -> None:
        text = (body.get("text") or "").strip()
        word, rest = (text.split(None, 1) + ["", ""])[:2]  # any whitespace, as classify
        kind = classify(text)
        if kind == "form":
            ack()
            client.views_open(trigger_id=body["trigger_id"],
                              view=intake_modal(str(body.get("channel_id") or "")))
            return
        if kind == "sub":
            ack()
            try:
                SUBCOMMANDS[word.lower()](svc, body, rest.strip(), respond)
            except Exception as exc:
                respond(text=f"⚠️ {readable(exc)}", response_type="ephemeral")
            return
        ack()
        if kind == "ask":
            msg = render_start_prompt(text, uuid.uuid4().hex, suggestion(text))
            respond(text=msg.text, blocks=msg.blocks, response_type="ephemeral")
            return
        if not context.get("fp_queued"):  # queued already with its delivery record
            svc.later("open_command", command_payload(body))

    @app.action(ids.prefixed(ids.CMD_START))
    def on_start(ack: Ack, body: dict[str, Any], respond: Callable[..., Any]) -> None:
        """Start on the "Start a session about '…'?" prompt: opens it once, however many
        times it is clicked (the prompt's nonce is the delivery key)."""
        ack()
        nonce, _, text = action_value(body).partition("|")
        if not nonce or not text.strip():
            respond(text="⚠️ That button is no longer valid. Type `/flowpilot <problem>`.",
                    response_type="ephemeral", replace_original=True)
            return
        payload = {"team_id": team_of(body), "user_id": user_of(body),
                   "channel_id": channel_of(body), "text": text.strip(),
                   "response_url": body.get("response_url")}
        event_id = acks.record_delivery(
            svc.factory, key=f"cmd_start:{nonce}"[:255], kind="command", now=svc.clock(),
            team_id=team_of(body) or None, work=("open_command", payload),
            wake=svc.dispatch.queued,
        )
        if event_id is None:
            return  # a double click: the session is being opened already
        if not svc.dispatch.queued:
            svc.later_recorded(event_id, "open_command", payload)
        msg = render_starting(text)
        respond(text=msg.text, blocks=msg.blocks, response_type="ephemeral",
                replace_original=True)

    @app.action(ids.prefixed(ids.CMD_CANCEL))
    def on_cancel(ack: Ack, respond: Callable[..., Any]) -> None:
        ack()
        respond(delete_original=True)


def opens_session(body: dict[str, Any]) -> bool:
    """A ``/flowpilot <problem>`` (not empty, not a subcommand, not a single word to ask)."""
    return classify(body.get("text") or "") == "open"


def command_payload(body: dict[str, Any]) -> dict[str, Any]:
    return {"team_id": body.get("team_id"), "user_id": body.get("user_id"),
            "channel_id": body.get("channel_id"), "text": (body.get("text") or "").strip(),
            "response_url": body.get("response_url")}
