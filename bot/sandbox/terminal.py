"""``flowpilot try``: the real app against the local Slack stand-in, driven from a terminal.

The real Bolt app, handlers, database and scheduler run in this process; Slack is
``FakeSlack`` (the same module the tests use), and every click, command and reply reaches
the app as a signed request through its WSGI entry point, exactly as Slack would send it.
What the app posts is rendered as text (``render_text``) with numbered buttons.

A plain line REPL (``input()``), so it works in any terminal, through a pseudo-terminal and
through a pipe.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import secrets
import shutil
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from bot.sandbox.escapes import escape
from bot.sandbox.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack
from bot.sandbox.forms import fill_form
from bot.sandbox.render_text import WIDTH, render_view, wrap
from bot.sandbox.screen import Screen
from bot.sandbox.signing import (
    block_action_body,
    event_body,
    message_shortcut_body,
    sign_request,
    slash_command_body,
)

DEFAULT_DB = "sqlite:///flowpilot-try.db"
LOG_FILE = "flowpilot-try.log"
ESCALATION_CHANNEL = "C0ESCALATE"
SETTLE_SECONDS = 90.0

# name -> (user id, real name, role)
PEOPLE: dict[str, tuple[str, str, str]] = {
    "alice": ("U0ALICE", "Alice Tran", "technician"),
    "bob": ("U0BOB", "Bob Okafor", "escalation engineer"),
    "carol": ("U0CAROL", "Carol Diaz", "workspace admin"),
}
ADMIN_ROLE = "workspace admin"
PASTE_WAIT = 0.03  # seconds: lines arriving this close together were pasted as one block
BLOCK = '"""'

CHANNELS: dict[str, str] = {"support": "C0SUPPORT", "escalations": ESCALATION_CHANNEL}

HELP = """\
  /flowpilot <problem>   open a session (plain /flowpilot opens the intake form)
  /flowpilot park fp-…   act on a session by the reference in its header (also resolve,
                         resume, handoff fp-… @bob, escalate); /flowpilot list, help, settings
  @flowpilot <problem>   mention the app in the channel: a session on that message
  any other text         reply in the current session's thread (@bob, #escalations are
                         sent as Slack sends them: <@U…>, <#C…|escalations>)
  a number, e.g. 3       click button [3]
  \"\"\"                    start (and end) a reply of several lines; a pasted block counts
                         as one reply too
  :shortcut [TEXT]       message menu → Troubleshoot this, on TEXT posted now (or on the
                         last message someone posted in this channel)
  :home                  open FlowPilot's App Home tab
  :user NAME             play someone else: alice (technician), bob (escalation engineer),
                         carol (workspace admin: /flowpilot settings set …)
  :channel NAME          switch channel: #support, #escalations (where escalations land)
  :thread [N]            show the current session thread again (or switch to thread N)
  :psa                   what reached the PSA (a ConnectWise stand-in; try /flowpilot ticket 1001)
  :help                  this help
  :quit                  leave (Ctrl-D too)"""


Sender = Callable[[str, str], tuple[int, str]]


