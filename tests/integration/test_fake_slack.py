"""The fake Slack Web API, driven by the real slack_sdk WebClient over loopback."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.sandbox.fake_slack import Call, FakeSlack

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Step 1*"}}]


@pytest.fixture()
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture()
def client(fake: FakeSlack) -> WebClient:
    return WebClient(base_url=fake.url, token="xoxb-test", retry_handlers=[])


def test_url_shape_and_auth_test(fake: FakeSlack, client: WebClient) -> None:
    assert fake.url.startswith("http://127.0.0.1:") and fake.url.endswith("/api/")
    assert fake.port > 0
    resp = client.auth_test()
    assert resp["user_id"] == "UFPBOT" and resp["bot_id"] == "BFPBOT"
    assert resp["team_id"] == "T0001" and resp["team"] and resp["url"]
    (call,) = fake.calls("auth.test")
    assert call.token == "xoxb-test" and call.headers["authorization"] == "Bearer xoxb-test"


def test_post_and_update_record_parsed_bodies(fake: FakeSlack, client: WebClient) -> None:
    meta = {"event_type": "fp_session", "event_payload": {"session_id": "s1"}}
    parent = client.chat_postMessage(channel="C1", text="hello", blocks=BLOCKS, metadata=meta)
    assert parent["ok"] and parent["channel"] == "C1"
    assert parent["message"]["blocks"] == BLOCKS and parent["message"]["metadata"] == meta
    reply = client.chat_postMessage(channel="C1", text="step", thread_ts=parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"]

    call = fake.calls("chat.postMessage")[0]
    assert isinstance(call, Call) and call.body["blocks"] == BLOCKS
    assert call.body["metadata"] == meta and call.at <= time.monotonic()

    client.chat_update(channel="C1", ts=reply["ts"], text="step v2", blocks=BLOCKS)
    updated = client.chat_update(channel="C1", ts=reply["ts"], text="plain now")
    assert updated["text"] == "plain now" and "blocks" not in updated["message"]
    assert fake.calls("chat.update")[0].body["blocks"] == BLOCKS

    thread = fake.messages("C1", thread_ts=parent["ts"])
    assert [m["ts"] for m in thread] == [parent["ts"], reply["ts"]]
    assert thread[0]["reply_count"] == 1 and thread[0]["metadata"] == meta
    assert thread[1]["text"] == "plain now" and "blocks" not in thread[1]
    assert thread[1]["user"] == "UFPBOT"
    replies = client.conversations_replies(channel="C1", ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["hello", "plain now"]

    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel="C1", ts="1.000001", text="x")
    assert err.value.response["error"] == "message_not_found"


def test_form_encoded_json_fields_and_token_field_are_decoded(fake: FakeSlack) -> None:
    form = {"token": "xoxb-form", "channel": "C2", "text": "t", "blocks": json.dumps(BLOCKS)}
    req = urllib.request.Request(fake.url + "chat.postMessage", data=urlencode(form).encode())
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert json.loads(resp.read())["ok"] is True
    (call,) = fake.calls("chat.postMessage")
    assert call.token == "xoxb-form" and call.body["blocks"] == BLOCKS
    assert call.body["text"] == "t"


def test_ts_strictly_increasing_and_unique(fake: FakeSlack, client: WebClient) -> None:
    seen = [client.chat_postMessage(channel="C1", text=str(i))["ts"] for i in range(5)]
    seen.append(client.chat_postEphemeral(channel="C1", user="U1", text="e")["message_ts"])
    assert seen[0] == "1700000000.000100" and seen[1] == "1700000000.000200"
    as_numbers = [tuple(int(p) for p in ts.split(".")) for ts in seen]
    assert as_numbers == sorted(as_numbers) and len(set(seen)) == len(seen)
    assert fake.ephemerals("U1")[0]["text"] == "e" and fake.ephemerals("U2") == []


def test_missing_and_invalid_tokens(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as err:
        WebClient(base_url=fake.url, retry_handlers=[]).auth_test()
    assert err.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as err:
        WebClient(base_url=fake.url, token="xoxb-invalid-1", retry_handlers=[]).auth_test()
    assert err.value.response["error"] == "invalid_auth"


def test_429_is_retried_by_rate_limit_handler(fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", status=429, retry_after=0)
    retrying = WebClient(
        base_url=fake.url,
        token="xoxb-test",
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    assert retrying.chat_postMessage(channel="C1", text="hi")["ok"] is True
    assert len(fake.calls("chat.postMessage")) == 2


def test_429_without_handler_raises(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("chat.postMessage", status=429, retry_after=0)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="hi")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["retry-after"] in ("0", ["0"])
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]  # one-off


def test_500_and_ok_false_injection(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("chat.update", status=500)
    fake.fail("chat.update", status=200, error="msg_too_long")
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel="C1", ts="1.1", text="x")
    assert err.value.response.status_code == 500
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel="C1", ts="1.1", text="x")
    assert err.value.response.status_code == 200
    assert err.value.response["error"] == "msg_too_long"
    assert len(fake.calls("chat.update")) == 2


def test_script_callable_times_and_delay(fake: FakeSlack) -> None:
    client = WebClient(base_url=fake.url, token="xoxb-test", retry_handlers=[])
    fake.script("users.info", lambda call: {"ok": True, "user": {"id": call.body["user"]}}, 2)
    assert client.users_info(user="U7")["user"] == {"id": "U7"}
    assert client.users_info(user="U8")["user"] == {"id": "U8"}
    assert client.users_info(user="U9")["user"]["tz"] == "America/New_York"

    fake.script("chat.postMessage", {"ok": True, "ts": "9.9"}, delay=0.6)
    impatient = WebClient(base_url=fake.url, token="xoxb-test", timeout=0.3, retry_handlers=[])
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel="C1", text="slow")


def test_fail_channel_gives_not_in_channel(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_channel("C9")
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C9", text="hi")
    assert err.value.response["error"] == "not_in_channel"
    assert client.conversations_info(channel="C9")["channel"]["is_member"] is False
    fake.unfail_channel("C9")
    assert client.chat_postMessage(channel="C9", text="hi")["ok"]
    assert [m["text"] for m in fake.messages("C9")] == ["hi"]


def test_wait_for_polls_and_raises_readably(fake: FakeSlack, client: WebClient) -> None:
    timer = threading.Timer(0.1, lambda: client.chat_postMessage(channel="C1", text="later"))
    timer.start()
    calls = fake.wait_for(
        "chat.postMessage", timeout=3, predicate=lambda c: c.body["text"] == "later"
    )
    assert calls[0].body["channel"] == "C1"
    timer.join()
    with pytest.raises(AssertionError, match=r"expected 2 call\(s\) to chat.postMessage"):
        fake.wait_for("chat.postMessage", count=2, timeout=0.1)
    fake.clear()
    assert fake.calls() == []


def test_subscriber_sees_posts_updates_ephemerals_views(fake: FakeSlack, client: WebClient) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    fake.subscribe(lambda name, data: events.append((name, data)))
    ts = client.chat_postMessage(channel="C1", text="a")["ts"]
    client.chat_update(channel="C1", ts=ts, text="b")
    client.chat_postEphemeral(channel="C1", user="U1", text="psst")
    view = {"type": "modal", "callback_id": "fp_escalate_modal", "title": {}, "blocks": []}
    opened = client.views_open(trigger_id="1.2.3", view=view)["view"]
    client.views_update(view_id=opened["id"], view={**view, "private_metadata": "s1"})
    client.assistant_threads_setStatus(channel_id="C1", thread_ts=ts, status="is thinking…")
    names = [name for name, _ in events]
    assert names == [
        "message.posted",
        "message.updated",
        "ephemeral.posted",
        "view.opened",
        "view.updated",
        "status.set",
    ]
    assert events[1][1]["text"] == "b" and events[4][1]["private_metadata"] == "s1"
    assert fake.status("C1", ts) == "is thinking…"


def test_views_users_and_other_defaults(fake: FakeSlack, client: WebClient) -> None:
    view = {"type": "modal", "callback_id": "fp_resolve_modal", "title": {}, "blocks": []}
    opened = client.views_open(trigger_id="t", view=view)["view"]
    assert opened["id"] and opened["callback_id"] == "fp_resolve_modal"
    pushed = client.views_push(trigger_id="t2", view=view)["view"]
    assert pushed["id"] != opened["id"]
    with pytest.raises(SlackApiError) as err:
        client.views_update(view_id=opened["id"], hash="stale", view=view)
    assert err.value.response["error"] == "hash_conflict"
    home = {"type": "home", "blocks": []}
    first = client.views_publish(user_id="U1", view=home)["view"]
    assert client.views_publish(user_id="U1", view=home)["view"]["id"] == first["id"]
    assert len(fake.views()) == 3

    fake.set_user("U5", is_admin=True, real_name="Dana Admin", tz="Europe/London")
    user = client.users_info(user="U5")["user"]
    assert (user["is_admin"], user["real_name"], user["tz"]) == (
        True,
        "Dana Admin",
        "Europe/London",
    )
    plain = client.users_info(user="U6")["user"]
    assert plain["is_admin"] is False and plain["is_bot"] is False and plain["tz_offset"] == -18000

    ts = client.chat_postMessage(channel="C1", text="x")["ts"]
    link = client.chat_getPermalink(channel="C1", message_ts=ts)["permalink"]
    assert link.endswith("/archives/C1/p" + ts.replace(".", ""))
    client.reactions_add(channel="C1", timestamp=ts, name="eyes")
    assert fake.messages("C1")[0]["reactions"][0]["name"] == "eyes"
    client.reactions_remove(channel="C1", timestamp=ts, name="eyes")
    assert client.conversations_join(channel="C1")["channel"]["id"] == "C1"
    assert client.apps_connections_open(app_token="xapp-1")["url"].startswith("wss://")
    assert client.api_call("team.info")["ok"] is True
    client.chat_delete(channel="C1", ts=ts)
    assert fake.messages("C1") == []


def test_response_url_hook_is_recorded(fake: FakeSlack) -> None:
    resp = WebhookClient(fake.hook_url("T0001/1/abc")).send(text="done", response_type="ephemeral")
    assert resp.status_code == 200
    (call,) = fake.calls("response_url")
    assert call.body["text"] == "done" and call.path == "/hooks/T0001/1/abc"


def test_the_fake_refuses_tokens_and_channels_as_slack_does(fake: FakeSlack) -> None:
    """Token types and conversation ids are enforced (see the rules cited in fake_slack)."""
    app_client = WebClient(base_url=fake.url, token=None, retry_handlers=[])
    with pytest.raises(SlackApiError) as wrong_type:
        app_client.apps_connections_open(app_token="xoxb-pasted-bot-token")
    assert wrong_type.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as revoked:
        app_client.apps_connections_open(app_token="xapp-invalid-1")
    assert revoked.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as app_on_bot_method:
        WebClient(base_url=fake.url, token="xapp-1", retry_handlers=[]).chat_postMessage(
            channel="C1", text="x")
    assert app_on_bot_method.value.response["error"] == "not_allowed_token_type"
    bot = WebClient(base_url=fake.url, token="xoxb-test", retry_handlers=[])
    for name in ("escalations", "#escalations", "c0123"):
        with pytest.raises(SlackApiError) as by_name:
            bot.conversations_info(channel=name)
        assert by_name.value.response["error"] == "channel_not_found"
    assert bot.conversations_info(channel="C0123ESC")["channel"]["id"] == "C0123ESC"


def test_fake_refuses_duplicate_action_ids_in_a_block_and_the_notifier_falls_back() -> None:
    from bot.notify import Notifier, make_web_client
    from bot.sandbox.fake_slack import FakeSlack

    button = {"type": "button", "action_id": "fp_x", "text": {"type": "plain_text", "text": "X"}}
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Step one"}},
              {"type": "actions", "elements": [button, dict(button)]}]
    with FakeSlack() as fake:
        notifier = Notifier(make_web_client("xoxb-test", fake.url))
        ts = notifier.post("C1", "fallback", blocks)
        posts = fake.calls("chat.postMessage")
        assert len(posts) == 2  # refused once (invalid_blocks), then posted as plain text
        shown = next(m for m in fake.messages("C1") if m["ts"] == ts)
        assert "blocks" not in shown and "Step one" in shown["text"]
        ok_ts = notifier.post("C1", "t", blocks[:1])
        assert next(m for m in fake.messages("C1") if m["ts"] == ok_ts)["blocks"]
