"""The offline engine walks flows with buttons; its state survives a JSON round trip."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from bot.engines.base import (
    FactView,
    FixView,
    LaneItemView,
    TurnContext,
    TurnInput,
    TurnOutput,
)
from bot.engines.offline import DISCOVERY_CONFIDENCE, OfflineEngine
from bot.flows import load_flow_text, load_library, match_flow

LIBRARY = load_library()


@dataclass
class FakeSession:
    """What the session service keeps between turns, kept as simply as possible."""

    engine: OfflineEngine
    intake: str
    flow: Any = None
    state: dict[str, Any] | None = None
    summary: str | None = None
    lane: list[LaneItemView] = field(default_factory=list)
    fixes: list[FixView] = field(default_factory=list)
    facts: list[FactView] = field(default_factory=list)
    outputs: list[TurnOutput] = field(default_factory=list)

    def turn(self, *inputs: TurnInput) -> TurnOutput:
        ctx = TurnContext(
            session_id="s-1",
            intake_text=self.intake,
            summary=self.summary,
            domain=None,
            confidence=0.0,
            facts=list(self.facts),
            lane=list(self.lane),
            fixes=list(self.fixes),
            inputs=list(inputs),
            engine_state=self.state,
            flow=self.flow,
            turn_number=len(self.outputs),
        )
        out = self.engine.take_turn(ctx)
        self.state = json.loads(json.dumps(out.engine_state))  # what the database gives back
        self.summary = out.summary
        for f in out.facts:
            self.facts.append(FactView(f"f{len(self.facts)}", f.text, f.source))
        for q in out.questions:
            self.lane.append(
                LaneItemView(
                    f"q{len(self.lane)}", "question", q.text, list(q.options), node_id=q.node_id
                )
            )
        for a in out.actions:
            self.lane.append(
                LaneItemView(
                    f"a{len(self.lane)}",
                    "action",
                    a.text,
                    command=a.command,
                    risk=a.risk,
                    node_id=a.node_id,
                )
            )
        for fx in out.fixes:
            self.fixes.append(
                FixView(
                    f"x{len(self.fixes)}",
                    fx.title,
                    fx.steps,
                    fx.rationale,
                    "pending",
                    node_id=fx.node_id,
                )
            )
        self.outputs.append(out)
        return out

    def answer(self, choice: str) -> TurnOutput:
        item = next(i for i in reversed(self.lane) if i.kind == "question" and i.status == "open")
        self._close(item, "answered", choice)
        return self.turn(TurnInput("answer", "alice", item_id=item.id, choice=choice))

    def act(self, done: bool = True) -> TurnOutput:
        item = next(i for i in reversed(self.lane) if i.kind == "action" and i.status == "open")
        self._close(item, "done" if done else "skipped", None)
        return self.turn(
            TurnInput("action_done" if done else "action_skip", "alice", item_id=item.id)
        )

    def decide(self, choice: str) -> TurnOutput:
        fix = next(f for f in reversed(self.fixes) if f.status == "pending")
        self.fixes[self.fixes.index(fix)] = replace(fix, status=choice)
        return self.turn(TurnInput("fix_decision", "alice", item_id=fix.id, choice=choice))

    def _close(self, item: LaneItemView, status: str, answer: str | None) -> None:
        self.lane[self.lane.index(item)] = replace(item, status=status, answer=answer)


def session(flow_id: str | None, intake: str = "outlook keeps popping pw box") -> FakeSession:
    return FakeSession(OfflineEngine(LIBRARY), intake, LIBRARY.get(flow_id) if flow_id else None)


def test_first_turn_presents_the_start_question_with_buttons() -> None:
    s = session("outlook", "outlook keeps popping pw box\nsecond line of the ticket")
    out = s.turn()
    assert out.summary == "outlook keeps popping pw box"
    # The confidence is the match score of the intake, not a constant.
    score = match_flow("outlook keeps popping pw box\nsecond line of the ticket", LIBRARY)
    assert score is not None and out.domain == "email" and out.confidence == score.score
    assert out.recommend == "continue" and out.usage.input_tokens == 0
    [q] = out.questions
    assert q.node_id == "scope" and q.kind == "check"
    assert q.options == ["Just this user", "Several users or everyone"]
    assert out.engine_state == {
        "v": 1,
        "mode": "flow",
        "flow_id": "outlook",
        "node": "scope",
        "path": [],
        "ended": None,
        "score": score.score,
    }


def test_walk_to_a_fix_then_worked_recommends_resolve() -> None:
    s = session("outlook")
    s.turn()
    out = s.answer("Just this user")
    assert [f.text for f in out.facts] == ["Scope: Just this user"]
    assert out.facts[0].source == "technician"
    assert out.questions[0].node_id == "web_check"
    s.answer("Web is fine, only desktop Outlook is wrong")
    s.answer("Need password or it keeps prompting")
    out = s.answer("Sign-ins succeed")
    [fix] = out.fixes
    assert fix.node_id == "fix_clear_creds" and fix.confidence == 0.8
    assert fix.steps and fix.verify and fix.rationale
    out = s.decide("worked")
    assert out.recommend == "resolve" and "press Resolve" in out.message
    assert [f.text for f in out.facts] == [
        "Worked: Clear Outlook's stored credentials and sign in again"
    ]
    assert [p["node"] for p in s.state["path"]] == [  # type: ignore[index]
        "scope",
        "web_check",
        "status_bar",
        "signin_check",
        "fix_clear_creds",
    ]


def test_a_failed_fix_moves_to_the_next_branch_then_escalates() -> None:
    s = session("outlook")
    s.turn()
    s.answer("Just this user")
    s.answer("Web is fine, only desktop Outlook is wrong")
    out = s.answer("Disconnected or Working Offline")
    assert out.fixes[0].node_id == "fix_offline"
    out = s.decide("failed")
    assert out.recommend == "continue" and out.fixes[0].node_id == "fix_safe_mode"
    assert "Didn't work: Bring Outlook back online" in [f.text for f in out.facts]
    assert s.decide("rejected").fixes[0].node_id == "fix_repair"
    assert s.decide("failed").fixes[0].node_id == "fix_new_profile"
    out = s.decide("failed")
    assert out.recommend == "escalate"
    assert "Escalate to endpoint" in out.message and "Path walked" in out.message
    assert "Fix: Bring Outlook back online → Didn't work" in out.message
    again = s.turn()
    assert again.recommend == "escalate" and not again.questions and not again.fixes


def test_a_fix_without_on_fail_offers_escalation() -> None:
    text = """\