class Sandbox:
    """The REPL: reads lines, sends what they mean to the app, prints what Slack shows."""

    def __init__(self, fake: FakeSlack, send: Sender, settle: Callable[[float], bool], *,
                 out: TextIO | None = None, color: bool = False, width: int = WIDTH) -> None:
        self.fake = fake
        self.send = send
        self.wait_idle = settle
        self.out = out or sys.stdout
        self.people = dict(PEOPLE)
        self.channels = dict(CHANNELS)
        self.user = "alice"
        self.channel = self.channels["support"]
        self.screen = Screen(channel_names={cid: name for name, cid in CHANNELS.items()},
                             width=width, color=color)
        self._lock = threading.RLock()
        self._events: list[tuple[str, dict[str, Any]]] = []
        self._views: list[dict[str, Any]] = []
        self._at_prompt = False
        for name in PEOPLE:
            self._add_person(name)
        fake.subscribe(self._on_event)

    def _add_person(self, name: str) -> None:
        uid, real, role = self.people.get(name) or (
            f"U0{name.upper()[:9]}", name.title(), "technician")
        self.people[name] = (uid, real, role)
        self.screen.names[uid] = name
        self.fake.set_user(uid, name=name, real_name=real, tz=_local_tz(),
                           profile={"real_name": real, "display_name": name,
                                    "email": f"{name}@example.com"},
                           is_admin=role == ADMIN_ROLE)

    def escaped(self, text: str) -> str:
        """The text as Slack hands it to the app (``@bob`` → ``<@U0BOB>`` …)."""
        users = {name: uid for name, (uid, _real, _role) in self.people.items()}
        users["flowpilot"] = BOT_USER_ID
        return escape(text, users, self.channels)

    @property
    def user_id(self) -> str:
        return self.people[self.user][0]

    @property
    def prompt(self) -> str:
        return f"{self.user}@#{self.screen.channel_names.get(self.channel, self.channel)}> "

    # --- output --------------------------------------------------------------------------

    def say(self, *lines: str) -> None:
        with self._lock:
            for line in lines:
                self.out.write(line + "\n")
            self.out.flush()

    def note(self, text: str) -> None:
        lines = wrap(text, self.screen.width)
        self.say(*(f"\x1b[2m{line}\x1b[0m" if self.screen.color else line for line in lines))

    def _on_event(self, name: str, data: dict[str, Any]) -> None:
        """Called by FakeSlack (its server thread) for everything the app does."""
        with self._lock:
            if name in ("view.opened", "view.pushed", "view.updated"):
                self._views.append(data)
                if self._at_prompt:
                    self.say("", "(a form opened: press Enter to fill it in)")
                return
            self._events.append((name, data))
            if self._at_prompt:  # something arrived on its own (scheduler, a slow turn)
                self.out.write("\r\x1b[K" if self.screen.color else "\n")
                self._flush_locked()
                self.out.write(self.prompt)
                self.out.flush()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        events, self._events = self._events, []
        for name, data in events:
            lines = self.screen.event(name, data, self.user_id, self.channel)
            if lines:
                self.say("", *lines)

    # --- the loop ------------------------------------------------------------------------

    def banner(self, engine: str, db_url: str) -> None:
        self.say(
            "FlowPilot sandbox: the real app against a local Slack stand-in.",
            f"Engine: {engine} · Database: {db_url} · Logs: {LOG_FILE}",
            f"You are alice ({PEOPLE['alice'][2]}) in #support; bob is the escalation engineer, "
            "carol a workspace admin.",
            "Type :help for help. Try: /flowpilot outlook keeps asking for my password",
        )

    def read(self, prompt: str | None = None) -> str:
        with self._lock:
            self._flush_locked()
            self._at_prompt = prompt is None
        try:
            line = input(self.prompt if prompt is None else prompt)
            if line.strip() == BLOCK:
                return self._read_block()
            return "\n".join([line, *self._pasted()])
        finally:
            with self._lock:
                self._at_prompt = False

    def _read_block(self) -> str:
        """Lines up to the closing triple quote, as one answer."""
        lines: list[str] = []
        while True:
            line = input("... ")
            if line.strip() == BLOCK:
                return "\n".join(lines)
            lines.append(line)

    def _pasted(self) -> list[str]:
        """Lines already waiting on a terminal: a pasted block, kept together."""
        if not sys.stdin.isatty():
            return []
        import select

        more: list[str] = []
        while select.select([sys.stdin], [], [], PASTE_WAIT)[0]:
            try:
                more.append(input(""))
            except EOFError:
                break
        return more

    def run(self) -> int:
        while True:
            try:
                line = self.read()
            except EOFError:
                self.say("")
                return 0
            except KeyboardInterrupt:
                self.say("^C (type :quit to leave)")
                continue
            try:
                if not self.handle(line):
                    return 0
            except EOFError:
                return 0
            except KeyboardInterrupt:
                self.say("^C")

    def handle(self, line: str) -> bool:
        """Do what one line says; False to quit."""
        text = line.strip()
        if not text:
            self.settle()
            return True
        if text.startswith(":") and "\n" not in text:
            return self._meta(text)
        if text.lower().startswith("@flowpilot"):
            self.mention(text)
            self.settle()
            return True
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            if command.lower() != "/flowpilot":
                self.say(f"Only /flowpilot is installed here, not {command}.")
                return True
            self.command(rest.strip())
        elif text.isdigit():
            self.click(int(text))
        else:
            self.reply(text)
        self.settle()
        return True

    def _meta(self, text: str) -> bool:
        word, _, arg = text[1:].partition(" ")
        word, arg = word.lower(), arg.strip()
        if word in ("quit", "q", "exit"):
            return False
        if word == "user" and arg:
            name = arg.lstrip("@").lower()
            if name not in self.people:
                self._add_person(name)
            self.user = name
            self.say(f"You are now {name} ({self.people[name][2]}).")
        elif word == "channel" and arg:
            name = arg.lstrip("#").lower()
            if name not in self.channels:
                self.channels[name] = f"C0{name.upper().replace('-', '')[:9]}"
                self.screen.channel_names[self.channels[name]] = name
            self.channel = self.channels[name]
            self.say(f"You are now in #{name}.")
        elif word == "thread":
            self.show_thread(arg)
        elif word == "psa":
            from bot.sandbox.psa_try import psa_lines

            self.say(*psa_lines(getattr(self, "psa", None)))
        elif word == "shortcut":
            self.shortcut(arg)
            self.settle()
        elif word == "home":
            self.home()
        else:
            if word != "help":
                self.say(f"Unknown command :{word}.")
            self.say("Commands:", HELP)
        return True

    def settle(self) -> None:
        if not self.wait_idle(SETTLE_SECONDS):
            self.note("(FlowPilot is still working; its answer will appear when ready)")
        self.flush()
        while True:
            with self._lock:
                view = self._views.pop(0) if self._views else None
            if view is None:
                return
            fill_form(self, view)
            if not self.wait_idle(SETTLE_SECONDS):
                self.note("(FlowPilot is still working; its answer will appear when ready)")
            self.flush()

    # --- what a line does ----------------------------------------------------------------

    def _hook(self, kind: str) -> str:
        return self.fake.hook_url(f"{TEAM_ID}/{kind}/{self.user_id}/{self.channel}")

    def _post(self, body: str, ctype: str, what: str) -> tuple[int, str]:
        status, out = self.send(body, ctype)
        if status != 200:
            self.say(f"(Slack got HTTP {status} from the app for that {what}: {out[:200]})")
        return status, out

    def command(self, text: str) -> None:
        body, ctype = slash_command_body(
            TEAM_ID, self.user_id, self.channel, self.escaped(text), response_url=self._hook("cmd"),
            user_name=self.user, channel_name=self.screen.channel_names.get(self.channel))
        status, out = self._post(body, ctype, "command")
        if status == 200 and out.strip():
            with self._lock:
                lines = self.screen.ack(out, self.user_id, self.channel)
                if lines:
                    self.say("", *lines)

    def click(self, number: int) -> None:
        target = self.screen.buttons.get(number)
        if target is None:
            self.say(f"There is no button [{number}] on screen (the message may have changed).")
            return
        c = target.control
        if c.url:
            self.say(f"(in Slack this opens {c.url})")
        message = None
        if not target.ephemeral:
            found = [m for m in self.fake.messages(target.channel) if m.get("ts") == target.ts]
            message = found[0] if found else None
        body, ctype = block_action_body(
            TEAM_ID, self.user_id, target.channel, target.ts, c.action_id, c.value,
            block_id=c.block_id or None, thread_ts=target.thread_ts, message=message,
            response_url=self._hook("act"), user_name=self.user, ephemeral=target.ephemeral,
            action_type="static_select" if c.type != "button" else "button")
        self._post(body, ctype, "click")

    def reply(self, text: str) -> None:
        thread = self.screen.threads.get(self.channel)
        if thread is None:
            self.say("No session thread in this channel yet: start one with /flowpilot <problem>.")
            return
        text = self.escaped(text)
        msg = self.fake.add_message(self.channel, text, user=self.user_id, thread_ts=thread)
        event = {"type": "message", "channel": self.channel, "user": self.user_id, "text": text,
                 "ts": msg["ts"], "thread_ts": thread, "channel_type": "channel"}
        body, ctype = event_body(TEAM_ID, event)
        self._post(body, ctype, "reply")

    def mention(self, text: str) -> None:
        """``@flowpilot …`` posted in the channel: Slack sends an ``app_mention``."""
        text = self.escaped(text)
        msg = self.fake.add_message(self.channel, text, user=self.user_id)
        event = {"type": "app_mention", "channel": self.channel, "user": self.user_id,
                 "text": text, "ts": msg["ts"], "channel_type": "channel"}
        body, ctype = event_body(TEAM_ID, event)
        self._post(body, ctype, "mention")

    def shortcut(self, text: str) -> None:
        """Message menu → Troubleshoot this, on a message of this channel."""
        if text:
            message = self.fake.add_message(self.channel, self.escaped(text), user=self.user_id)
        else:
            posted = [m for m in self.fake.messages(self.channel)
                      if m.get("user") != BOT_USER_ID and not m.get("thread_ts")]
            if not posted:
                self.say("No message here to use it on: `:shortcut <the message text>` posts "
                         "one and uses it.")
                return
            message = posted[-1]
        body, ctype = message_shortcut_body(TEAM_ID, self.user_id, self.channel, message,
                                            response_url=self._hook("sc"), user_name=self.user)
        self._post(body, ctype, "shortcut")

    def home(self) -> None:
        """Open the App Home tab: Slack sends ``app_home_opened``; show what was published."""
        event = {"type": "app_home_opened", "user": self.user_id, "channel": "D0HOME",
                 "tab": "home", "event_ts": self.fake.next_ts()}
        body, ctype = event_body(TEAM_ID, event)
        self._post(body, ctype, "App Home")
        self.wait_idle(SETTLE_SECONDS)
        homes = [v for v in self.fake.views()
                 if v.get("type") == "home" and v.get("user_id") == self.user_id]
        if not homes:
            self.say("(App Home is empty)")
            return
        self.say("", f"── App Home ({self.user}) ──",
                 *render_view(homes[-1], users=self.screen.names,
                              channels=self.screen.channel_names, width=self.screen.width,
                              color=self.screen.color))

    def show_thread(self, arg: str = "") -> None:
        screen = self.screen
        if arg:
            found = screen.thread_by_number(arg)
            if found is None:
                known = ", ".join(f"{n} ({screen.where(ch)})"
                                  for (ch, _), n in screen.thread_numbers.items())
                self.say(f"No thread {arg}." + (f" Threads: {known}" if known else ""))
                return
            self.channel, ts = found
            screen.threads[self.channel] = ts
        thread = screen.threads.get(self.channel)
        if thread is None:
            self.say("No session thread in this channel yet.")
            return
        with self._lock:
            for msg in self.fake.messages(self.channel, thread):
                if msg.get("user") == BOT_USER_ID:
                    self.say("", *screen.message(msg))
                else:
                    who = screen.names.get(str(msg.get("user")), str(msg.get("user")))
                    self.say("", f"── {who} ──", *wrap(str(msg.get("text") or ""), screen.width))


