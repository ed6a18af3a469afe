"""Knowledge buttons and commands: "Seen before" (``fp_seen_before``), the draft review in
App Home (``fp_draft_approve``/``fp_draft_edit``/``fp_draft_reject`` and their modals), and
``/flowpilot scripts``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot import ids
from bot.render.knowledge import draft_edit_modal, draft_reject_modal, scripts_text
from bot.services import drafts, knowledge
from bot.services.container import Services
from handlers.commands import subcommand
from handlers.common import readable, team_of, tell, user_of
from handlers.views import field


def _value(body: dict[str, Any]) -> str:
    return str(((body.get("actions") or [{}])[0]).get("value") or "")


def _where(body: dict[str, Any]) -> dict[str, Any]:
    container = body.get("container") or {}
    return {"team_id": team_of(body), "user_id": user_of(body), "value": _value(body),
            "channel": (body.get("channel") or {}).get("id") or container.get("channel_id"),
            "thread_ts": container.get("thread_ts")}


def _tell(svc: Services, p: dict[str, Any], text: str) -> None:
    tell(svc, {"user": {"id": p["user_id"]}, "channel": {"id": p.get("channel")},
               "container": {"thread_ts": p.get("thread_ts")}}, text)


def seen_before_work(svc: Services, p: dict[str, Any]) -> None:
    """After the ack: add the past fix to the session and post it (with its script)."""
    try:
        done = knowledge.adopt(svc, team_id=p["team_id"], user_id=p["user_id"], value=p["value"])
    except Exception as exc:
        _tell(svc, p, f"⚠️ {readable(exc)}")
        return
    if done.step_id is None:
        _tell(svc, p, "That fix is already among this session's fixes.")
        return
    knowledge.announce_adopted(svc, done, p["user_id"])


def _refresh_home(svc: Services, body: dict[str, Any]) -> None:
    from handlers.home import publish_home

    publish_home(svc, team_of(body), user_of(body))


def _reviewed_text(r: drafts.Reviewed, verb: str) -> str:
    if r.done_now:
        return f"✅ Draft {verb}." + (" It is now an approved script." if r.script_id else "")
    return "That draft was already reviewed; nothing changed."


def register(app: App, svc: Services) -> None:
    assert svc.dispatch is not None
    svc.dispatch.register("seen_before", seen_before_work)

    @app.action(ids.prefixed(ids.SEEN_BEFORE))
    def on_seen_before(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        svc.later("seen_before", _where(body))

    @app.action(ids.prefixed(ids.DRAFT_APPROVE))
    def on_approve(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        try:
            r = drafts.approve(svc, team_id=team_of(body), user_id=user_of(body),
                               draft_id=_value(body))
            tell(svc, body, _reviewed_text(r, "approved"))
        except Exception as exc:
            tell(svc, body, f"⚠️ {readable(exc)}")
        _refresh_home(svc, body)

    @app.action(ids.prefixed(ids.DRAFT_EDIT))
    def on_edit(ack: Ack, body: dict[str, Any], client: Any) -> None:
        ack()
        try:
            view = drafts.get_draft(svc, team_of(body), user_of(body), _value(body))
            client.views_open(trigger_id=body["trigger_id"], view=draft_edit_modal(view))
        except Exception as exc:
            tell(svc, body, f"⚠️ {readable(exc)}")

    @app.action(ids.prefixed(ids.DRAFT_REJECT))
    def on_reject(ack: Ack, body: dict[str, Any], client: Any) -> None:
        ack()
        try:
            drafts.get_draft(svc, team_of(body), user_of(body), _value(body))  # may review?
            client.views_open(trigger_id=body["trigger_id"], view=draft_reject_modal(_value(body)))
        except Exception as exc:
            tell(svc, body, f"⚠️ {readable(exc)}")

    @app.view(ids.DRAFT_MODAL)
    def on_edit_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        edits = {"title": field(view, ids.DRAFT_TITLE) or "",
                 "language": field(view, ids.DRAFT_LANGUAGE) or "",
                 "body": field(view, ids.DRAFT_BODY) or ""}
        try:
            r = drafts.approve(svc, team_id=team_of(body), user_id=user_of(body),
                               draft_id=str(view.get("private_metadata") or ""), edits=edits)
        except Exception as exc:
            ack(response_action="errors", errors={ids.DRAFT_BODY: readable(exc)[:150]})
            return
        ack()
        tell(svc, body, _reviewed_text(r, "approved"))
        _refresh_home(svc, body)

    @app.view(ids.DRAFT_REJECT_MODAL)
    def on_reject_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            r = drafts.reject(svc, team_id=team_of(body), user_id=user_of(body),
                              draft_id=str(view.get("private_metadata") or ""),
                              reason=str(field(view, ids.DRAFT_REASON) or ""))
        except Exception as exc:
            ack(response_action="errors", errors={ids.DRAFT_REASON: readable(exc)[:150]})
            return
        ack()
        tell(svc, body, _reviewed_text(r, "rejected"))
        _refresh_home(svc, body)


@subcommand("scripts", group="knowledge", summary="approved scripts")
def _scripts(svc: Services, body: dict[str, Any], rest: str, respond: Callable[..., Any]) -> None:
    scripts, total = drafts.list_scripts(svc, team_of(body))
    respond(text=scripts_text(scripts, total), response_type="ephemeral")