id: tiny
title: Tiny
domain: other
match: [tiny]
start: ask
nodes:
  ask:
    question: On?
    options: {Yes: fix, No: fix}
  fix:
    fix: {title: Restart it, steps: [Off, On]}
"""
    flow, problems = load_flow_text(text, "tiny.yaml")
    assert flow is not None and not problems
    s = FakeSession(OfflineEngine(LIBRARY), "tiny thing", flow)
    s.turn()
    out = s.answer("Yes")
    assert [f.text for f in out.facts] == ["On: Yes"]
    out = s.decide("failed")
    assert out.recommend == "escalate" and "last fix" in out.message


def test_actions_record_done_and_skipped() -> None:
    s = session("mail-delivery", "ndr 550 5.7.1")
    s.turn()
    s.answer("Our users get a bounce (NDR) when sending")
    out = s.answer("5.7.x rejected (policy, SPF, DKIM or DMARC)")
    [action] = out.actions
    assert action.node_id == "auth_check" and action.kind == "check" and action.command
    out = s.act(done=True)
    assert out.facts[0].text.startswith("Done: Check the domain's SPF")
    assert out.questions[0].node_id == "auth_result"

    s2 = session("mail-delivery", "ndr")
    s2.turn()
    s2.answer("Mail from outside does not arrive")
    out = s2.act(done=False)
    assert out.facts[0].text.startswith("Skipped: Run a message trace")


def test_reply_text_becomes_a_fact_and_does_not_advance() -> None:
    s = session("vpn", "vpn wont connect")
    s.turn()
    out = s.turn(TurnInput("reply", "alice", text="User is on hotel wifi in Lisbon"))
    assert [(f.text, f.source) for f in out.facts] == [
        ("User is on hotel wifi in Lisbon", "technician")
    ]
    assert s.state["node"] == "internet_ok"  # type: ignore[index]
    assert out.questions == []  # still open in the lane: no duplicate buttons
    long = s.turn(TurnInput("reply", "alice", text="x" * 5000))
    assert len(long.facts[0].text) <= 300
    assert s.turn(TurnInput("retry", "system")).recommend == "continue"


def test_stale_or_unknown_answers_change_nothing() -> None:
    s = session("vpn", "vpn wont connect")
    s.turn()
    s.answer("Yes")
    old = s.lane[0]
    out = s.turn(
        TurnInput("answer", "bob", item_id=old.id, choice="No")
    )  # double click on old item
    assert out.facts == [] and s.state["node"] == "symptom"  # type: ignore[index]
    out = s.turn(TurnInput("answer", "bob", item_id=s.lane[-1].id, choice="Not an option"))
    assert out.facts == [] and s.state["node"] == "symptom"  # type: ignore[index]


def test_discovery_checklist_without_a_flow_ends_in_escalate() -> None:
    s = session(None, "the thing in room 4 does something odd")
    out = s.turn()
    assert out.confidence == DISCOVERY_CONFIDENCE < 0.4 and out.domain == "other"
    assert out.questions[0].options == ["Just one user", "Several users", "Everyone at the site"]
    assert s.answer("Several users").questions[0].options == [
        "Today",
        "Since yesterday",
        "This week",
        "Longer",
    ]
    s.answer("Today")
    out = s.answer("Not sure")
    assert out.actions[0].text == "Copy the exact error text into the thread"
    assert out.actions[0].kind == "check"
    out = s.act(done=True)
    assert out.recommend == "escalate" and out.confidence == DISCOVERY_CONFIDENCE
    facts = [f.text for f in s.facts]
    assert facts[:3] == ["Scope: Several users", "Started: Today", "Recent changes: Not sure"]
    assert "Path walked" in out.message


def test_a_reply_in_discovery_that_names_a_known_problem_switches_flow() -> None:
    s = session(None, "weird issue")
    s.turn()
    out = s.turn(TurnInput("reply", "alice", text="actually the print queue is stuck on the HP"))
    found = match_flow("actually the print queue is stuck on the HP", LIBRARY)
    assert found is not None and out.confidence == found.score and out.domain == "printing"
    assert "switching" in out.message and out.questions[0].node_id == "scope"
    assert s.state["flow_id"] == "printer"  # type: ignore[index]


def test_engine_state_round_trips_and_a_broken_state_restarts() -> None:
    s = session("dns", "cant resolve hostname")
    s.turn()
    s.answer("Internal names (servers, intranet)")
    assert json.loads(json.dumps(s.state)) == s.state
    engine = OfflineEngine(LIBRARY)
    ctx = TurnContext(
        "s", "dns", None, None, 0.0, [], [], [], [], engine_state={"v": 99}, flow=LIBRARY.get("dns")
    )
    out = engine.take_turn(ctx)
    assert "starting it again" in out.message and out.questions[0].node_id == "which_names"
    gone = TurnContext(
        "s",
        "x",
        None,
        None,
        0.0,
        [],
        [],
        [],
        [],
        engine_state={
            "v": 1,
            "mode": "flow",
            "flow_id": "deleted-flow",
            "node": "a",
            "path": [],
            "ended": None,
        },
    )
    assert engine.take_turn(gone).recommend == "escalate"


def test_escalate_leaf_explains_why_and_the_path() -> None:
    s = session("phishing-compromise", "clicked phishing link and entered password")
    s.turn()
    out = s.answer("Entered a password or approved an MFA prompt")
    assert out.actions[0].kind == "change" and out.actions[0].risk == "high"
    s.act()  # contain the account
    s.act()  # export the inbox rules and MFA methods
    s.act()  # disable the attacker's rules
    out = s.act()  # remove the attacker's MFA methods
    assert out.recommend == "escalate" and "Escalate to security" in out.message
    assert "Entered a password or approved an MFA prompt" in out.message
