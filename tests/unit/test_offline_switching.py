"""Offline flows: typed answers, leaving a wrong flow, and replies that describe another flow."""

from __future__ import annotations

from bot.engines.base import TurnContext, TurnInput
from bot.engines.offline import (
    FLOW_CONFIDENCE,
    NONE_OF_THESE,
    WRONG_FLOW_ITEM,
    OfflineEngine,
)
from tests.unit.test_offline_engine import LIBRARY, session


def _wrong_flow(choice: str) -> TurnInput:
    return TurnInput("answer", "alice", item_id=WRONG_FLOW_ITEM, choice=choice)


def test_typing_an_option_answers_the_open_question() -> None:
    s = session("outlook")
    s.turn()
    question = s.lane[-1]
    out = s.turn(TurnInput("reply", "alice", text="just this user."))
    assert [f.text for f in out.facts] == ["Scope: Just this user"]  # no raw "fact"
    assert out.answered == [(question.id, "Just this user")]
    assert out.questions[0].node_id == "web_check"
    assert "as the answer *Just this user*" in out.message
    assert s.state["path"][-1] == {"flow": "outlook", "node": "scope", "answer": "Just this user"}  # type: ignore[index]


YES_NO = """
id: yes-no
title: Yes or no
domain: other
match: [widget broken]
start: q
nodes:
  q:
    question: Is the widget plugged in?
    fact: "Plugged in: {answer}"
    options:
      Yes, it is: done
      No: done
      Not sure: done
  done:
    escalate: x
"""


def test_yes_and_no_answer_the_option_that_starts_with_them() -> None:
    from bot.flows import load_flow_text
    from tests.unit.test_offline_engine import FakeSession

    flow, problems = load_flow_text(YES_NO, "yes-no.yaml")
    assert flow is not None, problems
    for typed, label in (("yes", "Yes, it is"), ("Yep!", "Yes, it is"), ("nope", "No"),
                         ("no", "No"), ("NOT SURE", "Not sure")):
        s = FakeSession(OfflineEngine(LIBRARY), "widget broken", flow)
        s.turn()
        out = s.turn(TurnInput("reply", "alice", text=typed))
        assert [f.text for f in out.facts] == [f"Plugged in: {label}"], typed
        assert out.answered == [(s.lane[0].id, label)]


def test_a_near_miss_asks_and_records_nothing() -> None:
    s = session("outlook")
    s.turn()
    out = s.turn(TurnInput("reply", "alice", text="jsut this user"))
    assert out.facts == [] and out.answered == []
    assert "Did you mean *Just this user*?" in out.message
    assert s.state["node"] == "scope"  # type: ignore[index]


def test_a_long_reply_is_a_fact_not_an_answer() -> None:
    s = session("outlook")
    s.turn()
    text = "just this user, and she says it started after the new laptop was set up on monday"
    out = s.turn(TurnInput("reply", "alice", text=text))
    assert [f.text for f in out.facts] == [text] and out.answered == []
    assert s.state["node"] == "scope"  # type: ignore[index]


def test_every_flow_turn_offers_other_flows_and_none_of_these() -> None:
    s = session("outlook", "outlook keeps asking for the password")
    out = s.turn()
    ids = [fid for fid, _ in out.other_flows]
    assert ids[-1] == NONE_OF_THESE and "outlook" not in ids
    assert 2 <= len(ids) <= 4 and len(set(ids)) == len(ids)
    assert out.flow_id == "outlook"


def test_choosing_another_flow_switches_and_is_recorded() -> None:
    s = session("outlook", "outlook keeps asking for the password")
    s.turn()
    s.answer("Just this user")
    out = s.turn(_wrong_flow("password-reset"))
    assert out.flow_id == "password-reset" and s.state["flow_id"] == "password-reset"  # type: ignore[index]
    assert [f.text for f in out.facts] == [
        "Flow changed: Outlook not syncing, not receiving, or prompting for a password → "
        "Password reset or expired password"
    ]
    assert "Switched from" in out.message
    assert out.questions[0].node_id == LIBRARY.get("password-reset").start  # type: ignore[union-attr]
    assert s.state["path"][0]["flow"] == "outlook"  # type: ignore[index]  # history kept
    assert out.confidence >= 0.6
    # The flow we left is offered to go back.
    assert "outlook" in [fid for fid, _ in out.other_flows]


