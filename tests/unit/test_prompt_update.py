"""Later turns send what changed (ids of new items), not a copy of the whole state."""

from __future__ import annotations

import json

from bot.engines.base import FactView, LaneItemView, TurnContext, TurnInput
from bot.engines.prompt import build_request, render_update, shown_ids


def ctx(**fields: object) -> TurnContext:
    base: dict[str, object] = {
        "session_id": "s", "intake_text": "VPN drops every 10 minutes", "summary": "VPN drops",
        "domain": "networking", "confidence": 0.5, "facts": [], "lane": [], "fixes": [],
        "inputs": [TurnInput(kind="reply", author="a", text="still dropping")],
    }
    base.update(fields)
    return TurnContext(**base)  # type: ignore[arg-type]


ANSWER = {"summary": "VPN drops", "facts": [{"text": "Happens on Wi-Fi only", "source": "technician"}]}
HISTORY = [
    {"role": "user", "content": [{"type": "text", "text": "<new_inputs>VPN drops</new_inputs>"}]},
    {"role": "assistant", "content": [{"type": "text", "text": json.dumps(ANSWER)}]},
]


def test_the_models_own_items_are_named_by_id_and_others_written_out() -> None:
    c = ctx(facts=[FactView("f-1", "Happens on Wi-Fi only", "technician"),
                   FactView("f-2", "Firmware 7.2 on the firewall", "action")],
            lane=[LaneItemView("q-1", "question", "Which SSID?", ["Corp", "Guest"])],
            history=HISTORY)
    text = render_update(c, shown_ids(HISTORY), last_answer=json.dumps(HISTORY[1]["content"]))
    assert "Ids of your last answer's items, in order: facts [f-1]." in text
    assert "Happens on Wi-Fi only" not in text  # already in the conversation
    assert "[f-2] (action) Firmware 7.2 on the firewall" in text and "[q-1] open" in text
    request = build_request(c, model="m", max_tokens=10)
    sent = "".join(b.get("text", "") for b in request["messages"][-1]["content"])
    assert "<session_update>" in sent and "<session_state>" not in sent


def test_items_already_shown_are_not_repeated_and_nothing_new_sends_no_update() -> None:
    history = [*HISTORY[:1], {"role": "user", "content": [{"type": "text", "text": "[f-1]"}]}]
    c = ctx(facts=[FactView("f-1", "x", "technician")])
    assert render_update(c, shown_ids(history)) == ""


def test_after_a_compaction_the_update_repeats_summary_report_and_dropped_items() -> None:
    long_turn = [
        {"role": "user", "content": [{"type": "text", "text": "[f-1] " + "x" * 5000}]},
        {"role": "assistant", "content": [{"type": "text", "text": "{}"}]},
    ]
    c = ctx(history=long_turn * 3, facts=[FactView("f-1", "Happens on Wi-Fi only", "technician")])
    request = build_request(c, model="m", max_tokens=10, history_budget_chars=12_000)
    first = request["messages"][0]["content"][0]["text"]
    assert first.startswith("Earlier turns compacted")
    sent = "".join(b.get("text", "") for b in request["messages"][-1]["content"])
    assert "Summary: VPN drops" in sent and "Original report:" in sent


def test_the_prefix_is_kept_over_the_models_minimum_cacheable_length() -> None:
    from bot.engines.models import BUILTIN, choose_shape
    from bot.engines.prompt import cached_prefix
    from bot.engines.reference import FIELD_REFERENCE

    for model, caps in BUILTIN.items():
        request = build_request(ctx(), model=model, max_tokens=10,
                                shape=choose_shape(caps, "low"),
                                min_cache_tokens=caps.min_cache_tokens)
        tokens = len(cached_prefix(request)) / 4
        assert tokens >= caps.min_cache_tokens * 1.1, model
        padded = any(b["text"] == FIELD_REFERENCE for b in request["system"])
        assert padded == (model == "claude-haiku-4-5"), model  # only where it is needed
