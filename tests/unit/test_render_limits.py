"""Every Slack limit is enforced by the renderer, visibly, however much content comes in."""

from __future__ import annotations

import random
from typing import Any

import pytest
from slack_sdk.models.blocks import Block as SdkBlock
from slack_sdk.models.views import View

from bot.render import (
    ActionItem,
    FactItem,
    FixItem,
    QuestionItem,
    TurnView,
    enforce_message,
    escalate_modal,
    feedback_modal,
    intake_modal,
    render_turn,
    resolve_modal,
    split_text,
    truncate,
)
from bot.render.check import iter_elements, iter_texts, violations
from bot.render.limits import block_text_size, slack_len

MARKER = "more characters)"


def assert_valid(blocks: list[dict[str, Any]], text: str | None = None, **kw: Any) -> None:
    assert violations(blocks, text, **kw) == []
    for b in blocks:  # slack_sdk's own validators, an independent opinion
        SdkBlock.parse(b).validate_json()  # type: ignore[union-attr]


# --- truncate / split_text --------------------------------------------------------------------


def test_truncate_keeps_short_text() -> None:
    assert truncate("hello", 10) == "hello"


def test_truncate_is_visible_and_counts_what_was_cut() -> None:
    text = "word " * 1000
    out = truncate(text, 300)
    assert slack_len(out) <= 300
    assert out.endswith(MARKER)
    kept = out.split("… (truncated")[0]
    more = int(out.split("truncated, ")[1].split(" more")[0].replace(",", ""))
    assert len(kept) + more >= len(text.rstrip()) - 1


def test_truncate_without_note_ends_with_ellipsis() -> None:
    out = truncate("x" * 200, 75, note=False)
    assert len(out) <= 75 and out.endswith("…")


def test_truncate_counts_emoji_as_two_units() -> None:
    out = truncate("🙂" * 3000, 3000)
    assert slack_len(out) <= 3000


def test_truncate_never_splits_an_escape_or_a_mention() -> None:
    text = "a" * 95 + "&amp;" + "b" * 200
    out = truncate(text, 98, note=False)
    assert "&am" not in out.replace("&amp;", "")
    text = "a" * 90 + "<@U123456>" + "b" * 200
    assert "<@U12" not in truncate(text, 97, note=False)


def test_truncate_closes_an_open_code_fence() -> None:
    out = truncate("```\n" + "line\n" * 2000, 500)
    assert out.count("```") % 2 == 0


def test_split_text_prefers_paragraphs_and_respects_the_limit() -> None:
    paragraphs = [f"Paragraph {i}. " + "words " * 80 for i in range(30)]
    chunks = split_text("\n\n".join(paragraphs), 3000)
    assert len(chunks) > 1
    assert all(slack_len(c) <= 3000 for c in chunks)
    assert all(c.startswith("Paragraph") for c in chunks)
    assert "".join(chunks).replace("\n", "").replace(" ", "") == "".join(paragraphs).replace(" ", "")


def test_split_text_hard_cuts_one_long_word_and_reopens_fences() -> None:
    assert all(len(c) <= 100 for c in split_text("x" * 1000, 100))
    chunks = split_text("```\n" + "\n".join(f"line {i}" for i in range(400)) + "\n```", 500)
    assert all(c.count("```") % 2 == 0 for c in chunks)


# --- the final guard ----------------------------------------------------------------------


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_enforce_message_caps_blocks_with_a_visible_note() -> None:
    blocks, text = enforce_message([_section(f"item {i}") for i in range(80)], "")
    assert len(blocks) == 50
    assert blocks[-1]["type"] == "context"
    assert "31 more items not shown" in blocks[-1]["elements"][0]["text"]
    assert text.strip()
    assert_valid(blocks, text)