def _local_tz() -> str:
    tz = os.environ.get("TZ", "")
    return tz if "/" in tz else "America/New_York"


def _wsgi_sender(app: Any, secret: str) -> Sender:
    def send(body: str, ctype: str) -> tuple[int, str]:
        raw = body.encode()
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "QUERY_STRING": "",
            "CONTENT_TYPE": ctype, "CONTENT_LENGTH": str(len(raw)), "wsgi.input": io.BytesIO(raw),
        }
        for key, value in sign_request(secret, body).items():
            environ["HTTP_" + key.upper().replace("-", "_")] = value
        status: list[str] = []
        out = b"".join(app(environ, lambda s, _h: status.append(s)))
        return int(status[0].split()[0]), out.decode("utf-8", "replace")

    return send


def _quiet_logs() -> None:
    """Logs go to a file: the terminal is the chat."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(LOG_FILE, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _use_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def main(args: argparse.Namespace) -> int:
    _quiet_logs()
    from bot.bootstrap import build, check_ready
    from bot.config import load_settings
    from bot.server import WsgiApp
    from storage.db import make_engine
    from storage.migrate import upgrade

    db_url = getattr(args, "db", None) or DEFAULT_DB
    if sys.stdin.isatty():
        try:
            import readline  # noqa: F401  (line editing and history for input())
        except ImportError:  # pragma: no cover - not on every platform
            pass
    secret = secrets.token_hex(16)
    fake = FakeSlack(ts_base=None).start()
    from bot.crypto import generate_key
    from bot.sandbox.fake_psa import FakePsa
    from bot.sandbox.psa_try import connect_sandbox

    psa, psa_key = FakePsa().start(), generate_key()
    try:
        settings = load_settings(FLOWPILOT_SECRET_KEY=psa_key,
            SLACK_BOT_TOKEN="xoxb-sandbox", SLACK_SIGNING_SECRET=secret, SLACK_API_URL=fake.url,
            SLACK_APP_TOKEN=None, SLACK_CLIENT_ID=None, SLACK_CLIENT_SECRET=None,
            FLOWPILOT_DATABASE_URL=db_url, FLOWPILOT_ESCALATION_CHANNEL=ESCALATION_CHANNEL,
        )
        engine = make_engine(db_url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        fp = build(settings, mode="serve", workers=4, listener_workers=8)
        try:
            check_ready(fp)
            connect_sandbox(fp, psa, TEAM_ID, psa_key)
            _start_scheduler(fp)
            sandbox = Sandbox(fake, _wsgi_sender(WsgiApp(fp), secret), fp.wait_idle,
                              color=_use_color(sys.stdout),
                              width=min(WIDTH, shutil.get_terminal_size((WIDTH, 24)).columns - 1))
            sandbox.psa = psa  # type: ignore[attr-defined]
            sandbox.banner(f"Claude ({settings.ai_model})" if settings.ai_enabled
                           else "offline flows (no ANTHROPIC_API_KEY)", db_url)
            return sandbox.run()
        finally:
            fp.close()
    finally:
        fake.stop()
        psa.stop()


def _start_scheduler(fp: Any) -> None:
    try:
        from bot.scheduling import start_scheduler
    except ImportError:  # the scheduler lands with the jobs issue
        return
    start_scheduler(fp)
