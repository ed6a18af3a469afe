"""Screenshots and log files shared with a session (issue 18).

Before the ack only the files' descriptions (id, name, type, size, Slack's download address)
are kept with the delivery (``refs_from_event``): nothing is downloaded in Slack's 3-second
window. After it:

- with the intake (``take`` from ``open_session``): text files are downloaded, decoded,
  size-capped and redacted exactly like a pasted log, and kept as the intake's log;
- in the thread (``for_turn``, from the turn runner, under the session's turn lease): the
  same for text files, appended to the reply; images go to Claude as image blocks only when
  the workspace allows it (``allow_images``, off by default: an image cannot be redacted) and
  the session runs on Claude. Image bytes are never stored: a retried turn downloads them
  again. Everything else gets one clear line in the thread, and the rest of the message is
  still taken.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

from bot.domain import attachments as rules
from bot.engines.base import ImageInput, TurnContext
from bot.errors import SlackError
from bot.redact import redact
from bot.services import workspace
from bot.services.container import Services
from storage.db import unit_of_work
from storage.models import AISession, InboundEvent

log = logging.getLogger(__name__)

SCOPE_LINE = ("⚠️ I couldn't open *{name}*: FlowPilot lacks Slack's `files:read` permission "
              "(an admin needs to reinstall the app with it). Paste the text instead.")
IMAGES_OFF = ("🖼️ I can't look at *{name}*: images are off in this workspace, because a picture "
              "can't be checked for passwords (an admin can turn them on with `/flowpilot "
              "settings set allow_images on`). Type the error it shows, one line is enough.")
IMAGES_OFFLINE = ("🖼️ I can't look at *{name}*: the built-in flows can't read images. Type the "
                  "error it shows, one line is enough.")


def refs_from_event(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The files a message shares, as Slack describes them (``files`` of a ``message`` or
    ``app_mention`` event): small, JSON, no network. Malformed entries are dropped."""
    refs: list[dict[str, Any]] = []
    for f in event.get("files") or []:
        if not isinstance(f, dict) or not isinstance(f.get("id"), str) or not f["id"]:
            continue
        size = f.get("size")
        url = f.get("url_private_download") or f.get("url_private") or ""
        refs.append({
            "id": f["id"][:40], "name": str(f.get("name") or f.get("title") or f["id"])[:200],
            "mimetype": str(f.get("mimetype") or "")[:100],
            "filetype": str(f.get("filetype") or "")[:40],
            "size": size if isinstance(size, int) and not isinstance(size, bool) else None,
            "url": str(url)[:2000],
            # Slack Connect files only name themselves: ask files.info for the rest.
            "check": f.get("file_access") == "check_file_info" or f.get("mode") == "file_access",
        })
        if len(refs) > rules.MAX_FILES:
            break
    return refs


@dataclass
class Taken:
    """What the files of one message gave."""

    text: str = ""  # the text files, redacted, each under its name
    images: list[ImageInput] = field(default_factory=list)  # for Claude only; never stored
    notes: list[str] = field(default_factory=list)  # what the model is told of each file
    lines: list[str] = field(default_factory=list)  # one line per file not taken, for the thread
    redacted: int = 0
    log: bool = False
    image: bool = False


def image_mode(svc: Services, db: Any, session_engine: str, account: Any) -> str:
    """``send`` (Claude sees images), ``off`` (the workspace keeps them out) or ``offline``."""
    if session_engine != "claude" or svc.engine_name != "claude":
        return "offline"
    return "send" if _truthy(workspace.value(svc, db, account, "allow_images")) else "off"


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("on", "true", "yes", "1")


