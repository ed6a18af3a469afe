"""The "Wrong flow?" control on offline turns."""

from __future__ import annotations

from bot import ids
from bot.render.turn import render_turn
from bot.render.views import TurnView


def _buttons(blocks: list[dict[str, object]]) -> list[dict[str, object]]:
    return [el for b in blocks for el in b.get("elements") or []  # type: ignore[attr-defined]
            if str(el.get("action_id", "")).startswith(ids.WRONG_FLOW)]


def test_offline_turns_offer_the_other_flows_then_none() -> None:
    view = TurnView("S1", message="hi", engine="offline", other_flows=[
        ("vpn", "VPN won't connect"), ("dns", "<!channel> DNS *bold*"), ("none", "None of these")])
    buttons = _buttons(render_turn(view).blocks)
    assert [b["action_id"] for b in buttons] == [f"{ids.WRONG_FLOW}:{n}" for n in range(3)]
    assert [b["value"] for b in buttons] == ["S1|vpn", "S1|dns", "S1|none"]
    texts = [b["text"]["text"] for b in buttons]  # type: ignore[index]
    assert texts[0] == "Try: VPN won't connect" and texts[-1] == "None of these"
    assert all(len(t) <= 75 for t in texts)


def test_no_control_on_claude_turns_or_without_choices() -> None:
    assert _buttons(render_turn(TurnView("S1", message="x", engine="claude",
                                         other_flows=[("vpn", "VPN")])).blocks) == []
    assert _buttons(render_turn(TurnView("S1", message="x", engine="offline")).blocks) == []


def test_the_id_is_registered() -> None:
    assert ids.WRONG_FLOW == "fp_wrong_flow" and ids.WRONG_FLOW in ids.BUTTON_PREFIXES
