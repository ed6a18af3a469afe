"""Block Kit as terminal text, for `flowpilot try`. Pure: blocks in, lines out, no I/O.

Headers become a boxed title, sections wrapped text with Slack mrkdwn made plain, context
lines dimmed and indented, and every interactive control numbered (``[3] Worked``) so the
person can click it by typing its number. Numbering is the caller's: pass ``first_number``
and read the controls back.
"""

from __future__ import annotations

import html
import re
import textwrap
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Block = Mapping[str, Any]
WIDTH = 88
INDENT = "  "

DIM, BOLD, RESET = "\x1b[2m", "\x1b[1m", "\x1b[0m"


@dataclass(frozen=True)
class Control:
    """A clickable thing shown as ``[number] label``."""

    number: int
    action_id: str
    value: str
    label: str
    type: str = "button"  # button | static_select (one Control per option)
    block_id: str = ""
    url: str | None = None


@dataclass
class Rendered:
    lines: list[str] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)


@dataclass(frozen=True)
class FormField:
    """One input of a modal, in the order shown."""

    block_id: str
    action_id: str
    label: str
    kind: str  # text | users | multi_users | select | multi_select | unknown
    optional: bool = False
    multiline: bool = False
    hint: str = ""
    placeholder: str = ""
    initial: str = ""
    options: tuple[tuple[str, str], ...] = ()  # (label, value)
    initial_option: str | None = None  # value


# --- mrkdwn ---------------------------------------------------------------------------

_ANGLE = re.compile(r"<([^<>\n]+)>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])")


def _angle(match: re.Match[str], users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        uid = target[1:]
        return "@" + (users.get(uid) or label.lstrip("@") or uid)
    if target.startswith("#"):
        cid = target[1:]
        return "#" + (channels.get(cid) or label.lstrip("#") or cid)
    if target.startswith("!subteam^"):
        return "@" + (label.lstrip("@") or "group")
    if target.startswith("!date^"):
        return label or target
    if target.startswith("!"):
        return "@" + target[1:]
    if label:
        return f"{label} ({target})"
    return target


def plain(
    text: str,
    users: Mapping[str, str] | None = None,
    channels: Mapping[str, str] | None = None,
    *,
    color: bool = False,
) -> str:
    """Slack mrkdwn as readable text: mentions by name, links as ``label (url)``, and
    ``*bold*`` / ``_italic_`` / ``~strike~`` markers dropped (bold kept as ANSI bold with
    ``color``). Code spans are left alone."""
    users, channels = users or {}, channels or {}
    pieces = re.split(r"(```.*?```|`[^`\n]+`)", text or "", flags=re.S)
    out: list[str] = []
    for i, piece in enumerate(pieces):
        if i % 2:  # code
            out.append(html.unescape(piece.strip("`").strip("\n")) if piece.startswith("```")
                       else html.unescape(piece))
            continue
        piece = _ANGLE.sub(lambda m: _angle(m, users, channels), piece)
        piece = _BOLD.sub((lambda m: f"{BOLD}{m.group(1)}{RESET}") if color
                          else (lambda m: m.group(1)), piece)
        piece = _ITALIC.sub(lambda m: m.group(1), piece)
        piece = _STRIKE.sub(lambda m: m.group(1), piece)
        out.append(html.unescape(piece))
    return "".join(out)


# --- measuring and wrapping --------------------------------------------------------------


def display_width(text: str) -> int:
    """Columns a string takes in a terminal (wide emoji count two, joiners none)."""
    width = 0
    for ch in re.sub(r"\x1b\[[0-9;]*m", "", text):
        if unicodedata.combining(ch) or ch in "\u200d\ufe0e\ufe0f":
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def wrap(text: str, width: int = WIDTH, indent: str = "") -> list[str]:
    """Wrap each line of ``text``; bullet and numbered lines hang under their text."""
    lines: list[str] = []
    for raw in text.splitlines() or [""]:
        if not raw.strip():
            lines.append(indent.rstrip())
            continue
        bullet = re.match(r"^(\s*(?:[•\-*]|\d+[.)])\s+)", raw)
        hang = " " * len(bullet.group(1)) if bullet else ""
        lines.extend(textwrap.wrap(raw, width=max(20, width - len(indent)),
                                   initial_indent=indent, subsequent_indent=indent + hang,
                                   break_long_words=True, break_on_hyphens=False,
                                   drop_whitespace=True) or [indent.rstrip()])
    return lines


def box(title: str, width: int = WIDTH) -> list[str]:
    lines = textwrap.wrap(title, width=max(10, width - 4)) or [""]
    inner = max(display_width(line) for line in lines)
    top, bottom = "┌" + "─" * (inner + 2) + "┐", "└" + "─" * (inner + 2) + "┘"
    body = [f"│ {line}{' ' * (inner - display_width(line))} │" for line in lines]
    return [top, *body, bottom]


# --- blocks ------------------------------------------------------------------------------


def _text_of(obj: Any, users: Mapping[str, str], channels: Mapping[str, str],
             color: bool) -> str:
    if not isinstance(obj, Mapping):
        return str(obj or "")
    text = str(obj.get("text") or "")
    if obj.get("type") == "mrkdwn":
        return plain(text, users, channels, color=color)
    return text


def _rich_text(block: Block) -> str:
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, Mapping):
            return
        kind = node.get("type")
        if kind == "text":
            parts.append(str(node.get("text") or ""))
        elif kind == "link":
            parts.append(str(node.get("text") or node.get("url") or ""))
        elif kind == "user":
            parts.append(f"@{node.get('user_id', '')}")
        elif kind == "emoji":
            parts.append(f":{node.get('name', '')}:")
        walk(node.get("elements"))
        if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
            parts.append("\n")

    walk(block.get("elements"))
    return "".join(parts).strip()