def take(svc: Services, refs: list[dict[str, Any]], patterns: list[str], *, images: str,
         texts: bool = True) -> Taken:
    """Read the files (see the module's docstring). ``images``: ``send``, ``off``, ``offline``
    or ``skip`` (left for the turn); ``texts`` False: text files were taken before (a retried
    turn), only images are fetched again, silently."""
    out = Taken()
    for n, ref in enumerate(refs):
        name = redact(_clean_name(str(ref.get("name") or "file")), patterns).text
        if n >= rules.MAX_FILES:
            if texts:
                out.lines.append(f"📎 Only the first {rules.MAX_FILES} files of a message are "
                                 "read; paste the rest.")
            break
        kind = rules.kind_of(name, str(ref.get("mimetype") or ""), str(ref.get("filetype") or ""))
        if kind == "image" and images == "skip":
            continue
        if kind != "image" and not texts:
            continue
        if kind == "image" and images in ("off", "offline"):
            out.lines.append((IMAGES_OFF if images == "off" else IMAGES_OFFLINE).format(name=name))
            out.notes.append(f"(shared an image, {name}: not shown to you; they were asked to "
                             "type what it shows)")
            out.image = True
            continue
        try:
            ref = _described(svc, ref)
        except SlackError as exc:
            out.lines.append(_refusal_line(name, exc))
            continue
        problem = _size_problem(name, ref, kind)
        if problem:
            out.lines.append(problem)
            continue
        if kind == "image":
            _take_image(svc, ref, name, out, quiet=not texts)
        else:
            _take_text(svc, ref, name, patterns, out)
    if out.text:  # several files together keep no more than one pasted log would
        from bot.services.sessions import MAX_LOG_CHARS, clean_input

        out.text, _ = clean_input(out.text, MAX_LOG_CHARS)
    return out


def _clean_name(name: str) -> str:
    """A file name as it may be shown: one line, no mrkdwn that could ping or link."""
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "file"
    for ch in "<>*_`~|":
        name = name.replace(ch, " ")
    return " ".join(name.split())[:120] or "file"


def _described(svc: Services, ref: dict[str, Any]) -> dict[str, Any]:
    """The ref with its size and address, from files.info when the event did not give them."""
    if not ref.get("check") and ref.get("size") is not None and ref.get("url"):
        return ref
    info = svc.notifier.file_info(str(ref["id"]))
    size = info.get("size")
    return {**ref, "check": False, "size": size if isinstance(size, int) else None,
            "url": str(info.get("url_private_download") or info.get("url_private") or ""),
            "mimetype": str(info.get("mimetype") or ref.get("mimetype") or ""),
            "name": ref.get("name") or info.get("name")}


def _refusal_line(name: str, exc: SlackError) -> str:
    if exc.code in ("missing_scope", "no_file_access", "not_allowed_token_type"):
        return SCOPE_LINE.format(name=name)
    if exc.code == "file_not_found":
        return f"⚠️ *{name}* was deleted or isn't visible to FlowPilot: nothing to read."
    return (f"⚠️ I couldn't download *{name}* from Slack just now. Paste the text (or share "
            "the file again).")


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def _size_problem(name: str, ref: dict[str, Any], kind: str) -> str | None:
    size = ref.get("size")
    if kind == "other":
        what = ref.get("mimetype") or "unknown type"
        return (f"📎 *{name}* ({what}) isn't text or an image FlowPilot can read. Paste the "
                "relevant lines instead.")
    if size == 0:
        return f"📎 *{name}* is empty: nothing to read."
    if isinstance(size, int) and size > rules.MAX_FILE_BYTES:
        return (f"📎 *{name}* is {_mb(size)}: over the {_mb(rules.MAX_FILE_BYTES)} FlowPilot "
                "reads, so it was not downloaded. Paste the relevant part instead.")
    if kind == "image" and isinstance(size, int) and size > rules.MAX_IMAGE_BYTES:
        return (f"🖼️ *{name}* is {_mb(size)}: over the {_mb(rules.MAX_IMAGE_BYTES)} an image may "
                "weigh for the model. Share a smaller screenshot, or type the error it shows.")
    if not ref.get("url"):
        return f"⚠️ Slack gave no download address for *{name}*. Paste the text instead."
    return None


def _take_text(svc: Services, ref: dict[str, Any], name: str, patterns: list[str],
               out: Taken) -> None:
    from bot.services.sessions import MAX_LOG_CHARS, clean_input

    try:
        data = svc.notifier.download(str(ref["url"]), rules.MAX_TEXT_BYTES)
    except SlackError as exc:
        out.lines.append(_refusal_line(name, exc))
        return
    if not data.strip():
        out.lines.append(f"📎 *{name}* is empty: nothing to read.")
        return
    if rules.looks_binary(data):
        out.lines.append(f"📎 *{name}* is not text (it looks like a binary file, whatever its "
                         "name says). Paste the relevant lines instead.")
        return
    text, _ = clean_input(rules.decode_text(data).strip(), MAX_LOG_CHARS)
    cut = len(data) >= rules.MAX_TEXT_BYTES and (ref.get("size") or 0) > rules.MAX_TEXT_BYTES
    red = redact(text, patterns)
    head = f"Attached file {name}" + (" (only its first 1 MB was read)" if cut else "")
    out.text = f"{out.text}\n\n{head}:\n{red.text}".strip()
    out.redacted += red.count
    out.log = True


