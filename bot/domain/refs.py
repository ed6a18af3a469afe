"""Short session references (``fp-1a2b3c``, shown in the header) and Slack thread links: how
a person names a session in a slash command, which carries no thread (Slack's slash command
payload has team_id, channel_id, user_id, text, response_url, trigger_id — no thread_ts)."""

from __future__ import annotations

import re

REF_LEN = 6
_REF = re.compile(r"^`?fp-([0-9a-f]{4,32})`?$", re.IGNORECASE)
# A message link as Slack's "Copy link" gives it, bare or as Slack escapes it (<url|text>):
# https://team.slack.com/archives/C0123/p1700000000123456?thread_ts=1700000000.123456&cid=C0123
_LINK = re.compile(
    r"^<?https://[^/\s]+/archives/([CGD][A-Z0-9]+)/p(\d{10})(\d{6})"
    r"(?:\?[^\s|>]*?thread_ts=(\d+\.\d+))?[^\s|>]*(?:\|[^>]*)?>?$"
)


def session_ref(session_id: str) -> str:
    """The short reference of a session: ``fp-`` and the first hex digits of its id."""
    return "fp-" + session_id.replace("-", "").lower()[:REF_LEN]


def parse_ref(word: str) -> str | None:
    """The hex prefix a word names (``fp-1a2b3c`` → ``1a2b3c``), or None."""
    found = _REF.match(word.strip())
    return found.group(1).lower() if found else None


def parse_thread_link(word: str) -> tuple[str, str] | None:
    """(channel, thread ts) of a Slack message link, or None. A reply's link names its
    thread by ``thread_ts``; a top-level message is its own thread."""
    found = _LINK.match(word.strip())
    if not found:
        return None
    channel, sec, frac, thread_ts = found.groups()
    return channel, thread_ts or f"{sec}.{frac}"


def take_session_word(text: str) -> tuple[str | None, tuple[str, str] | None, str]:
    """Split the word naming a session (a reference or a link, anywhere) from the rest."""
    words = text.split()
    for i, word in enumerate(words):
        ref, link = parse_ref(word), parse_thread_link(word)
        if ref or link:
            return ref, link, " ".join(words[:i] + words[i + 1:])
    return None, None, text.strip()