def test_enforce_message_clamps_every_field() -> None:
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": "b" * 200},
        "action_id": "fp_answer",
        "value": "v" * 5000,
    }
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 400}},
        _section("s" * 5000),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"c{i}"} for i in range(15)]},
        {"type": "actions", "elements": [dict(button) for _ in range(30)], "block_id": "x" * 300},
        {"type": "section", "text": {"type": "mrkdwn", "text": "dup"}, "block_id": "same"},
        {"type": "section", "text": {"type": "mrkdwn", "text": "dup"}, "block_id": "same"},
    ]
    out, text = enforce_message(blocks, "t" * 5000)
    assert_valid(out, text)
    assert slack_len(text) <= 3000
    assert MARKER in out[1]["text"]["text"]
    assert len(out[2]["elements"]) == 10
    assert len(out[3]["elements"]) == 25
    ids = [e["action_id"] for e in out[3]["elements"]]
    assert all(i.startswith("fp_answer") for i in ids) and len(set(ids)) == 25


def test_enforce_message_keeps_total_text_under_12k_visibly() -> None:
    blocks = [_section("z" * 2900) for _ in range(10)]
    out, _ = enforce_message(blocks, "x")
    assert block_text_size(out) <= 12_000
    assert any(MARKER in t for t in iter_texts(out))


def test_enforce_message_always_has_a_fallback_text() -> None:
    _, text = enforce_message([_section("from the block")], "   ")
    assert text == "from the block"
    _, text = enforce_message([], "")
    assert text


# --- a turn far beyond every limit --------------------------------------------------------------


def _huge_turn() -> TurnView:
    return TurnView(
        session_id="sess-1",
        message="Intro paragraph.\n\n" + ("long line of model output " * 40 + "\n\n") * 100,
        facts=[FactItem(f"fact number {i} " + "detail " * 30, "technician") for i in range(80)],
        questions=[
            QuestionItem(f"q{i}", f"Question {i}? " + "why " * 200, [f"{j} " + "o" * 500 for j in range(30)])
            for i in range(30)
        ],
        actions=[ActionItem(f"a{i}", "Run it " * 100, "Get-Thing " * 200, "high") for i in range(10)],
        fixes=[FixItem(f"f{i}", "Fix " * 50, ["step " * 100] * 20, "because " * 200) for i in range(10)],
        recommend="escalate",
    )


def test_a_huge_turn_fits_every_limit() -> None:
    turn = _huge_turn()
    assert len(turn.message) > 100_000
    msg = render_turn(turn)
    assert_valid(msg.blocks, msg.text)
    assert len(msg.blocks) <= 50
    assert block_text_size(msg.blocks) <= 12_000
    assert 0 < len(msg.text) <= 3000
    for el in iter_elements(msg.blocks):
        assert len(el["text"]["text"]) <= 75
        assert len(el["value"]) <= 2000
        assert len(el["action_id"]) <= 255
    texts = list(iter_texts(msg.blocks))
    assert any(MARKER in t for t in texts), "long message truncated visibly"
    assert any("more question" in t and "not shown" in t for t in texts)
    assert any("more facts not shown" in t for t in texts)
    # every kind keeps at least its first item, and the escalate hint survives at the end
    ids = {b.get("block_id") for b in msg.blocks}
    assert {"fp_q:q0", "fp_a:a0", "fp_f:f0"} <= ids
    assert msg.blocks[-1]["accessory"]["action_id"] == "fp_escalate"


def test_too_many_options_are_capped_visibly() -> None:
    turn = TurnView("s", questions=[QuestionItem("q", "Pick one", [f"opt {i}" for i in range(30)])])
    msg = render_turn(turn)
    buttons = list(iter_elements(msg.blocks))
    assert 0 < len(buttons) <= 25
    assert "Showing 12 of 30 options" in msg.blocks[0]["text"]["text"]


