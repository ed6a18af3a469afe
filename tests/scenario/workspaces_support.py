"""Many workspaces: the real app in OAuth mode, installed through its own endpoints into
workspaces of the Slack stand-in, driven by signed requests."""

from __future__ import annotations

import io
import json
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support import Harness

from bot.crypto import generate_key
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_slack_oauth import FakeWorkspace

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "test-client-secret"
REDIRECT = "https://flowpilot.example.com/slack/oauth_redirect"
KEY = generate_key()
# Two workspaces side by side, each with its own channel and people.
A = {"team": "TA0001", "name": "Acme MSP", "channel": "CA1", "user": "UA1", "admin": "UAADMIN"}
B = {"team": "TB0002", "name": "Beta IT", "channel": "CB1", "user": "UB1", "admin": "UBADMIN"}
OWNER = {A["channel"]: A["team"], B["channel"]: B["team"]}


def oauth_harness(db_url: str, slack: FakeSlack, **overrides: Any) -> Harness:
    slack.oauth.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT,
                             token_rotation=overrides.pop("token_rotation", False),
                             expires_in=overrides.pop("expires_in", 43_200))
    return Harness(db_url, slack, SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET,
                   FLOWPILOT_SECRET_KEY=KEY, SLACK_REDIRECT_URI=REDIRECT, **overrides)


def browse(h: Harness, url: str, cookie: str = "") -> tuple[int, dict[str, str], str]:
    """A browser GET on the app: (status, headers, body)."""
    split = urlsplit(url)
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": split.path,
                               "QUERY_STRING": split.query, "wsgi.input": io.BytesIO(b"")}
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        got["status"] = int(status.split()[0])
        got["headers"] = {k.lower(): v for k, v in headers}

    body = b"".join(h.wsgi(environ, start_response)).decode()
    return got["status"], got["headers"], body


def start_install(h: Harness) -> tuple[str, str]:
    """``GET /slack/install``: (Slack's authorize URL, the state cookie)."""
    status, headers, _ = browse(h, "/slack/install")
    assert status == 302, status
    cookie = SimpleCookie(headers["set-cookie"])
    name = next(iter(cookie))
    return headers["location"], f"{name}={cookie[name].value}"


def finish(h: Harness, redirect: str, cookie: str) -> tuple[int, str]:
    """The browser follows Slack's redirect back to ``/slack/oauth_redirect``."""
    assert redirect.startswith(REDIRECT)
    status, _, body = browse(h, "/slack/oauth_redirect?" + urlsplit(redirect).query, cookie)
    return status, body


def install(h: Harness, ws: FakeWorkspace) -> str:
    """Install through the endpoints; returns the page shown at the end."""
    url, cookie = start_install(h)
    status, body = finish(h, h.slack.oauth.approve(url, ws), cookie)
    assert status == 200, body
    return body


def workspace(slack: FakeSlack, spec: dict[str, str]) -> FakeWorkspace:
    return slack.workspace(spec["team"], spec["name"], installer=spec["admin"])


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def grid_body(body: str, ctype: str, enterprise: str, *, org_install: bool) -> str:
    """Add the Enterprise Grid fields Slack sends from an org's workspace."""
    if "json" in ctype:
        data = json.loads(body)
        data["enterprise_id"] = enterprise
        data["authorizations"] = [{"enterprise_id": enterprise,
                                   "team_id": None if org_install else data.get("team_id"),
                                   "is_enterprise_install": org_install}]
        return json.dumps(data)
    form = parse_qs(body, keep_blank_values=True)
    if "payload" in form:
        payload = json.loads(form["payload"][0])
        payload["enterprise"] = {"id": enterprise}
        payload["is_enterprise_install"] = org_install
        from urllib.parse import urlencode

        return urlencode({"payload": json.dumps(payload)})
    from urllib.parse import urlencode

    flat = {k: v[0] for k, v in form.items()}
    flat.update(enterprise_id=enterprise, is_enterprise_install=str(org_install).lower())
    return urlencode(flat)

