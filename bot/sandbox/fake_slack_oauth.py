"""The OAuth side of the Slack stand-in: the authorize page, ``oauth.v2.access`` (code exchange
and token refresh) and the tokens it issued, each bound to one workspace.

Every rule below is Slack's, with its source:

- [v2] "Installing with OAuth", https://docs.slack.dev/authentication/installing-with-oauth
  (the authorize URL ``/oauth/v2/authorize`` takes ``client_id``, ``scope``, ``user_scope``,
  ``redirect_uri``, ``state``, ``team``; on approval Slack redirects to ``redirect_uri`` with
  ``code`` and ``state``; on cancel with ``error=access_denied``; the code is temporary and
  expires after ten minutes; ``redirect_uri`` must match one configured for the app).
- [access] https://api.slack.com/methods/oauth.v2.access: client id/secret as HTTP Basic auth
  or form fields; errors ``invalid_client_id``, ``bad_client_secret``, ``invalid_code``,
  ``bad_redirect_uri`` (must match the ``redirect_uri`` of the authorize request, if one was
  sent), ``invalid_grant_type``, ``invalid_refresh_token``; the response puts the bot token
  first (``access_token``, ``token_type: bot``, ``scope``, ``bot_user_id``, ``app_id``,
  ``team``, ``enterprise``, ``is_enterprise_install``, ``authed_user``).
- [rotation] https://docs.slack.dev/authentication/using-token-rotation: with rotation on,
  the access token expires after 12 hours (``expires_in: 43200``) and comes with a
  ``refresh_token``; ``grant_type=refresh_token`` returns a new pair and the used refresh
  token is revoked; calls with an expired token fail with ``token_expired``.
- [errors] every Web API method answers ``token_revoked`` once the app was removed from the
  workspace or the token revoked, and ``invalid_auth`` for a token it does not know.
- [grid] an org-wide install (Enterprise Grid) answers ``team: null``, ``enterprise: {id}``
  and ``is_enterprise_install: true``; the token serves every workspace of the org.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

JSONDict = dict[str, Any]
CODE_TTL = 600.0  # [v2] the temporary code expires after ten minutes
ROTATION_EXPIRES_IN = 43_200  # [rotation] 12 hours


@dataclass
class FakeWorkspace:
    team_id: str | None
    team_name: str = ""
    enterprise_id: str | None = None
    enterprise_name: str = ""
    bot_user_id: str = "UFPBOT"
    bot_id: str = "BFPBOT"
    installer: str = "UINSTALLER"
    is_enterprise_install: bool = False


@dataclass
class FakeApp:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    app_id: str = "AFPAPP"
    token_rotation: bool = False
    expires_in: int = ROTATION_EXPIRES_IN


@dataclass
class _Code:
    app: FakeApp
    workspace: FakeWorkspace
    redirect_uri: str | None
    scope: str
    issued: float
    used: bool = False


@dataclass
class Issued:
    """A token the fake issued: which workspace it acts in, and whether it still works."""

    token: str
    workspace: FakeWorkspace
    kind: str = "bot"  # or "refresh"
    expires_at: float | None = None
    revoked: bool = False
    app: FakeApp | None = None
    scope: str = ""


@dataclass
class FakeOAuth:
    apps: dict[str, FakeApp] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    tokens: dict[str, Issued] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Where a browser at the authorize page is signed in (the HTTP authorize route uses it).
    signed_in: FakeWorkspace | None = None
    clock: Any = time.time

    def register_app(self, client_id: str, client_secret: str, redirect_uri: str, *,
                     token_rotation: bool = False,
                     expires_in: int = ROTATION_EXPIRES_IN) -> FakeApp:
        app = FakeApp(client_id, client_secret, [redirect_uri], token_rotation=token_rotation,
                      expires_in=expires_in)
        with self.lock:
            self.apps[client_id] = app
        return app

    # ── the authorize page ───────────────────────────────────────────────────────────────
    def approve(self, authorize_url: str, workspace: FakeWorkspace | None = None, *,
                deny: bool = False) -> str:
        """What the browser is redirected to after a person at ``authorize_url`` clicks
        Allow (or Cancel, with ``deny``). Raises ``ValueError`` where Slack shows an error
        page instead of redirecting (unknown client, redirect URL not configured, no scope)."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        if urlsplit(authorize_url).path.rstrip("/") != "/oauth/v2/authorize":
            raise ValueError("oauth_authorization_url_mismatch")  # [access]
        with self.lock:
            app = self.apps.get(query.get("client_id", ""))
            if app is None:
                raise ValueError("invalid_client_id")
            redirect = query.get("redirect_uri")
            if redirect is not None and redirect not in app.redirect_uris:
                raise ValueError("bad_redirect_uri")  # [v2] must match a configured URL
            if not query.get("scope") and not query.get("user_scope"):
                raise ValueError("invalid_scope")
            target = redirect or app.redirect_uris[0]
            state = query.get("state")
            if deny:
                return _with_query(target, {"error": "access_denied", "state": state})
            chosen = workspace or self.signed_in
            if chosen is None:
                raise ValueError("not signed in to any workspace")
            if query.get("team") and chosen.team_id and query["team"] != chosen.team_id:
                raise ValueError("team mismatch")
            code = f"{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
            self.codes[code] = _Code(app, chosen, redirect, query.get("scope", ""),
                                     self.clock())
        return _with_query(target, {"code": code, "state": state})

    # ── oauth.v2.access ─────────────────────────────────────────────────────────────────
    def access(self, body: JSONDict, headers: dict[str, str]) -> JSONDict:
        client_id, client_secret = _client_auth(body, headers)
        with self.lock:
            app = self.apps.get(client_id or "")
            if app is None:
                return _err("invalid_client_id")
            if client_secret != app.client_secret:
                return _err("bad_client_secret")
            grant_type = str(body.get("grant_type") or "authorization_code")
            if grant_type == "refresh_token":
                return self._refresh(app, str(body.get("refresh_token") or ""))
            if grant_type != "authorization_code":
                return _err("invalid_grant_type")
            code = self.codes.get(str(body.get("code") or ""))
            now = self.clock()
            if code is None or code.used or code.app is not app or now - code.issued > CODE_TTL:
                return _err("invalid_code")
            if code.redirect_uri is not None and body.get("redirect_uri") != code.redirect_uri:
                return _err("bad_redirect_uri")
            code.used = True
            return self._issue(app, code.workspace, code.scope)

    def _issue(self, app: FakeApp, ws: FakeWorkspace, scope: str) -> JSONDict:
        now = self.clock()
        rotating = app.token_rotation
        prefix = "xoxe.xoxb-1-" if rotating else "xoxb-"
        token = f"{prefix}{ws.enterprise_id or ''}{ws.team_id or ''}-{secrets.token_hex(12)}"
        issued = Issued(token, ws, expires_at=now + app.expires_in if rotating else None,
                        app=app, scope=scope)
        self.tokens[token] = issued
        answer: JSONDict = {
            "ok": True, "access_token": token, "token_type": "bot", "scope": scope,
            "bot_user_id": ws.bot_user_id, "app_id": app.app_id,
            "team": None if ws.is_enterprise_install else {"id": ws.team_id,
                                                           "name": ws.team_name},
            "enterprise": ({"id": ws.enterprise_id, "name": ws.enterprise_name}
                           if ws.enterprise_id else None),
            "is_enterprise_install": ws.is_enterprise_install,
            "authed_user": {"id": ws.installer},
        }
        if rotating:
            refresh = f"xoxe-1-{secrets.token_hex(16)}"
            self.tokens[refresh] = Issued(refresh, ws, kind="refresh", app=app, scope=scope)
            answer.update(expires_in=app.expires_in, refresh_token=refresh)
        return answer

    def _refresh(self, app: FakeApp, refresh_token: str) -> JSONDict:
        found = self.tokens.get(refresh_token)
        if found is None or found.kind != "refresh" or found.revoked or found.app is not app:
            return _err("invalid_refresh_token")
        found.revoked = True  # [rotation] a refresh token works once
        return self._issue(app, found.workspace, found.scope)

    # ── every other method ──────────────────────────────────────────────────────────────
    def refusal(self, token: str) -> str | None:
        """The error Slack answers for a call with an issued ``token``, or None if it works
        (None too for tokens this fake did not issue: the single-workspace tests use those)."""
        with self.lock:
            found = self.tokens.get(token)
            if found is None:
                return None
            if found.revoked or found.kind != "bot":
                return "token_revoked" if found.revoked else "invalid_auth"
            if found.expires_at is not None and self.clock() >= found.expires_at:
                return "token_expired"  # [rotation]
        return None

    def workspace_of(self, token: str | None) -> FakeWorkspace | None:
        with self.lock:
            found = self.tokens.get(token or "")
            return found.workspace if found is not None else None

    def revoke(self, team_id: str | None = None, enterprise_id: str | None = None) -> None:
        """Uninstall: every token of that workspace (or org) stops working."""
        with self.lock:
            for issued in self.tokens.values():
                ws = issued.workspace
                if (team_id is not None and ws.team_id == team_id) or (
                    team_id is None and enterprise_id is not None
                    and ws.enterprise_id == enterprise_id
                ):
                    issued.revoked = True

    def expire(self, token: str) -> None:
        with self.lock:
            self.tokens[token].expires_at = self.clock() - 1


def _client_auth(body: JSONDict, headers: dict[str, str]) -> tuple[str | None, str | None]:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            pair = base64.b64decode(auth[6:].strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None, None
        client_id, _, secret = pair.partition(":")
        return client_id, secret
    return (str(body["client_id"]) if body.get("client_id") else None,
            str(body["client_secret"]) if body.get("client_secret") else None)


def _with_query(url: str, params: dict[str, str | None]) -> str:
    clean = {k: v for k, v in params.items() if v is not None}
    return f"{url}{'&' if '?' in url else '?'}{urlencode(clean)}"


def _err(error: str) -> JSONDict:
    return {"ok": False, "error": error}
