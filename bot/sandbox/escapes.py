"""What Slack does to the text a person types before an app sees it: ``@name`` becomes
``<@U…>`` and ``#channel`` becomes ``<#C…|channel>`` (in messages always; in a slash
command's text when the command has ``should_escape: true``, as manifest.yml sets), and
``@here`` / ``@channel`` become ``<!here>`` / ``<!channel>``.
Source: docs.slack.dev/interactivity/implementing-slash-commands ("Escape channels, users,
and links sent to your app") and docs.slack.dev/messaging/formatting-message-text."""

from __future__ import annotations

import re
from collections.abc import Mapping

_MENTION = re.compile(r"(?<![\w<@#|/])@([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)
_CHANNEL = re.compile(r"(?<![\w<@#|/&])#([a-z0-9][a-z0-9_-]*)", re.IGNORECASE)
_SPECIAL = {"here": "<!here>", "channel": "<!channel>", "everyone": "<!everyone>"}


def escape(text: str, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """``users``/``channels`` map a lower-case name to its id; unknown names stay as typed
    (Slack leaves text that names nobody alone)."""

    def user(m: re.Match[str]) -> str:
        name = m.group(1).lower().rstrip(".")
        tail = m.group(1)[len(name):]
        if name in _SPECIAL:
            return _SPECIAL[name] + tail
        uid = users.get(name)
        return f"<@{uid}>{tail}" if uid else m.group(0)

    def channel(m: re.Match[str]) -> str:
        name = m.group(1).lower()
        cid = channels.get(name)
        return f"<#{cid}|{name}>" if cid else m.group(0)

    return _CHANNEL.sub(channel, _MENTION.sub(user, text))