class _Numberer:
    def __init__(self, first: int, reuse: Mapping[tuple[str, str], int]) -> None:
        self.next = first
        self.reuse = reuse
        self.controls: list[Control] = []

    def add(self, **kwargs: Any) -> Control:
        number = self.reuse.get((kwargs["action_id"], kwargs["value"]))
        if number is None or any(c.number == number for c in self.controls):
            number, self.next = self.next, self.next + 1
        control = Control(number=number, **kwargs)
        self.controls.append(control)
        return control


def _element_controls(el: Mapping[str, Any], block_id: str, numbers: _Numberer,
                      users: Mapping[str, str], channels: Mapping[str, str]) -> list[str]:
    """The ``[n] label`` chips of one interactive element."""
    kind = el.get("type")
    action_id = str(el.get("action_id") or "")
    if kind == "button":
        label = " ".join(_text_of(el.get("text"), users, channels, False).split()) or "button"
        url = el.get("url")
        c = numbers.add(action_id=action_id, value=str(el.get("value") or ""), label=label,
                        block_id=block_id, url=str(url) if url else None)
        return [f"[{c.number}] {label}" + (f" ↗ {url}" if url else "")]
    if kind in ("static_select", "overflow"):
        chips = []
        placeholder = _text_of(el.get("placeholder"), users, channels, False)
        options = list(el.get("options") or [])
        for group in el.get("option_groups") or []:
            options.extend(group.get("options") or [])
        for opt in options:
            label = _text_of(opt.get("text"), users, channels, False)
            c = numbers.add(action_id=action_id, value=str(opt.get("value") or ""),
                            label=label, type=str(kind), block_id=block_id)
            chips.append(f"[{c.number}] {label}")
        if placeholder and chips:
            chips[0] = f"{placeholder}: {chips[0]}"
        return chips
    return [f"({kind})"] if kind else []


def _chip_lines(chips: list[str], width: int) -> list[str]:
    lines: list[str] = []
    current = INDENT
    for chip in chips:
        candidate = chip if current == INDENT else f"{current.rstrip()}   {chip}"
        if current != INDENT and display_width(candidate) > width:
            lines.append(current.rstrip())
            current = INDENT + chip
        else:
            current = candidate if current != INDENT else INDENT + chip
    if current.strip():
        lines.append(current.rstrip())
    return lines


