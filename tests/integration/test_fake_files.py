"""The Slack stand-in serves files as Slack does: ``files.info`` needs files:read, and the
private download gives the bytes only with a bot token and the scope, else Slack's HTML page
with a 200 (sources in bot/sandbox/fake_slack_files.py). Through the real SDK and httpx."""

from __future__ import annotations

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import SlackError
from bot.notify import Notifier
from bot.sandbox.fake_slack import FakeSlack


def test_download_needs_the_bot_token_and_the_scope(fake_slack: FakeSlack) -> None:
    f = fake_slack.files.add("app.log", b"ERROR 42\n", "text/plain")
    url = f["url_private_download"]
    assert "/files-pri/T0001-" in url and url.endswith("/download/app.log")
    anonymous = httpx.get(url)
    assert anonymous.status_code == 200 and anonymous.headers["content-type"].startswith("text/html")
    assert b"ERROR 42" not in anonymous.content
    ok = httpx.get(url, headers={"Authorization": "Bearer xoxb-test"})
    assert ok.content == b"ERROR 42\n" and ok.headers["content-type"] == "text/plain"
    fake_slack.files.scope_granted = False
    refused = httpx.get(url, headers={"Authorization": "Bearer xoxb-test"})
    assert refused.status_code == 200 and b"Sign in" in refused.content


def test_files_info_and_missing_scope(fake_slack: FakeSlack) -> None:
    f = fake_slack.files.add("shot.png", b"\x89PNG\r\n\x1a\n", "image/png", size=1234)
    client = WebClient(token="xoxb-test", base_url=fake_slack.url)
    info = client.files_info(file=f["id"])
    assert info["file"]["size"] == 1234 and info["file"]["mimetype"] == "image/png"
    with pytest.raises(SlackApiError) as err:
        client.files_info(file="F404")
    assert err.value.response["error"] == "file_not_found"
    fake_slack.files.scope_granted = False
    with pytest.raises(SlackApiError) as err:
        client.files_info(file=f["id"])
    assert err.value.response["error"] == "missing_scope"
    assert err.value.response["needed"] == "files:read"


def test_the_notifier_downloads_capped_and_only_from_slack(fake_slack: FakeSlack) -> None:
    notifier = Notifier(WebClient(token="xoxb-test", base_url=fake_slack.url))
    f = fake_slack.files.add("big.log", b"x" * 10_000, "text/plain")
    assert notifier.download(f["url_private_download"], 100) == b"x" * 100
    with pytest.raises(SlackError) as err:
        notifier.download("https://evil.example.com/files-pri/T1-F1/download/a.log", 100)
    assert err.value.code == "not_slack_url"
    assert not [c for c in fake_slack.calls("files.download") if "evil" in c.path]
    fake_slack.files.scope_granted = False
    with pytest.raises(SlackError) as err:
        notifier.download(f["url_private_download"], 100)
    assert err.value.code == "no_file_access"
