"""The Slack Web API adapter the services talk to. SDK errors become ``SlackError`` here.

Every WebClient the app makes honours ``SLACK_API_URL`` and carries slack_sdk's rate-limit and
connection retry handlers (``make_web_client``).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot.errors import SlackError
from bot.render.text import truncate
from bot.tokens import REFUSALS, TokenSource, Workspace, current

log = logging.getLogger(__name__)


def make_web_client(token: str | None, base_url: str, *, timeout: int = 15) -> WebClient:
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


class Notifier:
    """Thin wrapper over a WebClient: the calls the services make, with readable errors.

    With many workspaces (``tokens`` not single), each call uses the token of the workspace
    the current work is for (``bot.tokens.acting_for``)."""

    def __init__(self, client: WebClient, tokens: TokenSource | None = None) -> None:
        self.client = client
        self.tokens = tokens
        self._clients: dict[str, WebClient] = {}

    def _client_for(self) -> tuple[WebClient, Workspace | None]:
        if self.tokens is None or self.tokens.single:
            return self.client, None
        workspace = current()
        grant = self.tokens.grant(*workspace) if workspace is not None else None
        if grant is None:
            raise SlackError(_explain("token", "not_installed"), code="not_installed")
        client = self._clients.get(grant.token)
        if client is None:
            if len(self._clients) > 1000:  # rotated tokens pile up; start over
                self._clients.clear()
            client = make_web_client(grant.token, self.client.base_url)
            self._clients[grant.token] = client
        return client, workspace

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        client, workspace = self._client_for()
        fn = getattr(client, method.replace(".", "_"))
        try:
            resp = fn(**_drop_none(kwargs))
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            log.warning("slack %s failed: %s", method, error)
            if workspace is not None and error in REFUSALS and self.tokens is not None:
                self.tokens.refused(*workspace, error)
            raise SlackError(_explain(method, error), code=error,
                             retry_after=_retry_after(exc)) from None
        except Exception as exc:  # connection failures after the retry handler gave up
            log.warning("slack %s failed: %s", method, exc.__class__.__name__)
            raise SlackError(f"Slack could not be reached for {method}.") from None
        return dict(resp.data) if isinstance(resp.data, dict) else {}

    def post(
        self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None, *,
        thread_ts: str | None = None, metadata: dict[str, Any] | None = None,
    ) -> str:
        try:
            data = self._call(
                "chat.postMessage", channel=channel, text=text, blocks=blocks,
                thread_ts=thread_ts, metadata=metadata, unfurl_links=False, unfurl_media=False,
            )
        except SlackError as exc:
            if not blocks or exc.code not in REFUSED_LAYOUT:
                raise
            # Slack refused the layout whatever our limits said: post the same content as
            # plain text rather than lose it.
            log.warning("slack refused a message layout (%s); posting it as plain text",
                        exc.code)
            data = self._call(
                "chat.postMessage", channel=channel, text=plain_rendering(text, blocks),
                thread_ts=thread_ts, metadata=metadata, unfurl_links=False, unfurl_media=False,
            )
        return str(data.get("ts", ""))

    def update(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        # Always resend blocks: ``text`` without ``blocks`` would remove them.
        self._call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks or [])

    def ephemeral(
        self, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None,
        *, thread_ts: str | None = None,
    ) -> None:
        self._call(
            "chat.postEphemeral", channel=channel, user=user, text=text, blocks=blocks,
            thread_ts=thread_ts,
        )

    def react(self, channel: str, ts: str, name: str) -> None:
        try:
            self._call("reactions.add", channel=channel, timestamp=ts, name=name)
        except SlackError:
            pass  # a missing reaction is cosmetic

    def set_status(self, channel: str, thread_ts: str, status: str) -> None:
        try:
            self._call("assistant.threads.setStatus", channel_id=channel, thread_ts=thread_ts,
                       status=status)
        except SlackError:
            pass  # cosmetic; older workspaces lack the method

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        self._call("views.open", trigger_id=trigger_id, view=view)

    def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        self._call("views.publish", user_id=user_id, view=view)

    def permalink(self, channel: str, ts: str) -> str | None:
        try:
            return str(self._call("chat.getPermalink", channel=channel, message_ts=ts).get("permalink"))
        except SlackError:
            return None

    def user_info(self, user_id: str) -> dict[str, Any]:
        try:
            return dict(self._call("users.info", user=user_id).get("user") or {})
        except SlackError:
            return {}

    def group_members(self, group_id: str) -> list[str]:
        """The user ids of a Slack user group (raises SlackError when Slack can't say)."""
        return [str(u) for u in self._call("usergroups.users.list", usergroup=group_id)
                .get("users") or []]

    def find_marker(self, channel: str, thread_ts: str, event_type: str,
                    key: str, value: str) -> str | None:
        """The ts of our message in the thread whose metadata is ``event_type`` with
        ``event_payload[key] == value`` (conversations.replies returns metadata only with
        ``include_all_metadata``). Raises SlackError when Slack can't say."""
        return self._find_in("conversations.replies", {"channel": channel, "ts": thread_ts},
                             event_type, key, value)

    def find_channel_marker(self, channel: str, event_type: str, key: str, value: str,
                            oldest: str | None = None) -> str | None:
        """As ``find_marker`` for a top-level post: the channel's history since ``oldest``
        (conversations.history, ``include_all_metadata``). Raises SlackError when Slack
        can't say."""
        return self._find_in("conversations.history", {"channel": channel, "oldest": oldest},
                             event_type, key, value)

    def _find_in(self, method: str, where: dict[str, Any], event_type: str, key: str,
                 value: str) -> str | None:
        """Page through ``method`` (at most 10 pages of 200) for our metadata marker."""
        cursor = None
        for _ in range(10):
            data = self._call(method, **where, include_all_metadata=True, limit=200,
                              cursor=cursor)
            for msg in data.get("messages") or []:
                meta = msg.get("metadata") or {}
                if meta.get("event_type") == event_type and \
                        str((meta.get("event_payload") or {}).get(key)) == value:
                    return str(msg.get("ts"))
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def thread_messages(self, channel: str, thread_ts: str, limit: int = 50) -> list[dict[str, Any]]:
        try:
            data = self._call("conversations.replies", channel=channel, ts=thread_ts, limit=limit)
        except SlackError:
            return []
        return list(data.get("messages") or [])

    def join(self, channel: str) -> bool:
        try:
            self._call("conversations.join", channel=channel)
            return True
        except SlackError:
            return False

    def auth_test(self) -> dict[str, Any]:
        return self._call("auth.test")

    def file_info(self, file_id: str) -> dict[str, Any]:
        """A shared file's object (files.info, scope files:read); SlackError with the code
        (``missing_scope``, ``file_not_found``) when Slack refuses."""
        return dict(self._call("files.info", file=file_id).get("file") or {})

    def download(self, url: str, limit: int) -> bytes:
        """A file's bytes from its ``url_private_download``, with the bot token (Slack wants
        ``Authorization: Bearer``), at most ``limit`` bytes (the stream is cut there). Only
        Slack's file host, or the host of ``SLACK_API_URL``, ever gets the token. Raises
        SlackError: ``not_slack_url``, ``no_file_access`` (Slack answered its HTML sign-in page,
        what it does without files:read), ``download_failed``."""
        import httpx

        client, _ = self._client_for()
        host = httpx.URL(url).host if url.startswith(("https://", "http://")) else ""
        allowed = {"files.slack.com", httpx.URL(client.base_url).host}
        if host not in allowed:
            raise SlackError(f"{url[:80]} is not a Slack file address.", code="not_slack_url")
        headers = {"Authorization": f"Bearer {client.token}"}
        try:
            with httpx.stream("GET", url, headers=headers, timeout=20.0,
                              follow_redirects=False) as resp:
                kind = resp.headers.get("content-type", "")
                if resp.status_code != 200 or kind.startswith("text/html"):
                    code = "no_file_access" if resp.status_code in (200, 302, 401, 403) \
                        else "download_failed"
                    log.warning("slack file download refused: HTTP %s %s", resp.status_code,
                                kind.split(";")[0])
                    raise SlackError("Slack did not let FlowPilot download the file.", code=code)
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= limit:
                        break
                return b"".join(chunks)[:limit]
        except httpx.HTTPError as exc:
            log.warning("slack file download failed: %s", exc.__class__.__name__)
            raise SlackError("Slack could not be reached for the file.",
                             code="download_failed") from None


# chat.postMessage truncates ``text`` beyond 40,000 characters
# (https://api.slack.com/methods/chat.postMessage#truncating).
PLAIN_TEXT_MAX = 39_000
REFUSED_LAYOUT = ("invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long")


def plain_rendering(text: str, blocks: list[dict[str, Any]]) -> str:
    """Every text of ``blocks`` (headers, sections, fields, context), one per line, within
    Slack's text limit: what a refused message says, without its layout."""
    lines: list[str] = []
    for block in blocks:
        parts = [block.get("text"), *(block.get("fields") or []), *(
            block.get("elements") or [] if block.get("type") == "context" else [])]
        for part in parts:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                lines.append(part["text"])
    body = "\n".join(line for line in lines if line.strip()) or text or "FlowPilot"
    return truncate(body, PLAIN_TEXT_MAX)


def _retry_after(exc: SlackApiError) -> float | None:
    headers = getattr(exc.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _drop_none(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


_EXPLAIN = {
    "not_in_channel": "FlowPilot is not in that channel. Invite it with /invite @FlowPilot.",
    "channel_not_found": "That channel was not found (or FlowPilot cannot see it).",
    "is_archived": "That channel is archived.",
    "invalid_auth": "Slack refused FlowPilot's token. An admin needs to reinstall the app.",
    "not_authed": "FlowPilot has no Slack token. An admin needs to set SLACK_BOT_TOKEN.",
    "not_installed": "FlowPilot is not installed in this workspace (or was removed). "
                     "An admin can install it again from the install page.",
    "token_revoked": "FlowPilot's access to this workspace was revoked. An admin needs to "
                     "reinstall the app.",
    "ratelimited": "Slack is rate-limiting FlowPilot right now; it will retry.",
    "msg_too_long": "The message was too long for Slack.",
    "invalid_blocks": "Slack refused the message layout.",
}


def explain(method: str, error: str) -> str:
    """What a Slack error code means to a person (for callers that only kept the code)."""
    return _explain(method, error)


def _explain(method: str, error: str) -> str:
    return f"{_EXPLAIN.get(error, f'Slack answered {error}')} ({method})"