def render_blocks(
    blocks: Sequence[Block] | None,
    fallback_text: str = "",
    *,
    first_number: int = 1,
    reuse: Mapping[tuple[str, str], int] | None = None,
    users: Mapping[str, str] | None = None,
    channels: Mapping[str, str] | None = None,
    width: int = WIDTH,
    color: bool = False,
) -> Rendered:
    """A message's blocks as lines, its controls numbered from ``first_number``; a control
    whose (action_id, value) is in ``reuse`` keeps that number (an updated message keeps
    its numbers). With no blocks, the message's ``text`` (mrkdwn) is shown instead."""
    users, channels = users or {}, channels or {}
    numbers = _Numberer(first_number, reuse or {})
    lines: list[str] = []

    def dim(line: str) -> str:
        return f"{DIM}{line}{RESET}" if color and line.strip() else line

    if not blocks:
        lines.extend(wrap(plain(fallback_text, users, channels, color=color), width))
        return Rendered(lines, numbers.controls)
    for block in blocks:
        kind = block.get("type")
        block_id = str(block.get("block_id") or "")
        if kind == "header":
            lines.extend(box(_text_of(block.get("text"), users, channels, False), width))
        elif kind == "section":
            text = _text_of(block.get("text"), users, channels, color) if block.get("text") else ""
            if text:
                lines.extend(wrap(text, width))
            for f in block.get("fields") or []:
                lines.extend(wrap(_text_of(f, users, channels, color), width, INDENT))
            accessory = block.get("accessory")
            if isinstance(accessory, Mapping):
                chips = _element_controls(accessory, block_id, numbers, users, channels)
                lines.extend(_chip_lines(chips, width))
        elif kind == "context":
            texts = []
            for el in block.get("elements") or []:
                if el.get("type") == "image":
                    texts.append(f"[{el.get('alt_text') or 'image'}]")
                else:
                    texts.append(_text_of(el, users, channels, False))
            lines.extend(dim(line) for line in wrap(" · ".join(t for t in texts if t.strip()),
                                                    width, INDENT))
        elif kind == "divider":
            lines.append(dim("─" * min(width, 40)))
        elif kind == "actions":
            chips = []
            for el in block.get("elements") or []:
                chips.extend(_element_controls(el, block_id, numbers, users, channels))
            lines.extend(_chip_lines(chips, width))
        elif kind == "rich_text":
            lines.extend(wrap(_rich_text(block), width))
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text') or block.get('image_url') or ''}]")
        elif kind == "input":
            lines.append(f"{_text_of(block.get('label'), users, channels, False)}: (a form field)")
        elif kind == "markdown":
            lines.extend(wrap(str(block.get("text") or ""), width))
    return Rendered(lines, numbers.controls)


# --- modals ------------------------------------------------------------------------------

_KINDS = {
    "plain_text_input": "text",
    "users_select": "users",
    "multi_users_select": "multi_users",
    "static_select": "select",
    "multi_static_select": "multi_select",
    "radio_buttons": "select",
    "checkboxes": "multi_select",
    "file_input": "file",  # not asked in the terminal: share the file in the thread instead
}


def _options(el: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    options = list(el.get("options") or [])
    for group in el.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return tuple((str((o.get("text") or {}).get("text") or o.get("value")), str(o.get("value")))
                 for o in options)


def modal_fields(view: Mapping[str, Any]) -> list[FormField]:
    """The inputs of a modal view, in order."""
    fields: list[FormField] = []
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        el = block.get("element") or {}
        initial_option = (el.get("initial_option") or {}).get("value")
        fields.append(FormField(
            block_id=str(block.get("block_id") or el.get("action_id") or ""),
            action_id=str(el.get("action_id") or block.get("block_id") or ""),
            label=str((block.get("label") or {}).get("text") or ""),
            kind=_KINDS.get(str(el.get("type")), "unknown"),
            optional=bool(block.get("optional")),
            multiline=bool(el.get("multiline")),
            hint=str((block.get("hint") or {}).get("text") or ""),
            placeholder=str((el.get("placeholder") or {}).get("text") or ""),
            initial=str(el.get("initial_value") or el.get("initial_user") or ""),
            options=_options(el),
            initial_option=str(initial_option) if initial_option is not None else None,
        ))
    return fields


def render_view(
    view: Mapping[str, Any],
    *,
    users: Mapping[str, str] | None = None,
    channels: Mapping[str, str] | None = None,
    width: int = WIDTH,
    color: bool = False,
) -> list[str]:
    """A modal's title and its read-only blocks (inputs are asked for one by one)."""
    title = str((view.get("title") or {}).get("text") or "Form")
    shown = [b for b in view.get("blocks") or [] if b.get("type") != "input"]
    lines = box(f"📝 {title}", width)
    lines += render_blocks(shown, "", users=users, channels=channels, width=width,
                           color=color).lines if shown else []
    return lines


def element_state(f: FormField, answer: str | list[str] | None) -> dict[str, Any]:
    """The submitted state of one input (what Slack sends in ``view.state.values``)."""
    if f.kind == "users":
        return {"type": "users_select", "selected_user": answer or None}
    if f.kind == "multi_users":
        return {"type": "multi_users_select", "selected_users": list(answer or [])}
    if f.kind in ("select", "multi_select"):
        chosen = [answer] if isinstance(answer, str) else list(answer or [])
        labels = dict((v, lbl) for lbl, v in f.options)
        opts = [{"text": {"type": "plain_text", "text": labels.get(v, v)}, "value": v}
                for v in chosen if v]
        if f.kind == "multi_select":
            return {"type": "multi_static_select", "selected_options": opts}
        return {"type": "static_select", "selected_option": opts[0] if opts else None}
    value = answer if isinstance(answer, str) else None
    return {"type": "plain_text_input", "value": value or None}
