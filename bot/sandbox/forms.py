"""Modals in the terminal: show the form, ask for each input in turn, submit it signed.

The app's answer to a submission is honoured like Slack does: ``errors`` asks again for the
fields named, ``update`` / ``push`` shows the new form, anything else closes it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from bot.sandbox.fake_slack import TEAM_ID
from bot.sandbox.render_text import FormField, element_state, modal_fields, render_view
from bot.sandbox.signing import view_submission_body

if TYPE_CHECKING:
    from bot.sandbox.terminal import Sandbox

CANCEL = ":cancel"
MAX_ROUNDS = 5


class Cancelled(Exception):
    pass


def fill_form(sb: Sandbox, view: dict[str, Any]) -> None:
    """Ask for the view's inputs and submit it (``:cancel`` closes it unsubmitted)."""
    errors: dict[str, str] = {}
    answers: dict[str, Any] = {}
    for _ in range(MAX_ROUNDS):
        fields = [f for f in modal_fields(view) if f.kind != "file"]
        if not errors:
            sb.say("", *render_view(view, users=sb.screen.names,
                                    channels=sb.screen.channel_names, width=sb.screen.width,
                                    color=sb.screen.color))
            if fields:
                sb.say(f"(fill in the form; {CANCEL} closes it without submitting)")
        try:
            for f in fields:
                if errors and f.block_id not in errors:
                    continue
                if f.block_id in errors:
                    sb.say(f"  ⚠️ {errors[f.block_id]}")
                answers[f.block_id] = ask(sb, f)
        except Cancelled:
            sb.say("(form closed without submitting)")
            return
        values = {f.action_id: element_state(f, answers.get(f.block_id)) for f in fields}
        body, ctype = view_submission_body(
            TEAM_ID, sb.user_id, str(view.get("callback_id") or ""), values,
            private_metadata=str(view.get("private_metadata") or ""),
            view_id=str(view.get("id") or "") or None, user_name=sb.user)
        status, out = sb.send(body, ctype)
        if status != 200:
            sb.say(f"(Slack got HTTP {status} from the app for that form: {out[:200]})")
            return
        answer = _json(out)
        action = answer.get("response_action")
        if action == "errors":
            errors = {str(k): str(v) for k, v in (answer.get("errors") or {}).items()}
            continue
        if action in ("update", "push") and isinstance(answer.get("view"), dict):
            view, errors, answers = answer["view"], {}, {}
            continue
        return
    sb.say("(the form kept coming back; closed)")


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def ask(sb: Sandbox, f: FormField) -> Any:
    """One input: text, a person by name, or an option by number."""
    suffix = ""
    if f.optional:
        suffix = " (Enter to skip)" if "optional" in f.label.lower() else " (optional, Enter to skip)"
    if f.hint:
        sb.say(f"  {f.hint}")
    if f.kind in ("select", "multi_select") and f.options:
        sb.say("  " + "  ".join(f"{i}) {label}" for i, (label, _) in enumerate(f.options, 1)))
        default = next((lbl for lbl, v in f.options if v == f.initial_option), None)
        if default:
            suffix = f" (Enter for {default})"
    if f.kind == "text" and f.initial:
        sb.say("  (Enter keeps the text shown; type to replace it; start with + to add to it; "
               "a pasted block of lines counts as one answer)")
    if f.kind in ("users", "multi_users"):
        people = ", ".join(sb.people)
        suffix = f" ({people}{'; Enter for none' if f.optional else ''})"
    while True:
        line = sb.read(f"  {f.label}{suffix}> ").strip()
        if line.lower() == CANCEL:
            raise Cancelled
        value, problem = _parse(sb, f, line)
        if problem:
            sb.say(f"  {problem}")
            continue
        return value


def _parse(sb: Sandbox, f: FormField, line: str) -> tuple[Any, str]:
    if not line:
        if f.kind in ("select",) and f.initial_option:
            return f.initial_option, ""
        if f.initial and f.kind == "text":
            return f.initial, ""
        return (None, "") if f.optional else (None, "This field is required.")
    if f.kind in ("users", "multi_users"):
        ids = []
        for name in [n.strip().lstrip("@").lower() for n in line.split(",") if n.strip()]:
            if name in sb.people:
                ids.append(sb.people[name][0])
            elif name.upper().startswith(("U", "W")) and name.upper()[1:].isalnum():
                ids.append(name.upper())
            else:
                return None, f"No one called {name} here: {', '.join(sb.people)}."
        return (ids if f.kind == "multi_users" else ids[0]), ""
    if f.kind == "text" and f.initial and line.startswith("+"):
        return f"{f.initial}\n\n{line[1:].strip()}", ""
    if f.kind in ("select", "multi_select"):
        chosen = []
        for item in [p.strip() for p in line.split(",") if p.strip()]:
            value = _option(f, item)
            if value is None:
                return None, "Choose one of the numbers shown."
            chosen.append(value)
        return (chosen if f.kind == "multi_select" else chosen[0]), ""
    return line, ""


def _option(f: FormField, item: str) -> str | None:
    if item.isdigit() and 1 <= int(item) <= len(f.options):
        return f.options[int(item) - 1][1]
    for label, value in f.options:
        if item.lower() in (value.lower(), label.lower()) or label.lower().endswith(item.lower()):
            return value
    return None
