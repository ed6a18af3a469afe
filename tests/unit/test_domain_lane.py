from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain import (
    DomainRuleError,
    answer_question,
    complete_action,
    find_item,
    new_action,
    new_question,
    open_items,
    validate_confidence_tier,
    validate_intake_type,
    validate_non_negative,
    validate_rating,
    validate_status,
    with_item,
)

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
KEYS = {
    "id", "kind", "text", "options", "command", "risk", "status", "answer",
    "decided_by", "decided_at", "node_id", "step_kind", "message_ts",
}  # fmt: skip


def _question() -> dict:
    return new_question("Is the printer online?", ["Yes", "No"], id="q1")


def _action() -> dict:
    return new_action("Restart the spooler", "Restart-Service Spooler", "medium", id="a1")


def test_new_items_have_the_contract_shape() -> None:
    q, a = _question(), _action()
    assert set(q) == KEYS and set(a) == KEYS
    assert q["kind"] == "question" and a["kind"] == "action"
    assert q["status"] == a["status"] == "open"
    assert q["options"] == ["Yes", "No"] and q["command"] is None and q["risk"] is None
    assert a["options"] == [] and a["command"] == "Restart-Service Spooler"
    assert a["risk"] == "medium" and a["step_kind"] == "check"
    assert new_action("x", None, "HIGH", id="a2", kind="change")["step_kind"] == "change"


def test_unknown_risk_reads_as_high_and_bad_kind_refused() -> None:
    assert new_action("x", None, "spicy", id="a")["risk"] == "high"
    with pytest.raises(DomainRuleError):
        new_question("x", [], id="q", kind="maybe")
    with pytest.raises(DomainRuleError):
        new_question("  ", [], id="q")


def test_answer_question_returns_a_new_dict() -> None:
    q = _question()
    answered = answer_question(q, "No", "U123", NOW)
    assert q["status"] == "open" and q["answer"] is None
    assert answered["status"] == "answered"
    assert answered["answer"] == "No"
    assert answered["decided_by"] == "U123"
    assert answered["decided_at"] == NOW.isoformat()


def test_double_answer_refused() -> None:
    answered = answer_question(_question(), "Yes", "U1", NOW)
    with pytest.raises(DomainRuleError, match=r"already answered \(Yes\)"):
        answer_question(answered, "No", "U2", NOW)


def test_bad_option_refused() -> None:
    with pytest.raises(DomainRuleError, match="not one of the answers"):
        answer_question(_question(), "Maybe", "U1", NOW)


def test_free_answer_when_no_options() -> None:
    q = new_question("Which build?", [], id="q2")
    assert answer_question(q, "22H2", "U1", NOW)["answer"] == "22H2"
    with pytest.raises(DomainRuleError):
        answer_question(q, "", "U1", NOW)


def test_answering_an_action_refused() -> None:
    with pytest.raises(DomainRuleError, match="not a question"):
        answer_question(_action(), "Yes", "U1", NOW)


def test_naive_now_refused() -> None:
    with pytest.raises(ValueError):
        answer_question(_question(), "Yes", "U1", datetime(2026, 1, 1))


@pytest.mark.parametrize(("done", "status"), [(True, "done"), (False, "skipped")])
def test_complete_action_once(done: bool, status: str) -> None:
    finished = complete_action(_action(), done, "U1", NOW)
    assert finished["status"] == status and finished["decided_by"] == "U1"
    with pytest.raises(DomainRuleError, match=f"already marked {status}"):
        complete_action(finished, not done, "U1", NOW)
    with pytest.raises(DomainRuleError):
        complete_action(_question(), True, "U1", NOW)


def test_open_items_tolerates_missing_keys() -> None:
    q, a = _question(), _action()
    lane = {"questions": [q, answer_question(new_question("b", [], id="q9"), "x", "U", NOW)]}
    assert [i["id"] for i in open_items(lane)] == ["q1"]
    assert open_items({"actions": [a]}) == [a]
    assert open_items({}) == [] and open_items(None) == []


def test_find_and_replace_item() -> None:
    lane = {"questions": [_question()], "actions": [_action()]}
    answered = answer_question(find_item(lane, "q1") or {}, "Yes", "U1", NOW)
    updated = with_item(lane, answered)
    assert updated["questions"][0]["status"] == "answered"
    assert lane["questions"][0]["status"] == "open"
    assert [i["id"] for i in open_items(updated)] == ["a1"]
    with pytest.raises(DomainRuleError):
        with_item(lane, {**answered, "id": "gone"})


@pytest.mark.parametrize("good", [1, 5, "3", " 4 "])
def test_rating_ok(good: object) -> None:
    assert validate_rating(good) in range(1, 6)


@pytest.mark.parametrize("bad", [0, 6, 2.5, "x", True, None, "-1"])
def test_rating_refused(bad: object) -> None:
    with pytest.raises(DomainRuleError, match=r"^A rating is a whole number from 1 to 5\.$"):
        validate_rating(bad)


def test_value_validators() -> None:
    assert validate_non_negative("Tokens", 0) == 0
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(DomainRuleError, match="Tokens"):
            validate_non_negative("Tokens", bad)
    assert validate_status("paused") == "paused"
    assert validate_intake_type("log_paste") == "log_paste"
    assert validate_confidence_tier("guided") == "guided"
    for check, bad in (
        (validate_status, "parked"),
        (validate_intake_type, "email"),
        (validate_confidence_tier, "sure"),
    ):
        with pytest.raises(DomainRuleError, match="expected one of"):
            check(bad)
