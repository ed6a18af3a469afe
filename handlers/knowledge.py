"""Knowledge buttons and commands: "Seen before" (``fp_seen_before``), the draft review in
App Home (``fp_draft_approve``/``fp_draft_edit``/``fp_draft_reject`` and their modals), and
``/flowpilot scripts``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot import ids
from bot.render.knowledge import draft_edit_modal, draft_reject_modal, scripts_text
from bot.services import drafts
from bot.services.container import Services
from handlers.commands import subcommand
from handlers.common import action_value, run_click, run_submit, team_of, tell, user_of
from handlers.views import field


def _where(body: dict[str, Any]) -> dict[str, Any]:
    container = body.get("container") or {}
    return {"team_id": team_of(body), "user_id": user_of(body), "value": action_value(body),
            "channel": (body.get("channel") or {}).get("id") or container.get("channel_id"),
            "thread_ts": container.get("thread_ts")}


def _refresh_home(svc: Services, body: dict[str, Any]) -> None:
    from handlers.home import publish_home

    publish_home(svc, team_of(body), user_of(body))


def _reviewed_text(r: drafts.Reviewed, verb: str) -> str:
    if r.done_now:
        return f"✅ Draft {verb}." + (" It is now an approved script." if r.script_id else "")
    return "That draft was already reviewed; nothing changed."


def register(app: App, svc: Services) -> None:
    @app.action(ids.prefixed(ids.SEEN_BEFORE))
    def on_seen_before(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        svc.later("seen_before", _where(body))

    @app.action(ids.prefixed(ids.DRAFT_APPROVE))
    def on_approve(ack: Ack, body: dict[str, Any]) -> None:
        r = run_click(svc, ack, body, lambda: drafts.approve(
            svc, team_id=team_of(body), user_id=user_of(body), draft_id=action_value(body)),
            ack_first=True)
        if r is not None:
            tell(svc, body, _reviewed_text(r, "approved"))
        _refresh_home(svc, body)

    @app.action(ids.prefixed(ids.DRAFT_EDIT))
    def on_edit(ack: Ack, body: dict[str, Any], client: Any) -> None:
        def edit() -> None:
            view = drafts.get_draft(svc, team_of(body), user_of(body), action_value(body))
            client.views_open(trigger_id=body["trigger_id"], view=draft_edit_modal(view))

        run_click(svc, ack, body, edit, ack_first=True)

    @app.action(ids.prefixed(ids.DRAFT_REJECT))
    def on_reject(ack: Ack, body: dict[str, Any], client: Any) -> None:
        def reject() -> None:
            drafts.get_draft(svc, team_of(body), user_of(body), action_value(body))  # may review?
            client.views_open(trigger_id=body["trigger_id"], view=draft_reject_modal(action_value(body)))

        run_click(svc, ack, body, reject, ack_first=True)

    @app.view(ids.DRAFT_MODAL)
    def on_edit_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        edits = {"title": field(view, ids.DRAFT_TITLE) or "",
                 "language": field(view, ids.DRAFT_LANGUAGE) or "",
                 "body": field(view, ids.DRAFT_BODY) or ""}
        r = run_submit(ack, ids.DRAFT_BODY, lambda: drafts.approve(
            svc, team_id=team_of(body), user_id=user_of(body),
            draft_id=str(view.get("private_metadata") or ""), edits=edits))
        if r is None:
            return
        tell(svc, body, _reviewed_text(r, "approved"))
        _refresh_home(svc, body)

    @app.view(ids.DRAFT_REJECT_MODAL)
    def on_reject_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        r = run_submit(ack, ids.DRAFT_REASON, lambda: drafts.reject(
            svc, team_id=team_of(body), user_id=user_of(body),
            draft_id=str(view.get("private_metadata") or ""),
            reason=str(field(view, ids.DRAFT_REASON) or "")))
        if r is None:
            return
        tell(svc, body, _reviewed_text(r, "rejected"))
        _refresh_home(svc, body)


@subcommand("scripts")
def _scripts(svc: Services, body: dict[str, Any], rest: str, respond: Callable[..., Any]) -> None:
    scripts, total, rejected = drafts.list_scripts(svc, team_of(body), user_of(body))
    respond(text=scripts_text(scripts, total, rejected), response_type="ephemeral")
