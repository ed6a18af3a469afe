"""The fake's files upload flow, driven by slack_sdk's own ``files_upload_v2`` over loopback:
what real Slack accepts and what it refuses (sources in bot/sandbox/fake_slack.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.sandbox.fake_slack import FakeSlack

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # binary, not text


@pytest.fixture()
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture()
def client(fake: FakeSlack) -> WebClient:
    return WebClient(base_url=fake.url, token="xoxb-test", retry_handlers=[])


def test_upload_v2_shares_the_exact_bytes_in_a_channel(fake: FakeSlack, client: WebClient) -> None:
    resp = client.files_upload_v2(content=PNG, filename="c.png", title="Chart", channel="C1",
                                  alt_txt="a chart")
    assert resp["ok"] is True
    [shared] = fake.uploads("C1")
    assert shared["data"] == PNG and shared["title"] == "Chart"
    assert [c.method for c in fake.calls()] == [
        "files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    [msg] = fake.messages("C1")
    assert msg["subtype"] == "file_share" and msg["files"][0]["id"] == shared["id"]


def test_a_user_id_in_channels_lands_in_the_dm(fake: FakeSlack, client: WebClient) -> None:
    client.files_upload_v2(content=PNG, filename="c.png", title="t", channels=["U9"])
    assert fake.uploads("U9") and fake.messages("U9")[0]["subtype"] == "file_share"


def test_without_files_write_slack_answers_missing_scope(fake: FakeSlack,
                                                          client: WebClient) -> None:
    fake.scopes.discard("files:write")
    with pytest.raises(SlackApiError) as err:
        client.files_upload_v2(content=PNG, filename="c.png", title="t", channel="C1")
    assert err.value.response["error"] == "missing_scope"
    assert err.value.response["needed"] == "files:write"
    assert "chat:write" in err.value.response["provided"]
    assert "files:write" not in client.auth_test().headers.get("x-oauth-scopes", "")
    assert fake.uploads() == []


def test_zero_length_and_missing_filename_are_refused(client: WebClient) -> None:
    for kwargs in ({"filename": "c.png", "length": 0}, {"filename": "", "length": 10}):
        with pytest.raises(SlackApiError) as err:
            client.files_getUploadURLExternal(**kwargs)
        assert err.value.response["error"] == "missing_argument"


def test_completing_a_file_never_uploaded_or_twice_is_refused(fake: FakeSlack,
                                                              client: WebClient) -> None:
    got = client.files_getUploadURLExternal(filename="c.png", length=len(PNG))
    with pytest.raises(SlackApiError) as err:
        client.files_completeUploadExternal(files=[{"id": got["file_id"], "title": "t"}])
    assert err.value.response["error"] == "file_not_found"
    client.files_upload_v2(content=PNG, filename="c.png", title="t", channel="C1")
    done = fake.uploads("C1")[0]["id"]
    with pytest.raises(SlackApiError) as err:
        client.files_completeUploadExternal(files=[{"id": done}], channel_id="C1")
    assert err.value.response["error"] == "file_not_found"


def test_a_channel_the_bot_is_not_in_is_refused_on_complete(fake: FakeSlack,
                                                            client: WebClient) -> None:
    fake.fail_channel("CNOPE", "not_in_channel", methods=("files.completeUploadExternal",))
    with pytest.raises(SlackApiError) as err:
        client.files_upload_v2(content=PNG, filename="c.png", title="t", channel="CNOPE")
    assert err.value.response["error"] == "not_in_channel"


def test_a_failed_upload_post_is_an_sdk_error(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_uploads(1)
    with pytest.raises((SlackRequestError, OSError)):
        client.files_upload_v2(content=PNG, filename="c.png", title="t", channel="C1")
    assert fake.uploads() == []
