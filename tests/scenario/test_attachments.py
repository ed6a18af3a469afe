"""Screenshots and log files shared with a session (issue 18), end to end: Slack delivers the
file in a signed event, the app downloads it from the Slack stand-in with its token, and what
reaches the Claude stand-in (and the database) is checked at the wire."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

from sqlalchemy import select, text
from support import Harness

from storage.db import Base
from storage.models import AISession, InboundEvent

SECRET = "Hunter2-Correct-Horse-Battery"
LOG = (f"2026-12-01 09:14:02 ERROR Outlook sync failed 0x800CCC0E\n"
       f"connection string: Server=mail;User=svc;Password={SECRET};\n"
       "2026-12-01 09:14:05 WARN retrying\n").encode()


def png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG (header, IHDR, IDAT, IEND) of width × height; IHDR gives the size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\x00\x00\x00" * min(width, 4) for _ in range(min(height, 4)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                               0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def open_session(h: Harness, text_: str = "Outlook keeps asking for a password") -> str:
    status, _ = h.command(text_)
    assert status == 200
    h.settle()
    return str(h.slack.messages("C1")[0]["ts"])


def share(h: Harness, thread: str | None, name: str, content: bytes, mimetype: str, *,
          text_: str = "", size: int | None = None, connect: bool = False,
          user: str = "U1", event_id: str | None = None, ts: str | None = None,
          headers: dict[str, str] | None = None) -> str:
    """A person shares a file in the thread, as Slack sends it (message, subtype file_share,
    a ``files`` array). Returns the message ts."""
    f = h.slack.files.add(name, content, mimetype, user=user, size=size, connect=connect)
    if ts is None:
        ts = h.slack.add_message("C1", text_, user=user, thread_ts=thread, subtype="file_share",
                                 files=[f])["ts"]
    event = {"type": "message", "subtype": "file_share", "channel": "C1", "user": user,
             "text": text_, "ts": ts, "channel_type": "channel", "files": [f], "upload": True}
    if thread:
        event["thread_ts"] = thread
    status, _ = h.event(event, event_id=event_id, headers=headers)
    assert status == 200
    h.settle()
    return str(ts)


def allow_images(h: Harness, on: bool = True) -> None:
    h.slack.set_user("UADMIN", is_admin=True)
    h.command(f"settings set allow_images {'on' if on else 'off'}", user="UADMIN")
    h.settle()
    assert f"`allow_images` is now `{'on' if on else 'off'}`" in h.ephemerals_text("UADMIN")


def session(h: Harness) -> AISession:
    with h.svc.factory() as db:
        return db.execute(select(AISession)).scalar_one()


def thread_text(h: Harness, thread: str) -> str:
    return "\n".join(str(m.get("text")) for m in h.bot_messages("C1", thread))


def images_in(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for m in body["messages"] if isinstance(m.get("content"), list)
            for b in m["content"] if isinstance(b, dict) and b.get("type") == "image"]


def database_dump(h: Harness) -> str:
    """Every row of every table, as text: what a secret must never be part of."""
    out = []
    with h.svc.factory() as db:
        for table in Base.metadata.sorted_tables:
            rows = db.execute(text(f"SELECT * FROM {table.name}")).all()  # noqa: S608
            out.append(json.dumps([list(map(str, r)) for r in rows]))
    return "\n".join(out)


# --- screenshots ---------------------------------------------------------------------------


def test_screenshot_goes_to_claude_when_the_workspace_allows_images(
        claude_harness: Harness, fake_anthropic: Any) -> None:
    h = claude_harness
    allow_images(h)
    thread = open_session(h)
    image = png()
    share(h, thread, "error.png", image, "image/png", text_="this is what she sees")
    body = fake_anthropic.message_requests[-1].body
    blocks = images_in(body)
    assert len(blocks) == 1
    assert blocks[0]["source"]["media_type"] == "image/png"
    import base64
    assert base64.b64decode(blocks[0]["source"]["data"]) == image
    assert "error.png" in json.dumps(body["messages"][-1]) and "this is what she sees" in \
        json.dumps(body["messages"][-1])
    downloads = h.slack.calls("files.download")
    assert downloads and downloads[-1].token == "xoxb-test"  # with the bot token
    s = session(h)
    assert s.intake_type == "combined"
    # The image is never stored: not in the transcript, not in the delivery's payload.
    assert '"type": "image"' not in json.dumps(s.conversation_messages)
    assert base64.b64encode(image).decode() not in database_dump(h)
    # The next turn does not send it again.
    before = len(fake_anthropic.message_requests)
    h.reply("she restarted, same thing", thread)
    h.settle()
    assert len(fake_anthropic.message_requests) == before + 1
    assert not images_in(fake_anthropic.message_requests[-1].body)


def test_screenshot_is_not_sent_when_the_workspace_keeps_images_off(
        claude_harness: Harness, fake_anthropic: Any) -> None:
    h = claude_harness
    thread = open_session(h)
    share(h, thread, "error.png", png(), "image/png", text_="see the screenshot")
    assert all(not images_in(r.body) for r in fake_anthropic.message_requests)
    assert not h.slack.calls("files.download"), "a refused image is not even downloaded"
    said = thread_text(h, thread)
    assert "images are off in this workspace" in said and "Type the error it shows" in said
    assert said.count("error.png") == 1
    last = json.dumps(fake_anthropic.message_requests[-1].body["messages"][-1])
    assert "see the screenshot" in last and "not shown to you" in last


def test_screenshot_with_the_offline_engine_asks_for_the_error(harness: Harness) -> None:
    h = harness
    allow_images(h)  # even allowed: the built-in flows read no images
    thread = open_session(h)
    share(h, thread, "bsod.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image/jpeg")
    assert "the built-in flows can't read images" in thread_text(h, thread)
    assert not h.slack.calls("files.download")
    with h.svc.factory() as db:
        assert set(db.execute(select(InboundEvent.status)
                              .where(InboundEvent.kind == "reply")).scalars()) == {"done"}


def test_an_image_too_big_for_the_model_is_refused_in_one_line(
        claude_harness: Harness, fake_anthropic: Any) -> None:
    h = claude_harness
    allow_images(h)
    thread = open_session(h)
    share(h, thread, "huge.png", png(9000, 20), "image/png")
    assert "9000×20 px" in thread_text(h, thread)
    assert all(not images_in(r.body) for r in fake_anthropic.message_requests)


# --- log files -------------------------------------------------------------------------------


def test_a_log_file_is_redacted_before_the_model_and_the_database(
        claude_harness: Harness, fake_anthropic: Any) -> None:
    h = claude_harness
    thread = open_session(h)
    share(h, thread, "outlook.log", LOG, "text/plain", text_="log attached")
    sent = json.dumps(fake_anthropic.message_requests[-1].body)
    assert "0x800CCC0E" in sent and "outlook.log" in sent
    assert all(SECRET not in json.dumps(r.body) for r in fake_anthropic.message_requests)
    dump = database_dump(h)
    assert "0x800CCC0E" in dump and SECRET not in dump
    assert session(h).intake_type == "combined"


def test_a_log_file_with_the_intake_becomes_the_intake_log(harness: Harness) -> None:
    h = harness
    f = h.slack.files.add("mail.log", LOG, "text/plain")
    ts = h.slack.add_message("C1", "<@UFPBOT>", user="U1", files=[f])["ts"]
    status, _ = h.event({"type": "app_mention", "channel": "C1", "user": "U1",
                         "text": "<@UFPBOT>", "ts": ts, "files": [f]})
    assert status == 200
    h.settle()
    s = session(h)
    assert s.intake_type == "log_paste"
    assert "0x800CCC0E" in s.intake_content["log_content"]
    assert SECRET not in json.dumps(s.intake_content) and SECRET not in database_dump(h)


def test_a_retried_file_event_is_taken_once(claude_harness: Harness, fake_anthropic: Any) -> None:
    h = claude_harness
    thread = open_session(h)
    before = len(fake_anthropic.message_requests)
    ts = share(h, thread, "outlook.log", LOG, "text/plain", event_id="EvFILE1")
    # Slack retries the same event (same message): recorded once, downloaded once.
    f = h.slack.files.add("outlook.log", LOG, "text/plain")
    h.event({"type": "message", "subtype": "file_share", "channel": "C1", "user": "U1",
             "text": "", "ts": ts, "thread_ts": thread, "files": [f]}, event_id="EvFILE1",
            headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    h.settle()
    assert len(h.slack.calls("files.download")) == 1
    assert len(fake_anthropic.message_requests) == before + 1


# --- bad input -------------------------------------------------------------------------------


def test_a_50_mb_file_is_refused_by_its_size_before_any_download(harness: Harness) -> None:
    h = harness
    thread = open_session(h)
    share(h, thread, "memory.dmp.log", b"tiny", "text/plain", size=50 * 1024 * 1024)
    said = thread_text(h, thread)
    assert "memory.dmp.log* is 50.0 MB" in said and "not downloaded" in said
    assert not h.slack.calls("files.download") and not h.slack.calls("files.info")


def test_without_files_read_one_line_and_the_message_is_still_taken(
        claude_harness: Harness, fake_anthropic: Any) -> None:
    h = claude_harness
    h.slack.files.scope_granted = False
    thread = open_session(h)
    share(h, thread, "outlook.log", LOG, "text/plain", text_="the error is 0x80070005")
    said = thread_text(h, thread)
    assert said.count("`files:read` permission") == 1
    assert "0x80070005" in json.dumps(fake_anthropic.message_requests[-1].body["messages"][-1])
    # Slack Connect files name themselves only; files.info answers missing_scope.
    share(h, thread, "other.log", LOG, "text/plain", connect=True)
    assert thread_text(h, thread).count("`files:read` permission") == 2
    assert h.slack.calls("files.info")


def test_a_binary_file_named_log_and_an_empty_file_each_get_one_line(harness: Harness) -> None:
    h = harness
    thread = open_session(h)
    share(h, thread, "<!channel> crash.log", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" * 50,
          "text/plain")
    share(h, thread, "empty.txt", b"", "text/plain")
    said = thread_text(h, thread)
    assert "crash.log* is not text" in said and "<!channel>" not in said
    assert "*empty.txt* is empty" in said
    with h.svc.factory() as db:
        payloads = [e.payload for e in db.execute(select(InboundEvent)
                                                  .where(InboundEvent.kind == "reply")).scalars()]
    assert all("MZ" not in str(p.get("text")) for p in payloads)


def test_a_file_in_a_thread_without_a_session_is_ignored(harness: Harness) -> None:
    h = harness
    parent = h.slack.add_message("C1", "lunch?", user="U2")["ts"]
    share(h, str(parent), "menu.txt", b"pizza", "text/plain")
    assert not h.slack.calls("files.download") and not h.slack.calls("files.info")
    assert not h.bot_messages("C1")


def test_allow_images_is_off_by_default_and_takes_on_or_off(harness: Harness) -> None:
    h = harness
    h.command("settings", user="U1")
    h.settle()
    assert "`allow_images`: `off` (screenshots are not sent" in h.ephemerals_text("U1")
    h.slack.set_user("UADMIN", is_admin=True)
    h.command("settings set allow_images maybe", user="UADMIN")
    h.settle()
    assert "`allow_images` is `on` or `off`." in h.ephemerals_text("UADMIN")
    with h.svc.factory() as db:
        from storage.models import Account
        from storage.settings_store import get_all_settings
        account = db.execute(select(Account)).scalar_one()
        assert "allow_images" not in get_all_settings(db, account.id)


def test_the_intake_form_takes_a_log_file_and_a_screenshot(
        claude_harness: Harness, fake_anthropic: Any) -> None:
    from bot import ids
    from bot.render.modals import intake_modal

    element = next(b["element"] for b in intake_modal("C1")["blocks"]
                   if b["block_id"] == ids.INTAKE_FILES)
    assert element == {"type": "file_input", "action_id": ids.INTAKE_FILES, "max_files": 5}
    h = claude_harness
    allow_images(h)
    log = h.slack.files.add("outlook.log", LOG, "text/plain")
    shot = h.slack.files.add("prompt.png", png(), "image/png")
    # What Slack sends for a file_input: the uploaded files' objects (read again via files.info).
    uploaded = {"type": "file_input", "files": [{"id": log["id"], "name": "outlook.log"},
                                                {"id": shot["id"], "name": "prompt.png"}]}
    status, _ = h.submit(ids.INTAKE_MODAL, {ids.INTAKE_PROBLEM: "Outlook sync fails",
                                            ids.INTAKE_FILES: uploaded}, private_metadata="C1")
    assert status == 200
    h.settle()
    s = session(h)
    assert s.intake_type == "combined"
    assert "0x800CCC0E" in s.intake_content["log_content"]
    first = fake_anthropic.message_requests[0].body
    assert len(images_in(first)) == 1 and "0x800CCC0E" in json.dumps(first)
    assert SECRET not in json.dumps(first) and SECRET not in database_dump(h)
    assert len(h.slack.calls("files.info")) == 2


def test_troubleshoot_this_on_a_screenshot_without_text(harness: Harness) -> None:
    h = harness
    f = h.slack.files.add("error.png", png(), "image/png")
    msg = h.slack.add_message("C1", "", user="U2", files=[f])
    status, _ = h.shortcut(msg)
    assert status == 200
    h.settle()
    s = session(h)
    assert s.intake_type == "screenshot"
    assert "the built-in flows can't read images" in thread_text(h, s.slack_thread_ts)
    assert not h.slack.calls("files.download")


def test_a_mention_with_a_log_in_the_session_thread_is_a_reply(
        claude_harness: Harness, fake_anthropic: Any) -> None:
    h = claude_harness
    thread = open_session(h)
    f = h.slack.files.add("outlook.log", LOG, "text/plain")
    ts = h.slack.add_message("C1", "<@UFPBOT> here is the log", thread_ts=thread, files=[f])["ts"]
    h.event({"type": "app_mention", "channel": "C1", "user": "U1", "thread_ts": thread,
             "text": "<@UFPBOT> here is the log", "ts": ts, "files": [f]})
    h.settle()
    sent = json.dumps(fake_anthropic.message_requests[-1].body["messages"][-1])
    assert "here is the log" in sent and "0x800CCC0E" in sent and SECRET not in sent


def test_many_big_text_files_keep_no_more_than_one_pasted_log(harness: Harness) -> None:
    from bot.services.sessions import MAX_LOG_CHARS

    h = harness
    thread = open_session(h)
    files = [h.slack.files.add(f"part{n}.log", (f"line {n} " * 20 + "\n").encode() * 2000,
                               "text/plain") for n in range(7)]
    ts = h.slack.add_message("C1", "", thread_ts=thread, files=files)["ts"]
    h.event({"type": "message", "subtype": "file_share", "channel": "C1", "user": "U1",
             "text": "", "ts": ts, "thread_ts": thread, "files": files})
    h.settle()
    assert len(h.slack.calls("files.download")) == 5
    assert "Only the first 5 files of a message are read" in thread_text(h, thread)
    with h.svc.factory() as db:
        reply = db.execute(select(InboundEvent).where(InboundEvent.kind == "reply")).scalar_one()
    assert len(reply.payload["text"]) < MAX_LOG_CHARS + 200
    assert "more characters not kept" in reply.payload["text"]


def test_a_log_shared_with_a_ticket_mention_is_kept_with_the_ticket(make: Any) -> None:
    """``@FlowPilot #1001`` with a log attached, in a workspace with ConnectWise: the session
    opens from the ticket and keeps the log (it used to drop the files on the ticket path)."""
    from psa_support import KEY, connect, technician

    from bot.sandbox.fake_psa import FakePsa

    with FakePsa() as psa:
        h = make(anthropic_url=None, FLOWPILOT_SECRET_KEY=KEY)
        connect(h, psa)
        technician(h)
        f = h.slack.files.add("mail.log", LOG, "text/plain")
        ts = h.slack.add_message("C1", "<@UFPBOT> #1001", user="U1", files=[f])["ts"]
        status, _ = h.event({"type": "app_mention", "channel": "C1", "user": "U1",
                             "text": "<@UFPBOT> #1001", "ts": ts, "files": [f]})
        assert status == 200
        h.settle()
        s = session(h)
        assert s.psa_ticket_id == "1001"
        assert "0x800CCC0E" in json.dumps(s.intake_content)
        assert SECRET not in database_dump(h)
