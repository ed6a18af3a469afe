"""Session controls: resolve, escalate, take over, park, resume, rate, feedback — buttons,
their modals, and the ``/flowpilot resolve|park|resume|handoff|escalate`` subcommands.

The state change happens in a service before the ack; Slack posts and updates after it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot import ids
from bot.domain.refs import take_session_word
from bot.errors import DomainError, SlackError
from bot.render.modals import escalate_modal, feedback_modal, note_digest, resolve_modal
from bot.services import command_target, escalation, lifecycle, output_delivery, teams
from bot.services.container import Services
from handlers.commands import subcommand
from handlers.common import action_value, run_click, run_submit, team_of, tell, user_of
from handlers.views import field

USER_REF = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|^([UW][A-Z0-9]{2,})$")


def _who(body: dict[str, Any]) -> dict[str, str]:
    return {"team_id": team_of(body), "user_id": user_of(body)}


def _open(svc: Services, body: dict[str, Any], view: dict[str, Any]) -> None:
    try:
        svc.notifier.open_view(str(body.get("trigger_id") or ""), view)
    except SlackError as exc:
        tell(svc, body, f"⚠️ {exc.message}")


def _escalate_and_post(svc: Services, done: lifecycle.Escalated) -> str:
    """Post the package now; if the channel refuses, the job retries. Returns what to tell."""
    output_delivery.deliver_session(svc, done.moved.session_id)  # the PSA's copy (issue 13)
    if escalation.post_escalation_package(svc, done.moved.session_id):
        return ""
    return ("⚠️ The escalation is saved, but the escalation channel refused the post. "
            "FlowPilot will keep retrying; check that it is invited to that channel.")


def _tell_in_thread(svc: Services, m: lifecycle.Moved, user: str, text: str) -> None:
    with contextlib.suppress(SlackError):
        svc.notifier.ephemeral(m.channel, user, text, thread_ts=m.thread_ts)


def register(app: App, svc: Services) -> None:
    _register_resolve(app, svc)
    _register_escalate(app, svc)
    _register_take_over(app, svc)
    for prefix, move in ((ids.PARK, lifecycle.park), (ids.RESUME, lifecycle.resume)):
        _register_move(app, svc, prefix, move)
    _register_rating(app, svc)


def _register_resolve(app: App, svc: Services) -> None:
    @app.action(ids.prefixed(ids.RESOLVE))
    def on_resolve(ack: Ack, body: dict[str, Any]) -> None:
        sid = action_value(body)
        preview = run_click(svc, ack, body, lambda: lifecycle.preview_resolution(
            svc, **_who(body), session_id=sid))
        if preview is not None:
            _open(svc, body, resolve_modal(sid, preview))

    @app.view(ids.RESOLVE_MODAL)
    def on_resolve_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        note = str(field(view, ids.RESOLVE_NOTE) or "")
        sid, mode, shown = (str(view.get("private_metadata") or "").split(":") + ["", ""])[:3]
        edited: str | None = None
        if mode == "edit":  # the whole note was in the input: an edit replaces it
            edited = note if note.strip() and note_digest(note) != shown else None
            note = ""
        done = run_submit(ack, ids.RESOLVE_NOTE, lambda: lifecycle.resolve(
            svc, **_who(body), session_id=sid, note=note, edited=edited))
        if done is not None:
            lifecycle.announce_resolved(svc, done)


def _register_escalate(app: App, svc: Services) -> None:
    @app.action(ids.prefixed(ids.ESCALATE))
    def on_escalate(ack: Ack, body: dict[str, Any]) -> None:
        sid = action_value(body)
        if run_click(svc, ack, body, _passes(lambda: lifecycle.check_escalation(
                svc, **_who(body), session_id=sid))):
            _open(svc, body, escalate_modal(sid, teams=teams.team_names(svc, team_of(body))))

    @app.view(ids.ESCALATE_MODAL)
    def on_escalate_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        reason = str(field(view, ids.ESCALATE_REASON) or "").strip()
        if not reason:
            ack(response_action="errors",
                errors={ids.ESCALATE_REASON: "Say why this needs an escalation engineer."})
            return
        done = run_submit(ack, ids.ESCALATE_REASON, lambda: lifecycle.request_escalation(
            svc, **_who(body), session_id=str(view.get("private_metadata")), reason=reason,
            engineer=field(view, ids.ESCALATE_TO) or None,
            urgency=field(view, ids.ESCALATE_URGENCY) or None,
            team=field(view, ids.ESCALATE_TEAM) or None,
        ))
        if done is None:
            return
        problem = _escalate_and_post(svc, done)
        if problem:
            _tell_in_thread(svc, done.moved, user_of(body), problem)


def _register_take_over(app: App, svc: Services) -> None:
    @app.action(ids.prefixed(ids.TAKE_OVER))
    def on_take_over(ack: Ack, body: dict[str, Any]) -> None:
        done = run_click(svc, ack, body, lambda: lifecycle.take_over(
            svc, **_who(body), session_id=action_value(body)))
        if done is not None:
            lifecycle.announce_take_over(svc, done)


def _register_rating(app: App, svc: Services) -> None:
    @app.action(ids.prefixed(ids.RATE))
    def on_rate(ack: Ack, body: dict[str, Any]) -> None:
        def rate() -> int:
            raw = action_value(body)
            if "|" in raw:
                sid, rating = lifecycle.parse_rating_value(raw)
            else:  # CONTRACTS.md's plain ``1``…``5``: the clicked message's thread names the session
                sid, rating = _session_of_thread(svc, body), raw
            return lifecycle.rate(svc, **_who(body), session_id=sid, rating=rating)

        value = run_click(svc, ack, body, rate)
        if value is not None:
            tell(svc, body, f"🙏 Thanks — rated {value}/5. Press another to change it.")

    @app.action(ids.prefixed(ids.FEEDBACK))
    def on_feedback(ack: Ack, body: dict[str, Any]) -> None:
        sid = action_value(body)
        if run_click(svc, ack, body, _passes(lambda: lifecycle.check_may_act(
                svc, **_who(body), session_id=sid))):
            _open(svc, body, feedback_modal(sid))

    @app.view(ids.FEEDBACK_MODAL)
    def on_feedback_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        run_submit(ack, ids.FEEDBACK_TEXT, lambda: lifecycle.feedback(
            svc, **_who(body), session_id=str(view.get("private_metadata")),
            text=str(field(view, ids.FEEDBACK_TEXT) or "")))


def _register_move(app: App, svc: Services, prefix: str,
                   move: Callable[..., lifecycle.Moved]) -> None:
    @app.action(ids.prefixed(prefix))
    def on_move(ack: Ack, body: dict[str, Any]) -> None:
        moved = run_click(svc, ack, body, lambda: move(
            svc, **_who(body), session_id=action_value(body)))
        if moved is not None:
            lifecycle.announce_moved(svc, moved)


# ── /flowpilot resolve | park | resume | handoff @user | escalate [reason] ──────────────

Respond = Callable[..., Any]


def _target(svc: Services, body: dict[str, Any], rest: str,
            command: str) -> tuple[dict[str, str], str]:
    """The session the command names (a ``fp-…`` reference or a thread link), and the rest of
    its text. Slash commands carry no thread, so an unnamed session is never guessed."""
    who = {"team_id": str(body.get("team_id") or ""), "user_id": str(body.get("user_id") or "")}
    ref, link, rest = take_session_word(rest)
    if ref:
        sid = command_target.by_ref(svc, who["team_id"], ref)
    elif link:
        sid = command_target.by_link(svc, who["team_id"], *link)
    else:
        raise command_target.unnamed(svc, who["team_id"], who["user_id"], command)
    return {**who, "session_id": sid}, rest


def _private(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral")


@subcommand("resolve")
def _resolve_cmd(svc: Services, body: dict[str, Any], rest: str, respond: Respond) -> None:
    target, note = _target(svc, body, rest, "resolve")
    done = lifecycle.resolve(svc, **target, note=note)
    lifecycle.announce_resolved(svc, done)
    _private(respond, "✅ Resolved. The resolution note is in the session's thread.")


@subcommand("park")
def _park_cmd(svc: Services, body: dict[str, Any], rest: str, respond: Respond) -> None:
    lifecycle.announce_moved(svc, lifecycle.park(svc, **_target(svc, body, rest, "park")[0]))
    _private(respond, "⏸️ Parked. `/flowpilot resume` (or the Resume button) picks it up again.")


@subcommand("resume")
def _resume_cmd(svc: Services, body: dict[str, Any], rest: str, respond: Respond) -> None:
    lifecycle.announce_moved(svc, lifecycle.resume(svc, **_target(svc, body, rest, "resume")[0]))
    _private(respond, "▶️ Resumed.")


@subcommand("handoff")
def _handoff_cmd(svc: Services, body: dict[str, Any], rest: str, respond: Respond) -> None:
    target, rest = _target(svc, body, rest, "handoff")
    match = USER_REF.search(rest.strip().split(" ")[0] if rest.strip() else "")
    if match is None:
        raise DomainError("Name the colleague to hand it to: `/flowpilot handoff fp-… @user`.")
    to_user = match.group(1) or match.group(2)
    done = lifecycle.handoff(svc, **target, to_user=to_user)
    lifecycle.announce_take_over(svc, done)
    _private(respond, f"🔁 Handed to <@{to_user}>.")


@subcommand("escalate")
def _escalate_cmd(svc: Services, body: dict[str, Any], rest: str, respond: Respond) -> None:
    target, rest = _target(svc, body, rest, "escalate")
    first, _, after = rest.strip().partition(" ")
    team = first if teams.team_word(first) else None
    if team is not None:
        rest = after
    if not rest.strip():
        lifecycle.check_escalation(svc, **target)
        # an unknown team is refused before the modal opens; a known one is preselected
        named = teams.name_of(svc, target["team_id"], team) if team is not None else None
        svc.notifier.open_view(str(body.get("trigger_id") or ""), escalate_modal(
            target["session_id"], teams=teams.team_names(svc, target["team_id"]), team=named))
        return
    done = lifecycle.request_escalation(svc, **target, reason=rest, team=team)
    problem = _escalate_and_post(svc, done)
    _private(respond, problem or "🔺 Escalated. The package is in the escalation channel.")


def _session_of_thread(svc: Services, body: dict[str, Any]) -> str:
    from bot.errors import NotFoundError
    from bot.services.queries import session_in_thread
    from handlers.common import channel_of, thread_of

    channel, thread = channel_of(body), thread_of(body)
    found = session_in_thread(svc, channel, thread) if thread else None
    if found is not None:
        return found
    raise NotFoundError("That rating button is no longer valid.")


def _passes(check: Callable[[], object]) -> Callable[[], bool]:
    """A check that raises to refuse, as a change that returns True when it passes."""

    def run() -> bool:
        check()
        return True

    return run
