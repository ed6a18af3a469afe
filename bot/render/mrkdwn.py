"""Markdown (as the model and our templates write it) to Slack mrkdwn.

Only formatting is converted; safety is ``safe.neutralize``'s job and should happen first.
Markdown links become ``label (url)``: a label never hides where a link goes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(?=\S)")
_CHECKBOX = re.compile(r"^(\s*)•\s+\[( |x|X)\]\s+")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_LINK = re.compile(r"!?\[([^\]\n]{0,500})\]\(([^()\s]{1,2000})\)")
_B_OPEN, _B_CLOSE = "\ue000", "\ue001"


def _inline(text: str) -> str:
    def convert(part: str) -> str:
        part = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(1) else m.group(2), part)
        part = _BOLD.sub(lambda m: f"{_B_OPEN}{m.group(1)}{_B_CLOSE}", part)
        part = _ITALIC.sub(r"_\1_", part)
        part = _STRIKE.sub(r"~\1~", part)
        return part.replace(_B_OPEN, "*").replace(_B_CLOSE, "*")

    out: list[str] = []
    pos = 0
    for m in _CODE_SPAN.finditer(text):
        out.append(convert(text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(convert(text[pos:]))
    return "".join(out)


def _outside_fences(text: str, convert: Callable[[str], str]) -> str:
    """``convert`` applied to every line outside fenced code; fences and their lines kept."""
    lines: list[str] = []
    in_fence = False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence if line.strip().count("```") % 2 == 1 else in_fence
            lines.append(line)
        else:
            lines.append(line if in_fence else convert(line))
    return "\n".join(lines)


def _mrkdwn_line(line: str) -> str:
    heading = _HEADING.match(line)
    if heading:
        return f"*{_inline(heading.group(1)).replace('*', '').strip()}*"
    if _RULE.match(line):
        return "──────────"
    line = _BULLET.sub(r"\1• ", line)
    line = _CHECKBOX.sub(lambda m: f"{m.group(1)}{'☑️' if m.group(2) != ' ' else '☐'} ", line)
    return _inline(line)


def markdown_to_mrkdwn(markdown: str) -> str:
    """``## Heading`` → ``*Heading*``, ``**bold**`` → ``*bold*``, ``- item`` → ``• item``."""
    return _outside_fences((markdown or "").replace(_B_OPEN, "").replace(_B_CLOSE, ""),
                           _mrkdwn_line)


def _links_line(line: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _CODE_SPAN.finditer(line):
        out.append(_LINK.sub(_written_out, line[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_LINK.sub(_written_out, line[pos:]))
    return "".join(out)


def links_shown(markdown: str) -> str:
    """Markdown for a Block Kit ``markdown`` block, with every link written out: ``[label](url)``
    becomes ``label (url)``, so a label never hides where a link goes (fenced code is left
    as is). Safety otherwise is ``safe.neutralize``'s job, done first."""
    return _outside_fences(markdown or "", _links_line)


def _written_out(m: re.Match[str]) -> str:
    return f"{m.group(1)} ({m.group(2)})" if m.group(1) else m.group(2)