# --- modals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "view",
    [
        escalate_modal("sess-1", "r" * 10_000),
        resolve_modal("sess-1", "## Problem\n" + "note text " * 20_000),
        intake_modal("C123"),
        feedback_modal("sess-1"),
    ],
)
def test_modals_fit_view_limits(view: dict[str, Any]) -> None:
    assert len(view["title"]["text"]) <= 24
    assert len(view["private_metadata"]) <= 3000
    assert_valid(view["blocks"], max_blocks=100, max_chars=None)
    View(**view).validate_json()
    for b in view["blocks"]:
        if b["type"] == "input":
            assert b["block_id"] == b["element"]["action_id"]


def test_resolve_modal_truncates_the_preview_visibly() -> None:
    view = resolve_modal("sess-1", "note text " * 20_000)
    assert any(MARKER in t for t in iter_texts(view["blocks"]))


# --- random content never breaks a limit -----------------------------------------------------

_CHARS = "ab c\n\n`*_~<>&@!#|😀é\u200d\x00"


@pytest.mark.parametrize("seed", range(25))
def test_random_turns_always_fit(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.choice([10, 100, 1000, 5000])

    def rs(n: int) -> str:
        return "".join(rng.choice(_CHARS) for _ in range(rng.randrange(n)))

    turn = TurnView(
        f"s{seed}",
        message=rs(size * 3),
        facts=[FactItem(rs(size)) for _ in range(rng.randrange(40))],
        questions=[
            QuestionItem(f"q{i}", rs(size), [rs(200) for _ in range(rng.randrange(30))],
                         status=rng.choice(["open", "answered"]), answer=rs(size), decided_by=rs(20))
            for i in range(rng.randrange(30))
        ],
        actions=[
            ActionItem(f"a{i}", rs(size), rs(size), kind=rng.choice(["check", "change"]),
                       status=rng.choice(["open", "done", "skipped"]))
            for i in range(rng.randrange(20))
        ],
        fixes=[
            FixItem(f"f{i}", rs(300), [rs(size) for _ in range(rng.randrange(10))], rs(size), rs(size),
                    status=rng.choice(["pending", "worked", "superseded"]), superseded_by_title=rs(100))
            for i in range(rng.randrange(10))
        ],
        recommend=rng.choice(["continue", "resolve", "escalate"]),
    )
    msg = render_turn(turn)
    assert_valid(msg.blocks, msg.text)
    for s in [msg.text, *iter_texts(msg.blocks)]:
        assert "<!" not in s and "<@" not in s


def test_action_ids_are_unique_across_the_whole_message() -> None:
    from bot.render.limits import enforce_blocks

    item = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "step"},
         "accessory": {"type": "button", "action_id": "fp_action_done", "value": "1",
                       "text": {"type": "plain_text", "text": "Done"}}},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "fp_action_done", "value": "2",
             "text": {"type": "plain_text", "text": "Done"}},
            {"type": "button", "action_id": "fp_action_skip", "value": "2",
             "text": {"type": "plain_text", "text": "Skip"}}]},
    ]
    out = enforce_blocks(item * 12)
    ids = [el["action_id"] for b in out
           for el in [*(b.get("elements") or []), b.get("accessory")]
           if isinstance(el, dict) and "action_id" in el]
    assert len(ids) == len(set(ids)) > 20
    assert all(i.startswith(("fp_action_done", "fp_action_skip")) for i in ids)


def test_deduplicated_action_ids_still_match_their_handlers() -> None:
    from bot import ids
    from bot.render.limits import enforce_blocks

    button = {"type": "button", "action_id": ids.ACTION_DONE, "value": "1",
              "text": {"type": "plain_text", "text": "Done"}}
    out = enforce_blocks([{"type": "actions", "elements": [button, dict(button)]},
                          {"type": "actions", "elements": [dict(button)]}])
    found = [el["action_id"] for b in out for el in b["elements"]]
    assert len(set(found)) == 3
    assert all(ids.prefixed(ids.ACTION_DONE).match(a) for a in found)
