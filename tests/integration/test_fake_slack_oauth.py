"""The Slack stand-in refuses what Slack's OAuth refuses (sources in fake_slack_oauth.py)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.fake_slack import FakeSlack

REDIRECT = "https://fp.example.com/slack/oauth_redirect"


def _authorize(fake: FakeSlack, **params: str) -> str:
    base = {"client_id": "1.2", "scope": "chat:write,commands", "state": "s1",
            "redirect_uri": REDIRECT}
    base.update(params)
    return f"{fake.authorize_url}?{urlencode({k: v for k, v in base.items() if v})}"


def _code(redirect: str) -> str:
    return parse_qs(urlsplit(redirect).query)["code"][0]


def _error(fn: object, **kwargs: object) -> str:
    with pytest.raises(SlackApiError) as exc:
        fn(**kwargs)  # type: ignore[operator]
    return str(exc.value.response["error"])


@pytest.fixture()
def app(fake_slack: FakeSlack) -> WebClient:
    fake_slack.oauth.register_app("1.2", "secret", REDIRECT, token_rotation=True)
    return WebClient(base_url=fake_slack.url)


def test_code_exchange_and_its_refusals(fake_slack: FakeSlack, app: WebClient) -> None:
    ws = fake_slack.workspace("T1", "One")
    code = _code(fake_slack.oauth.approve(_authorize(fake_slack), ws))
    ok = dict(client_id="1.2", client_secret="secret", code=code, redirect_uri=REDIRECT)
    assert _error(app.oauth_v2_access, **{**ok, "client_id": "9.9"}) == "invalid_client_id"
    assert _error(app.oauth_v2_access, **{**ok, "client_secret": "nope"}) == "bad_client_secret"
    assert _error(app.oauth_v2_access, **{**ok, "redirect_uri": "https://evil.example/"}) \
        == "bad_redirect_uri"
    assert _error(app.oauth_v2_access, **{**ok, "code": "made-up"}) == "invalid_code"
    assert _error(app.oauth_v2_access, **{**ok, "grant_type": "password"}) == "invalid_grant_type"
    resp = app.oauth_v2_access(**ok)
    assert resp["team"] == {"id": "T1", "name": "One"} and resp["token_type"] == "bot"
    assert resp["expires_in"] == 43_200 and resp["refresh_token"].startswith("xoxe-1-")
    assert _error(app.oauth_v2_access, **ok) == "invalid_code"  # a code works once
    # The token acts in its own workspace.
    me = WebClient(token=resp["access_token"], base_url=fake_slack.url).auth_test()
    assert me["team_id"] == "T1"


def test_a_code_expires_after_ten_minutes(fake_slack: FakeSlack, app: WebClient) -> None:
    now = [1000.0]
    fake_slack.oauth.clock = lambda: now[0]
    code = _code(fake_slack.oauth.approve(_authorize(fake_slack), fake_slack.workspace("T1")))
    now[0] += 601
    assert _error(app.oauth_v2_access, client_id="1.2", client_secret="secret", code=code,
                  redirect_uri=REDIRECT) == "invalid_code"


def test_refresh_works_once_and_expired_tokens_are_refused(
    fake_slack: FakeSlack, app: WebClient
) -> None:
    code = _code(fake_slack.oauth.approve(_authorize(fake_slack), fake_slack.workspace("T1")))
    first = app.oauth_v2_access(client_id="1.2", client_secret="secret", code=code,
                                redirect_uri=REDIRECT)
    refresh = dict(client_id="1.2", client_secret="secret", grant_type="refresh_token",
                   refresh_token=first["refresh_token"])
    second = app.oauth_v2_access(**refresh)
    assert second["access_token"] != first["access_token"]
    assert _error(app.oauth_v2_access, **refresh) == "invalid_refresh_token"
    fake_slack.oauth.expire(second["access_token"])
    client = WebClient(token=second["access_token"], base_url=fake_slack.url)
    assert _error(client.auth_test) == "token_expired"
    fake_slack.oauth.revoke("T1")
    assert _error(WebClient(token=first["access_token"], base_url=fake_slack.url).auth_test) \
        == "token_revoked"


def test_the_authorize_page_refuses_bad_requests(fake_slack: FakeSlack, app: WebClient) -> None:
    ws = fake_slack.workspace("T1")
    for params, error in (({"client_id": "9.9"}, "invalid_client_id"),
                          ({"redirect_uri": "https://evil.example/cb"}, "bad_redirect_uri"),
                          ({"scope": ""}, "invalid_scope")):
        with pytest.raises(ValueError, match=error):
            fake_slack.oauth.approve(_authorize(fake_slack, **params), ws)
    denied = fake_slack.oauth.approve(_authorize(fake_slack), ws, deny=True)
    assert parse_qs(urlsplit(denied).query) == {"error": ["access_denied"], "state": ["s1"]}


def test_the_authorize_page_redirects_over_http(fake_slack: FakeSlack, app: WebClient) -> None:
    import urllib.request

    fake_slack.oauth.signed_in = fake_slack.workspace("T1")

    class NoFollow(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoFollow)
    with pytest.raises(urllib.error.HTTPError) as exc:
        opener.open(_authorize(fake_slack))
    assert exc.value.code == 302
    location = exc.value.headers["Location"]
    assert location.startswith(REDIRECT) and "code=" in location and "state=s1" in location
