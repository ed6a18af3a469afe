"""What the sandbox person sees: FakeSlack's events as text, and the numbered buttons.

Button numbers are global for the whole run, and stable: an updated (or re-printed) message
gives each button the number it had before, so ``[1] Resolve`` stays ``[1]``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.fake_slack import BOT_USER_ID
from bot.sandbox.render_text import WIDTH, Control, Rendered, render_blocks

SESSION_EVENT = "flowpilot_session"


@dataclass(frozen=True)
class Target:
    """Where a numbered control lives."""

    control: Control
    channel: str
    ts: str
    thread_ts: str | None
    ephemeral: bool = False


@dataclass
class Screen:
    names: dict[str, str] = field(default_factory=lambda: {BOT_USER_ID: "FlowPilot"})
    channel_names: dict[str, str] = field(default_factory=dict)
    width: int = WIDTH
    color: bool = False
    threads: dict[str, str] = field(default_factory=dict)  # channel -> session thread ts
    thread_numbers: dict[tuple[str, str], int] = field(default_factory=dict)
    buttons: dict[int, Target] = field(default_factory=dict)
    next_number: int = 1
    _numbers: dict[tuple[str, str], dict[tuple[str, str], int]] = field(default_factory=dict)
    _responses: int = 0  # respond() posts shown, for their made-up message ts

    # --- places --------------------------------------------------------------------------

    def where(self, channel: str, thread_ts: str | None = None, ts: str | None = None) -> str:
        if channel.startswith("D"):
            name = f"DM with @{self.names.get(channel[1:], channel[1:])}"
        else:
            name = "#" + self.channel_names.get(channel, channel)
        if thread_ts and thread_ts != ts:
            name += f" › thread {self.thread_no(channel, thread_ts)}"
        return name

    def thread_no(self, channel: str, thread_ts: str) -> int:
        key = (channel, thread_ts)
        if key not in self.thread_numbers:
            self.thread_numbers[key] = len(self.thread_numbers) + 1
        return self.thread_numbers[key]

    def thread_by_number(self, number: str) -> tuple[str, str] | None:
        found = [k for k, n in self.thread_numbers.items() if str(n) == number.lstrip("#")]
        return found[0] if found else None

    # --- numbering -----------------------------------------------------------------------

    def _keep(self, controls: list[Control], channel: str, ts: str, thread_ts: str | None,
              ephemeral: bool) -> None:
        for c in controls:
            self.buttons[c.number] = Target(c, channel, ts, thread_ts, ephemeral)
            self.next_number = max(self.next_number, c.number + 1)

    def forget(self, channel: str, ts: str) -> dict[tuple[str, str], int]:
        """Drop a message's numbers; returns every number it ever had, so a re-render
        gives a button that comes back the number it had before."""
        old = {n: t for n, t in self.buttons.items() if (t.channel, t.ts) == (channel, ts)}
        for number in old:
            del self.buttons[number]
        known = self._numbers.setdefault((channel, ts), {})
        known.update({(t.control.action_id, t.control.value): n for n, t in old.items()})
        return dict(known)

    def _render(self, blocks: Any, text: str,
                reuse: dict[tuple[str, str], int] | None = None) -> Rendered:
        return render_blocks(blocks if isinstance(blocks, list) else None, text,
                             first_number=self.next_number, reuse=reuse, users=self.names,
                             channels=self.channel_names, width=self.width, color=self.color)

    # --- events --------------------------------------------------------------------------

    def event(self, name: str, data: dict[str, Any], me: str, here: str) -> list[str]:
        """Lines for one FakeSlack event, seen by user ``me`` in channel ``here``."""
        if name in ("message.posted", "message.updated"):
            return self.message(data, updated=name == "message.updated")
        if name == "message.deleted":
            self.forget(str(data.get("channel")), str(data.get("ts")))
            return [f"── message removed in {self.where(str(data.get('channel')))} ──"]
        if name == "ephemeral.posted":
            return self.ephemeral(data, me)
        if name == "response_url.posted":
            return self.response(data, me, here)
        return []

    def message(self, msg: dict[str, Any], *, updated: bool = False) -> list[str]:
        channel, ts = str(msg.get("channel") or ""), str(msg.get("ts") or "")
        thread_ts = str(msg["thread_ts"]) if msg.get("thread_ts") else None
        if msg.get("user") == BOT_USER_ID and not thread_ts and is_session_header(msg):
            self.threads[channel] = ts  # a new session header: its thread is where replies go
        elif thread_ts and thread_ts != ts and channel not in self.threads:
            self.threads[channel] = thread_ts
        user = str(msg.get("user") or "")
        kept = self.forget(channel, ts)
        r = self._render(msg.get("blocks"), str(msg.get("text") or ""), kept)
        self._keep(r.controls, channel, ts, thread_ts, False)
        head = f"── {self.names.get(user, user or 'someone')} in {self.where(channel, thread_ts, ts)}"
        return [head + (" (updated) ──" if updated else " ──"), *r.lines]

    def ephemeral(self, eph: dict[str, Any], me: str) -> list[str]:
        channel, user = str(eph.get("channel") or ""), str(eph.get("user") or "")
        thread_ts = str(eph["thread_ts"]) if eph.get("thread_ts") else None
        r = self._render(eph.get("blocks"), str(eph.get("text") or ""))
        self._keep(r.controls, channel, str(eph.get("message_ts") or ""), thread_ts, True)
        return [f"── ({self._only(user, me)}) FlowPilot in {self.where(channel, thread_ts)} ──",
                *r.lines]

    def response(self, data: dict[str, Any], me: str, here: str) -> list[str]:
        """A ``respond()`` post; hook paths are /hooks/<team>/<kind>/<user>/<channel>."""
        parts = str(data.get("path") or "").strip("/").split("/")
        user = parts[3] if len(parts) > 3 else me
        channel = parts[4] if len(parts) > 4 else here
        if data.get("delete_original"):
            return ["── FlowPilot removed the message you clicked ──"]
        blocks = data.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                blocks = None
        r = self._render(blocks, str(data.get("text") or ""))
        # Slack gives an ephemeral reply a ts of its own; a click on it carries that ts.
        self._responses += 1
        self._keep(r.controls, channel, f"{int(time.time())}.{self._responses:06d}", None, True)
        if data.get("response_type") == "in_channel":
            who = f"FlowPilot in {self.where(channel)}"
        else:
            who = f"({self._only(user, me)}) FlowPilot"
        if data.get("replace_original"):
            who += " (replaces the message)"
        return [f"── {who} ──", *r.lines]

    def ack(self, body: str, me: str, here: str) -> list[str]:
        """What a slash command's HTTP answer shows (only to the person who typed it)."""
        try:
            data = json.loads(body)
        except ValueError:
            data = {"text": body}
        if not isinstance(data, dict) or not (data.get("text") or data.get("blocks")):
            return []
        r = self._render(data.get("blocks"), str(data.get("text") or ""))
        self._keep(r.controls, here, "", None, True)
        return [f"── ({self._only(me, me)}) FlowPilot ──", *r.lines]

    def _only(self, user: str, me: str) -> str:
        return "only you" if user == me else f"only @{self.names.get(user, user)}"


def is_session_header(msg: dict[str, Any]) -> bool:
    meta = msg.get("metadata") or {}
    if isinstance(meta, dict) and meta.get("event_type") == SESSION_EVENT:
        return True
    return "FlowPilot session" in json.dumps(msg.get("blocks") or [])[:400]