def test_none_of_these_drops_to_discovery() -> None:
    s = session("printer", "restock the printer paper, it says error")
    s.turn()
    out = s.turn(_wrong_flow(NONE_OF_THESE))
    assert out.flow_id == "" and s.state["mode"] == "discovery"  # type: ignore[index]
    assert out.other_flows == [] and out.questions[0].options[0] == "Just one user"
    assert out.facts[0].text.startswith("Not the Printer")


def test_a_bogus_or_repeated_choice_changes_nothing() -> None:
    s = session("printer", "printer offline")
    s.turn()
    before = dict(s.state or {})
    for choice in ("no-such-flow", "printer", "", "<script>"):
        out = s.turn(_wrong_flow(choice))
        assert out.facts == [] and s.state == before, choice


def test_a_reply_describing_another_flow_switches_and_says_so() -> None:
    s = session("printer", "printer offline")
    s.turn()
    out = s.turn(TurnInput("reply", "alice", text="sorry, wrong ticket: veeam backup job failed"))
    assert s.state["flow_id"] == "backup-failure" and out.flow_id == "backup-failure"  # type: ignore[index]
    assert "rather than *Printer" in out.message and "switching" in out.message
    assert any(f.text.startswith("Flow changed") for f in out.facts)


def test_a_reply_about_the_same_problem_stays() -> None:
    s = session("printer", "printer offline")
    s.turn()
    out = s.turn(TurnInput("reply", "alice", text="the HP in accounts shows offline on two pcs"))
    assert s.state["flow_id"] == "printer" and out.flow_id == "printer"  # type: ignore[index]
    assert "switching" not in out.message


def test_a_state_saved_before_scores_uses_the_old_confidence() -> None:
    engine = OfflineEngine(LIBRARY)
    state = {"v": 1, "mode": "flow", "flow_id": "dns", "node": "which_names", "path": [],
             "ended": None}
    ctx = TurnContext("s", "dns", None, None, 0.5, [], [], [], [], engine_state=state,
                      flow=LIBRARY.get("dns"))
    assert engine.take_turn(ctx).confidence == FLOW_CONFIDENCE


BRANCHES = """
id: branches
title: Widget broken
domain: other
match: [widget broken]
start: q
nodes:
  q:
    question: Which widget?
    fact: "Widget: {answer}"
    options:
      Left: check_left
      Right: check_right
  check_left:
    action: Check the left widget's cable
    next: esc
  check_right:
    action: Check the right widget's firmware
    next: esc
  esc:
    escalate:
      to: vendor
      reason: Still broken after the cable and firmware checks.
"""


def test_an_escalation_reason_names_only_the_checks_run() -> None:
    from bot.flows import load_flow_text
    from tests.unit.test_offline_engine import FakeSession

    flow, problems = load_flow_text(BRANCHES, "branches.yaml")
    assert flow is not None, problems
    s = FakeSession(OfflineEngine(LIBRARY), "widget broken", flow)
    s.turn()
    s.answer("Left")
    out = s.act()
    assert out.recommend == "escalate"
    assert "cable and firmware" not in out.message  # the firmware check never ran
    assert "Widget broken: not fixed after the 2 checks run" in out.message
    assert "Check the left widget's cable" in out.message  # the path walked
    assert "firmware" not in out.message

    linear = BRANCHES.replace("Right: check_right", "Right: check_left")
    linear = linear.replace("""  check_right:
    action: Check the right widget's firmware
    next: esc
""", "").replace("the cable and firmware checks", "the cable check")
    flow2, problems = load_flow_text(linear, "linear.yaml")
    assert flow2 is not None, problems
    s = FakeSession(OfflineEngine(LIBRARY), "widget broken", flow2)
    s.turn()
    s.answer("Right")
    assert "Still broken after the cable check." in s.act().message


def test_a_click_then_a_typed_answer_in_one_batch_never_answers_an_unseen_question() -> None:
    s = session("outlook")
    s.turn()
    item = s.lane[-1]
    s._close(item, "answered", "Just this user")
    out = s.turn(TurnInput("answer", "bob", item_id=item.id, choice="Just this user"),
                 TurnInput("reply", "alice", text="yes"))
    assert out.answered == [] and "yes" in [f.text for f in out.facts]
    assert s.state["node"] == "web_check"  # type: ignore[index]  # moved once, by the click
