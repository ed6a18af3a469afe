"""Hostile text never pings, never spoofs a link, never breaks out of a code block."""

from __future__ import annotations

import os
import random
import re

import pytest

from bot.render import (
    ActionItem,
    FactItem,
    FixItem,
    HeaderView,
    QuestionItem,
    TurnView,
    code_block,
    mention,
    neutralize,
    plain,
    render_ephemeral,
    render_header,
    render_turn,
    slack_to_plain,
)
from bot.render.check import iter_texts
from bot.render.safe import channel_link, code_span, group_mention

HOSTILE = [
    "<!channel>",
    "<!here|here>",
    "<!everyone>",
    "@everyone please look",
    "@channel",
    "@here",
    "<@U999>",
    "<@W42ABC|boss>",
    "<#C123ABC>",
    "<!subteam^S1ABC|admins>",
    "<https://evil.example|https://bank.example>",
    "<!date^1392734382^{date}|x>",
    "```\n<!channel>\n```",
    "back`tick `` and ``` fences",
    "nul\x00byte\x01\x02 bell\x07 esc\x1b[31m",
    "\u202eevil bidi override",
]


def _random_binary(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(n)).decode("utf-8", errors="replace")


def _all_text(blocks: list[dict], text: str) -> list[str]:
    return [*iter_texts(blocks), text]


def _assert_no_pings(strings: list[str], allowed: frozenset[str] = frozenset()) -> None:
    for s in strings:
        assert "<!" not in s, s
        assert "<#" not in s, s
        for uid in re.findall(r"<@([A-Z0-9]+)", s):
            assert uid in allowed, s
        assert not re.search(r"(?<![\w\u200d])@(channel|here|everyone)\b", s, re.I), s
        assert not re.search(r"<https?:", s), s
        assert "\x00" not in s and "\x1b" not in s and "\u202e" not in s


@pytest.mark.parametrize("hostile", HOSTILE)
def test_neutralize_defuses(hostile: str) -> None:
    out = neutralize(hostile)
    _assert_no_pings([out])


def test_neutralize_escapes_exactly_the_three_characters() -> None:
    assert neutralize("a & b < c > d") == "a &amp; b &lt; c &gt; d"


def test_allowed_mentions_survive_others_do_not() -> None:
    out = neutralize("ask <@U111> not <@U999> or <@U111|bob>", allowed_user_ids={"U111"})
    assert out.count("<@U111>") == 2
    assert "&lt;@U999&gt;" in out
    _assert_no_pings([out], frozenset({"U111"}))


def test_bare_broadcasts_get_a_zero_width_joiner() -> None:
    assert neutralize("hey @here and @Channel") == "hey @\u200dhere and @\u200dChannel"
    assert neutralize("mail me at ops@heretics.example") == "mail me at ops@heretics.example"


def test_binary_junk_becomes_one_replacement_character() -> None:
    out = neutralize("a\x00\x01\x02b")
    assert out == "a\ufffdb"
    junk = _random_binary(5000, 1) + os.urandom(0).decode()
    out = neutralize(junk)
    assert "\ufffd\ufffd" not in out
    _assert_no_pings([out])


def test_neutralize_caps_length_visibly() -> None:
    out = neutralize("x" * 50_000, max_len=1000)
    assert len(out) <= 1000 and "truncated" in out


def test_plain_strips_controls_and_defuses_tokens() -> None:
    out = plain("<!channel> hi\x00 @here <@U1AB>")
    assert "\x00" not in out and "<!" not in out and "<@" not in out
    assert plain("less < more > same") == "less < more > same"


def test_code_block_cannot_be_closed_from_inside() -> None:
    out = code_block("echo ```\n<!channel>\n``` done`")
    assert out.startswith("```") and out.endswith("```")
    assert out.count("```") == 2
    _assert_no_pings([out])
    assert code_span("Get-Service spooler") == "`Get-Service spooler`"
    assert code_span("a `b` c").startswith("```")


def test_mention_only_for_valid_ids() -> None:
    assert mention("U123ABC") == "<@U123ABC>"
    assert mention("W0ABC") == "<@W0ABC>"
    assert "<@" not in mention("<!channel>") and "<!" not in mention("<!channel>")
    assert "<@" not in mention("u123")
    assert channel_link("C0123") == "<#C0123>"
    assert "<#" not in channel_link("#general")
    assert group_mention("S0AB") == "<!subteam^S0AB>"
    assert "<!" not in group_mention("!here")


def test_slack_to_plain_recovers_what_was_typed() -> None:
    raw = "see <https://a.example/x?a=1&amp;b=2|the doc> &lt;tag&gt; <!here> <@U1AB> <#C1AB|ops>"
    assert slack_to_plain(raw) == "see the doc (https://a.example/x?a=1&b=2) <tag> @here <@U1AB> #ops"


def _hostile_turn(extra: str) -> TurnView:
    h = " ".join(HOSTILE) + " " + extra
    return TurnView(
        session_id="s1",
        message=h,
        facts=[FactItem(h, "technician")],
        questions=[
            QuestionItem("q1", h, [h, "<!channel>", "@everyone"]),
            QuestionItem("q2", h, ["a"], status="answered", answer=h, decided_by="<!here>", decided_at_text=h),
        ],
        actions=[
            ActionItem("a1", h, command=h, risk=h, kind=h),
            ActionItem("a2", h, status="done", decided_by="U111", decided_at_text="10:42"),
        ],
        fixes=[
            FixItem("f1", h, [h, h], h, h, h, 0.5, supersedes_title=h),
            FixItem("f2", h, status="superseded", superseded_by_title=h),
            FixItem("f3", h, status="failed", decided_by=h),
        ],
        recommend="resolve",
        allowed_user_ids=frozenset({"U111"}),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_ping_survives_anywhere_in_a_rendered_turn(seed: int) -> None:
    msg = render_turn(_hostile_turn(_random_binary(3000, seed)))
    _assert_no_pings(_all_text(msg.blocks, msg.text), frozenset({"U111"}))


def test_hostile_header_and_ephemeral() -> None:
    h = " ".join(HOSTILE)
    header = render_header(
        HeaderView("s1", h, domain=h, tier=h, status=h, owner_id=h, escalated_to_id="<!here>",
                   time_active_text=h, flow_title=h, ticket_ref=h)
    )
    _assert_no_pings(_all_text(header.blocks, header.text))
    eph = render_ephemeral(h)
    _assert_no_pings(_all_text(eph.blocks, eph.text))
