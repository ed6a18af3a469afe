"""Files in the Slack stand-in: what a message shares, ``files.info``, and the private download.

Every rule is Slack's, with its source:

- [event] a message that shares files is a ``message`` event with ``subtype: file_share`` (or
  none) and a ``files`` array of file objects: ``id``, ``name``, ``title``, ``mimetype``,
  ``filetype``, ``pretty_type``, ``size`` (bytes), ``mode``, ``url_private``,
  ``url_private_download`` (``https://files.slack.com/files-pri/<team>-<file>/download/<name>``),
  ``permalink`` (docs.slack.dev/tools/node-slack-sdk/reference/types/interfaces/
  FileShareMessageEvent; a recorded payload in slack-web's golden tests,
  tests/golden/SlackWebhookEvent/message_file_share.json). In a Slack Connect channel the file
  object holds only ``{"id", "mode": "file_access", "file_access": "check_file_info"}``: the
  rest comes from ``files.info`` (same golden tests, message_file_share_slack_connect.json).
- [info] ``files.info`` (``file`` = the id) answers ``{"ok": true, "file": {...}}``, or
  ``file_not_found``; it needs the ``files:read`` scope, without which Slack answers
  ``missing_scope`` with ``needed: files:read`` (slackapi/node-slack-sdk#1620: "The files.info
  API method is the culprit that requires the files.read scope").
- [download] ``url_private`` / ``url_private_download`` need ``Authorization: Bearer <token>``
  with ``files:read``; without it Slack does not refuse with an error status: it answers
  HTTP 200 with an HTML page (a sign-in page / interstitial) instead of the bytes
  (PostHog/posthog#73568: "Without files:read, Slack answers the url_private download with an
  HTTP 200 HTML interstitial instead of the file bytes").
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

JSONDict = dict[str, Any]
LOGIN_PAGE = (b"<!DOCTYPE html><html><head><title>Slack</title></head><body>"
              b"<p>Sign in to your workspace to see this file.</p></body></html>")


@dataclass
class _File:
    meta: JSONDict
    content: bytes


class FakeFiles:
    """The files people shared, by id. ``FakeSlack.files`` holds one."""

    def __init__(self, root_url: Any, team_id: str) -> None:
        self._root_url = root_url  # a callable: the fake's URL is known once it listens
        self.team_id = team_id
        self.scope_granted = True  # False: the app was installed without files:read
        self.downloads: list[tuple[str, str | None]] = []  # (path, token) of each download
        self._files: dict[str, _File] = {}
        self._seq = 0
        self._lock = threading.Lock()

    def add(self, name: str, content: bytes, mimetype: str, *, filetype: str = "",
            user: str = "U1", size: int | None = None, connect: bool = False) -> JSONDict:
        """Share a file; returns the file object a ``message`` event carries [event]. ``size``
        overrides the declared size (a 50 MB file without 50 MB of bytes); ``connect``: the
        Slack Connect shape, which only names the file [event]."""
        with self._lock:
            self._seq += 1
            file_id = f"F{self._seq:09d}"
            quoted = quote(name)
            base = f"{self._root_url()}files-pri/{self.team_id}-{file_id}"
            meta: JSONDict = {
                "id": file_id, "created": 1_700_000_000, "timestamp": 1_700_000_000,
                "name": name, "title": name, "mimetype": mimetype,
                "filetype": filetype or name.rsplit(".", 1)[-1].lower(),
                "pretty_type": filetype or mimetype, "user": user, "user_team": self.team_id,
                "size": len(content) if size is None else size, "mode": "hosted",
                "is_external": False, "is_public": False,
                "url_private": f"{base}/{quoted}",
                "url_private_download": f"{base}/download/{quoted}",
                "permalink": f"https://fake-workspace.slack.com/files/{user}/{file_id}/{quoted}",
            }
            self._files[file_id] = _File(meta, content)
        if connect:
            return {"id": file_id, "mode": "file_access", "file_access": "check_file_info",
                    "created": 0, "timestamp": 0, "user": ""}
        return copy.deepcopy(meta)

    def info(self, body: JSONDict) -> JSONDict:
        """``files.info`` [info]."""
        if not self.scope_granted:
            return {"ok": False, "error": "missing_scope", "needed": "files:read",
                    "provided": "app_mentions:read,channels:history,chat:write"}
        with self._lock:
            found = self._files.get(str(body.get("file") or ""))
            if found is None:
                return {"ok": False, "error": "file_not_found"}
            return {"ok": True, "file": copy.deepcopy(found.meta), "comments": [],
                    "response_metadata": {"next_cursor": ""}}

    def download(self, path: str, token: str | None) -> tuple[int, dict[str, str], bytes]:
        """A GET of ``/files-pri/<team>-<id>/...`` [download]: the bytes with a bot token and
        the scope, else Slack's HTML page with a 200."""
        with self._lock:
            self.downloads.append((path, token))
            parts = path.split("/")
            key = parts[2] if len(parts) > 2 else ""
            file_id = key.split("-", 1)[1] if "-" in key else ""
            found = self._files.get(file_id)
        html = {"Content-Type": "text/html; charset=utf-8"}
        if not token or not token.startswith("xoxb-") or token.startswith("xoxb-invalid") \
                or not self.scope_granted:
            return 200, html, LOGIN_PAGE
        if found is None:
            return 404, html, b"<html><body>File not found</body></html>"
        mimetype = str(found.meta.get("mimetype") or "application/octet-stream")
        return 200, {"Content-Type": mimetype}, found.content

    def reset(self) -> None:
        with self._lock:
            self._files.clear()
            self.downloads.clear()
            self.scope_granted = True
