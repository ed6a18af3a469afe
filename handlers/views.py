"""Modal submissions and the message shortcut."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import ids
from bot.services.attachments import refs_from_event
from bot.services.container import Services
from bot.services.sessions import Intake
from handlers.common import team_of, tell, user_of


def field(view: dict[str, Any], action_id: str) -> Any:
    """A submitted input's value (text, selected user, or selected option)."""
    state = ((view.get("state") or {}).get("values") or {}).get(action_id) or {}
    element = state.get(action_id) or {}
    if "selected_user" in element:
        return element.get("selected_user")
    if "selected_option" in element:
        return (element.get("selected_option") or {}).get("value")
    return element.get("value")


def uploaded(view: dict[str, Any], action_id: str) -> list[dict[str, Any]]:
    """The files of a file_input, as refs (``state.values[block][action].files``, each read
    again through files.info: the modal's file objects may be partial)."""
    state = ((view.get("state") or {}).get("values") or {}).get(action_id) or {}
    files = (state.get(action_id) or {}).get("files") or []
    return [{**ref, "check": True} for ref in refs_from_event({"files": files})]


def register(app: App, svc: Services) -> None:
    @app.view(ids.INTAKE_MODAL)
    def on_intake(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        problem = (field(view, ids.INTAKE_PROBLEM) or "").strip()
        log_text = (field(view, ids.INTAKE_LOG) or "").strip()
        ticket = (field(view, ids.INTAKE_TICKET) or "").strip() or None
        files = uploaded(view, ids.INTAKE_FILES)
        if not problem:
            ack(response_action="errors",
                errors={ids.INTAKE_PROBLEM: "Describe the problem in a sentence or two."})
            return
        ack()
        channel = str(view.get("private_metadata") or "") or user_of(body)
        svc.later("open_session", _open_payload(body, channel, None, Intake(
            text=problem, log=log_text, ticket=ticket, source="modal", files=files)))

    @app.shortcut(ids.SHORTCUT_TROUBLESHOOT)
    def on_shortcut(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        message = body.get("message") or {}
        text = (message.get("text") or "").strip()
        channel = str((body.get("channel") or {}).get("id") or "")
        files = refs_from_event(message)  # a screenshot or log shared with it (issue 18)
        if not text and not files:
            tell(svc, body, "That message has no text to troubleshoot.")
            return
        svc.later("open_session", _open_payload(
            body, channel, str(message.get("thread_ts") or message.get("ts")),
            Intake(text=text, source="shortcut", files=files)))


def _open_payload(body: dict[str, Any], channel: str, thread_ts: str | None,
                  intake: Intake) -> dict[str, Any]:
    return {"team_id": team_of(body), "user_id": user_of(body), "channel": channel,
            "thread_ts": thread_ts, "intake": {"text": intake.text, "log": intake.log,
                                               "ticket": intake.ticket, "source": intake.source,
                                               "files": intake.files}}