def _take_image(svc: Services, ref: dict[str, Any], name: str, out: Taken, *,
                quiet: bool) -> None:
    try:
        data = svc.notifier.download(str(ref["url"]), rules.MAX_IMAGE_BYTES + 1)
    except SlackError as exc:
        if not quiet:
            out.lines.append(_refusal_line(name, exc))
        return
    media_type, why = rules.image_problem(data)
    if media_type is None:
        if not quiet:
            out.lines.append(f"🖼️ I can't show *{name}* to the model: {why}. Type the error it "
                             "shows instead.")
        return
    out.images.append(ImageInput(name=name, media_type=media_type,
                                 data=base64.b64encode(data).decode("ascii")))
    out.notes.append(f"(shared a screenshot, {name}: attached as an image to this turn)")
    out.image = True


def for_turn(svc: Services, session_id: uuid.UUID, event_ids: list[uuid.UUID],
             ctx: TurnContext) -> TurnContext:
    """Take the files of this turn's inputs (the turn lease is held, no transaction open):
    text into the input's stored text (once), images into the context (each time), one line
    in the thread per file not taken (once). Returns the context the engine gets."""
    from bot.services.sessions import workspace_patterns

    if not any(i.files for i in ctx.inputs):
        return ctx  # the common turn: no file, no query
    with unit_of_work(svc.factory) as db:
        events = [db.get(InboundEvent, i) for i in event_ids]
        pending = [(n, e.id, dict(e.payload or {})) for n, e in enumerate(events)
                   if e is not None and (e.payload or {}).get("files")]
        if not pending:
            return ctx
        session = db.get(AISession, session_id)
        if session is None:
            return ctx
        mode = image_mode(svc, db, session.engine, session.account)
        team_id = session.account.slack_team_id
        channel, thread = session.slack_channel_id, session.slack_thread_ts
    patterns = workspace_patterns(svc, team_id)
    inputs, images, lines, kinds = list(ctx.inputs), [], [], {"log": False, "image": False}
    updates: dict[uuid.UUID, dict[str, Any]] = {}
    for n, event_id, payload in pending:
        first = not payload.get("files_taken")
        got = take(svc, list(payload["files"]), patterns, images=mode, texts=first)
        images += got.images
        if first:
            lines += got.lines
            kinds["log"] = kinds["log"] or got.log
            kinds["image"] = kinds["image"] or got.image
            added = "\n\n".join(x for x in (got.text, *got.notes) if x)
            text = "\n\n".join(x for x in (str(payload.get("text") or ""), added) if x)
            updates[event_id] = {**payload, "text": text, "files_taken": True,
                                 "redacted": int(payload.get("redacted") or 0) + got.redacted}
        else:  # a retried turn: the text is stored; the images were fetched again
            text = str(payload.get("text") or "")
        if n < len(inputs):
            inputs[n] = dataclasses.replace(inputs[n], text=text)
    if updates:
        with unit_of_work(svc.factory) as db:
            for event_id, payload in updates.items():
                event = db.get(InboundEvent, event_id)
                if event is not None:
                    event.payload = payload
            current = db.execute(select(AISession.intake_type)
                                 .where(AISession.id == session_id)).scalar_one_or_none()
            later = rules.with_later_input(current or "free_text", log=kinds["log"],
                                           image=kinds["image"])
            if current is not None and later != current:
                # One column, compared on its old value: no row lock or version needed, and a
                # click writing other columns meanwhile neither loses this nor fails on it.
                db.execute(update(AISession)
                           .where(AISession.id == session_id, AISession.intake_type == current)
                           .values(intake_type=later)
                           .execution_options(synchronize_session=False))
    for line in lines:
        try:
            svc.notifier.post(channel, line, thread_ts=thread)
        except SlackError:
            log.warning("could not tell the thread about a file of session %s", session_id)
    return dataclasses.replace(ctx, inputs=inputs, images=images)
