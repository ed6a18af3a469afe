"""The submit_turn / draft_template tools and the lenient parsing of what Claude sends back."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from bot.engines.base import DOMAINS, FACT_SOURCES, RECOMMENDS, RISKS
from bot.engines.schema import (
    DRAFT_FORMAT,
    DRAFT_TEMPLATE_TOOL,
    SUBMIT_TURN_TOOL,
    TURN_FORMAT,
    OutputInvalid,
    parse_draft_template,
    parse_turn,
)


def turn(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"summary": "Outlook prompts for a password", "confidence": 0.5}
    base.update(fields)
    return base


# --- the tool definitions -------------------------------------------------------------------


def test_submit_turn_schema_follows_the_contract() -> None:
    assert SUBMIT_TURN_TOOL["name"] == "submit_turn"
    schema = SUBMIT_TURN_TOOL["input_schema"]
    jsonschema.Draft202012Validator.check_schema(schema)
    props = schema["properties"]
    assert set(props) == {
        "summary", "domain", "confidence", "message", "facts", "questions", "actions", "fixes",
        "recommend",
    }  # fmt: skip
    assert props["summary"]["maxLength"] == 120
    assert props["domain"]["enum"] == list(DOMAINS) and len(DOMAINS) == 13
    assert props["facts"]["items"]["properties"]["source"]["enum"] == list(FACT_SOURCES)
    assert set(props["questions"]["items"]["properties"]) == {"text", "options"}
    action = props["actions"]["items"]["properties"]
    assert action["command"]["type"] == ["string", "null"]
    assert action["risk"]["enum"] == list(RISKS)
    assert action["kind"]["enum"] == ["check", "change"]  # explicit, not derived from risk
    fix = props["fixes"]["items"]["properties"]
    assert set(fix) == {"title", "steps", "verify", "rationale", "confidence", "risk",
                        "supersedes"}
    assert fix["steps"]["items"] == {"type": "string"} and fix["steps"]["maxItems"] == 15
    # Bounded lists.
    assert [props[k]["maxItems"] for k in ("facts", "questions", "actions", "fixes")] == [
        10, 5, 5, 3]
    assert fix["supersedes"]["type"] == ["string", "null"]
    assert props["recommend"]["enum"] == list(RECOMMENDS)
    # Arrays may be left out ("missing arrays are empty").
    assert not {"facts", "questions", "actions", "fixes"} & set(schema["required"])


def test_draft_template_schema() -> None:
    assert DRAFT_TEMPLATE_TOOL["name"] == "draft_template"
    schema = DRAFT_TEMPLATE_TOOL["input_schema"]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["properties"]) == {"title", "description", "language", "body", "parameters"}
    param = schema["properties"]["parameters"]["items"]["properties"]
    assert set(param) == {"name", "description", "default"}


# --- lenient parsing --------------------------------------------------------------------------


def test_minimal_turn_gets_empty_lists_and_defaults() -> None:
    out = parse_turn(turn())
    assert out.summary == "Outlook prompts for a password"
    assert out.domain == "other" and out.confidence == 0.5 and out.message == ""
    assert out.facts == [] and out.questions == [] and out.actions == [] and out.fixes == []
    assert out.recommend == "continue"
    assert out.transcript == [] and out.usage.input_tokens == 0


def test_full_turn() -> None:
    out = parse_turn(
        turn(
            domain="email",
            confidence=0.72,
            message="Webmail works, so the account is fine.",
            facts=[{"text": "Webmail works", "source": "technician"}],
            questions=[{"text": "Was MFA enabled recently?", "options": ["Yes", "No"]}],
            actions=[
                {"text": "Check sign-ins", "command": "Get-MgAuditLogSignIn", "risk": "low"},
                {"text": "Restart Outlook", "command": None, "risk": "medium"},
            ],
            fixes=[
                {
                    "title": "Clear cached credentials",
                    "steps": ["Open Credential Manager", "Remove MicrosoftOffice16 entries"],
                    "rationale": "Stale token after the password change",
                    "confidence": 0.7,
                    "risk": "medium",
                    "supersedes": "fix-3",
                }
            ],
            recommend="continue",
        )
    )
    assert out.domain == "email" and out.confidence == 0.72
    assert out.facts[0].text == "Webmail works" and out.facts[0].source == "technician"
    assert out.questions[0].options == ["Yes", "No"]
    assert out.actions[0].command == "Get-MgAuditLogSignIn" and out.actions[0].kind == "check"
    assert out.actions[1].risk == "medium" and out.actions[1].kind == "change"
    fix = out.fixes[0]
    assert fix.steps == ["Open Credential Manager", "Remove MicrosoftOffice16 entries"]
    assert fix.supersedes == "fix-3" and fix.risk == "medium" and fix.confidence == 0.7


def test_other_keys_are_ignored() -> None:
    out = parse_turn(turn(thoughts="…", facts=[{"text": "x", "source": "intake", "extra": 1}]))
    assert out.facts[0].text == "x"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("printing", "printing"), ("Active Directory", "active_directory"), ("o365", "m365"),
     ("quantum", "other"), (None, "other")],
)  # fmt: skip
def test_unknown_domain_becomes_other(given: Any, expected: str) -> None:
    assert parse_turn(turn(domain=given)).domain == expected


@pytest.mark.parametrize(("given", "expected"), [(1.7, 1.0), (-0.3, 0.0), (1, 1.0), ("0.8", 0.8)])
def test_confidence_is_clamped(given: Any, expected: float) -> None:
    assert parse_turn(turn(confidence=given)).confidence == expected
    fix = {"title": "t", "confidence": given}
    assert parse_turn(turn(fixes=[fix])).fixes[0].confidence == expected


def test_summary_is_one_line_of_at_most_120_chars() -> None:
    out = parse_turn(turn(summary="Printer  offline\n" + "x" * 300))
    assert len(out.summary) == 120 and "\n" not in out.summary
    assert out.summary.startswith("Printer offline x")


def test_steps_as_a_single_string_are_split_into_lines() -> None:
    steps = "1. Open Devices and Printers\n2) Remove the printer\n\n- Re-add it by IP\n"
    out = parse_turn(turn(fixes=[{"title": "Re-add printer", "steps": steps}]))
    assert out.fixes[0].steps == [
        "Open Devices and Printers",
        "Remove the printer",
        "Re-add it by IP",
    ]


def test_nulls_and_blanks_are_lenient() -> None:
    out = parse_turn(
        turn(
            message=None,
            facts=None,
            questions=[{"text": "Which site?", "options": None}],
            actions=[{"text": "Ping the gateway", "command": "  ", "risk": None}],
            fixes=[{"title": "Reboot", "steps": None, "rationale": None, "supersedes": ""}],
            recommend=None,
        )
    )
    assert out.message == "" and out.facts == [] and out.questions[0].options == []
    assert out.actions[0].command is None and out.actions[0].risk == "low"
    assert out.fixes[0].steps == [] and out.fixes[0].supersedes is None
    assert out.recommend == "continue"


def test_numeric_supersedes_and_option_cleanup() -> None:
    out = parse_turn(
        turn(
            questions=[{"text": "Q?", "options": [" Yes ", "Yes", "", "No"]}],
            fixes=[{"title": "t", "supersedes": 12}],
        )
    )
    assert out.questions[0].options == ["Yes", "No"]
    assert out.fixes[0].supersedes == "12"


def test_unknown_fact_source_is_an_inference_and_enum_case_is_forgiven() -> None:
    out = parse_turn(
        turn(
            facts=[{"text": "t", "source": "guess"}],
            actions=[{"text": "a", "risk": "High"}],
            recommend="Escalate",
        )
    )
    assert out.facts[0].source == "inference"
    assert out.actions[0].risk == "high"
    assert out.recommend == "escalate"


# --- invalid input: errors that trigger the repair retry ----------------------------------------


@pytest.mark.parametrize(
    ("tool_input", "reason"),
    [
        (turn(facts="Webmail works"), "facts must be a list"),
        (turn(facts=["Webmail works"]), "facts[0] must be an object"),
        (turn(questions=[{"options": ["a"]}]), "questions[0].text is missing"),
        (turn(questions=[{"text": "   "}]), "questions[0].text must not be empty"),
        (
            turn(questions=[{"text": "q", "options": "Yes/No"}]),
            "questions[0].options must be a list",
        ),
        (turn(confidence="high"), "confidence must be a number"),
        (turn(confidence=True), "confidence must be a number"),
        (turn(actions=[{"text": "x", "risk": "extreme"}]), "actions[0].risk must be one of"),
        (turn(actions=[{"text": "x", "command": 5}]), "actions[0].command must be a string"),
        (turn(fixes=[{"title": "t", "steps": [1, 2]}]), "fixes[0].steps[0] must be a string"),
        (turn(fixes=[{"steps": ["a"]}]), "fixes[0].title is missing"),
        (turn(recommend="maybe"), "recommend must be one of continue, resolve, escalate"),
        (turn(domain=7), "domain must be a string"),
        ({"confidence": 0.5}, "summary is missing"),
        (turn(summary=42), "summary must be a string"),
        ({"summary": "s"}, "confidence is missing"),
    ],
)
def test_wrong_types_raise_with_the_reason(tool_input: Any, reason: str) -> None:
    with pytest.raises(OutputInvalid) as err:
        parse_turn(tool_input)
    assert reason in err.value.reason
    assert str(err.value) == err.value.reason


@pytest.mark.parametrize("tool_input", [None, [], "summary", 3])
def test_tool_input_must_be_an_object(tool_input: Any) -> None:
    with pytest.raises(OutputInvalid, match="JSON object"):
        parse_turn(tool_input)


def test_several_errors_are_named_together() -> None:
    with pytest.raises(OutputInvalid) as err:
        parse_turn({"facts": "x", "confidence": "high"})
    assert "summary is missing" in err.value.reason
    assert "confidence must be a number" in err.value.reason
    assert "facts must be a list" in err.value.reason


def test_contract_example_validates_against_its_own_schema() -> None:
    example = turn(
        domain="networking",
        message="",
        facts=[{"text": "VPN drops every 10 minutes", "source": "intake"}],
        questions=[{"text": "Wired or Wi-Fi?", "options": ["Wired", "Wi-Fi"]}],
        actions=[{"text": "Check the tunnel log", "command": None, "kind": "check",
                  "risk": "low"}],
        fixes=[
            {"title": "Raise DPD timeout", "steps": ["a"], "verify": "No drop for an hour",
             "rationale": "r", "confidence": 0.4, "risk": "high", "supersedes": None}
        ],
        recommend="continue",
    )  # fmt: skip
    jsonschema.validate(example, SUBMIT_TURN_TOOL["input_schema"])
    jsonschema.validate(example, TURN_FORMAT["schema"])  # the structured-outputs variant
    out = parse_turn(example)
    assert out.fixes[0].risk == "high" and out.fixes[0].verify == "No drop for an hour"


def test_action_kind_is_explicit_and_lists_are_bounded() -> None:
    out = parse_turn(turn(
        actions=[{"text": "Restart the spooler", "command": None, "kind": "change", "risk": "low"},
                 {"text": "Look at the queue", "command": None, "risk": "low"}],
        questions=[{"text": f"q{i}", "options": [str(n) for n in range(9)]} for i in range(8)],
    ))  # fmt: skip
    assert [a.kind for a in out.actions] == ["change", "check"]  # low risk, still a change
    assert len(out.questions) == 5 and len(out.questions[0].options) == 6


def test_structured_outputs_schema_uses_only_what_the_api_accepts() -> None:
    from fakes.anthropic_checks import schema_problem

    assert schema_problem(TURN_FORMAT["schema"]) is None
    assert schema_problem(DRAFT_FORMAT["schema"]) is None
    # The tool schema (open objects, maxLength / maxItems bounds) would be refused there.
    assert "additionalProperties" in str(schema_problem(SUBMIT_TURN_TOOL["input_schema"]))
    assert "maxLength" in str(schema_problem({**TURN_FORMAT["schema"], "maxLength": 3}))


# --- draft_template -----------------------------------------------------------------------------


def test_draft_template_parsing() -> None:
    draft = parse_draft_template(
        {
            "title": "Clear Office credentials",
            "description": "Removes cached Office tokens.",
            "language": "powershell",
            "body": "param($User)\ncmdkey /list",
            "parameters": [{"name": "User", "description": "UPN"}],
            "extra": True,
        }
    )
    assert draft == {
        "title": "Clear Office credentials",
        "description": "Removes cached Office tokens.",
        "language": "powershell",
        "body": "param($User)\ncmdkey /list",
        "parameters": [{"name": "User", "description": "UPN", "default": None}],
    }
    with pytest.raises(OutputInvalid, match="body is missing"):
        parse_draft_template({"title": "t", "description": "d", "language": "bash"})
    with pytest.raises(OutputInvalid, match="parameters must be a list"):
        parse_draft_template(
            {"title": "t", "description": "d", "language": "bash", "body": "b", "parameters": "x"}
        )
