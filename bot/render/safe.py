"""Making untrusted text safe for Slack: no pings, no spoofed links, no binary junk.

Everything that came from the model, an intake or a person goes through ``neutralize``
before it is put into mrkdwn, and through ``plain`` before a plain_text field. Mentions are
added only by our own code, through ``mention``/``group_mention``/``channel_link``, for ids
we trust.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .limits import truncate

ZWJ = "\u200d"
DEFAULT_MAX = 12_000

# Non-printables except \n and \t: C0/C1 controls, lone surrogates, bidi overrides, non-chars.
_JUNK = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff\ud800-\udfff]")
_REPLACEMENT_RUN = re.compile("\ufffd(?:[ \t]*\ufffd)*")
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_ESCAPED_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,})(?:\|[^&\n]{0,80})?&gt;")
# In plain_text nothing is parsed, but a literal "<!channel>" still reads like one.
_SLACK_TOKEN_START = re.compile(r"<(?=[!@#]|[a-zA-Z][a-zA-Z0-9+.-]{0,20}:)")
_FENCE_RUN = re.compile(r"`{3,}")

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")


def clean(text: str) -> str:
    """Newlines normalised; control characters and binary junk replaced by one U+FFFD."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = _JUNK.sub("\ufffd", text)
    return _REPLACEMENT_RUN.sub("\ufffd", text)


def escape(text: str) -> str:
    """Slack's three escapes, so nothing in ``text`` is read as a control sequence."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def neutralize(
    text: str | None,
    *,
    allowed_user_ids: Iterable[str] = frozenset(),
    max_len: int | None = DEFAULT_MAX,
) -> str:
    """Untrusted text made safe to put in mrkdwn.

    ``<!channel>``, ``<@U…>``, ``<#C…>``, ``<url|label>`` and ``<!subteam^…>`` are escaped so
    they show as typed and never ping or disguise a link; ``<@U…>`` stays a mention only for
    ids in ``allowed_user_ids``. Bare ``@here``/``@channel``/``@everyone`` are defused.
    """
    text = escape(clean(text or ""))
    allowed = frozenset(allowed_user_ids)
    if allowed:

        def _mention(m: re.Match[str]) -> str:
            return f"<@{m.group(1)}>" if m.group(1) in allowed else m.group(0)

        text = _ESCAPED_MENTION.sub(_mention, text)
    text = _BROADCAST.sub(lambda m: f"@{ZWJ}{m.group(1)}", text)
    if max_len is not None:
        text = truncate(text, max_len)
    return text


def plain(text: str | None, *, max_len: int | None = None) -> str:
    """Untrusted text for a plain_text field: control characters out, nothing else parsed."""
    text = clean(text or "").replace("\ufffd", "")
    text = _SLACK_TOKEN_START.sub(f"<{ZWJ}", text)
    text = _BROADCAST.sub(lambda m: f"@{ZWJ}{m.group(1)}", text)
    if max_len is not None:
        text = truncate(text, max_len, note=False)
    return text


def one_line(text: str) -> str:
    """All whitespace runs (newlines included) collapsed to single spaces."""
    return " ".join(text.split())


def _defuse_fences(text: str) -> str:
    # A zero-width space inside a run of backticks stops it closing the block early.
    text = _FENCE_RUN.sub(lambda m: "\u200b".join(m.group(0)), text)
    if text.startswith("`"):
        text = "\u200b" + text
    if text.endswith("`"):
        text += "\u200b"
    return text


def code_block(text: str | None, *, max_len: int | None = 2900) -> str:
    """Untrusted text as a ``` block that nothing inside can close early."""
    body = _defuse_fences(neutralize(text, max_len=None).strip("\n")) or " "
    if max_len is not None:
        body = truncate(body, max(20, max_len - 6))
    return f"```{body}```"


def code_span(text: str | None, *, max_len: int = 1000) -> str:
    """Inline code for one short line; a block when the text has newlines or backticks."""
    raw = text or ""
    if "\n" in raw.strip() or "`" in raw or len(raw) > max_len:
        return code_block(raw, max_len=max_len + 6)
    return f"`{neutralize(raw.strip(), max_len=None) or ' '}`"


def mention(user_id: str | None) -> str:
    """``<@U…>`` for a Slack user id we trust; anything else is shown as harmless text."""
    if user_id and USER_ID.match(user_id):
        return f"<@{user_id}>"
    return neutralize(user_id or "someone", max_len=80)


def group_mention(group_id: str | None) -> str:
    """``<!subteam^S…>`` for a user group id we trust."""
    if group_id and GROUP_ID.match(group_id):
        return f"<!subteam^{group_id}>"
    return neutralize(group_id or "", max_len=80)


def channel_link(channel_id: str | None) -> str:
    """``<#C…>`` for a channel id we trust."""
    if channel_id and CHANNEL_ID.match(channel_id):
        return f"<#{channel_id}>"
    return neutralize(channel_id or "", max_len=80)


def safe_link(url: str | None, label: str) -> str:
    """A link we built ourselves (e.g. a permalink): ``<url|label>`` when the URL is clean."""
    if url and re.match(r"^https://[^\s<>|]+$", url):
        return f"<{url.replace('&', '&amp;')}|{escape(plain(label))}>"
    return neutralize(url or "", max_len=500)


_SLACK_LINK = re.compile(r"<((?:https?|mailto):[^<>|\s]+)(?:\|([^<>]*))?>")
_SLACK_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^<>]*)?>")
_SLACK_CHANNEL = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^<>]*))?>")
_SLACK_SUBTEAM = re.compile(r"<!subteam\^(S[A-Z0-9]+)(?:\|([^<>]*))?>")


def slack_to_plain(text: str | None) -> str:
    """Text of a Slack message (as events deliver it) turned back into what the person typed.

    Links become ``label (url)``, broadcasts and groups become ``@here``/``@name``, channels
    ``#name``; user mentions stay ``<@U…>`` so ``neutralize`` can re-allow known ones.
    """
    text = text or ""
    text = _SLACK_LINK.sub(
        lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2) and m.group(2) != m.group(1)
        else m.group(1),
        text,
    )
    text = _SLACK_SPECIAL.sub(lambda m: f"@{m.group(1)}", text)
    text = _SLACK_CHANNEL.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    text = _SLACK_SUBTEAM.sub(lambda m: f"@{m.group(2) or m.group(1)}".replace("@@", "@"), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
