"""The tools Claude must call, and lenient validation of what it sends back.

``submit_turn`` is the model contract of CONTRACTS.md: missing arrays are empty, other keys are
ignored, an unknown domain becomes ``other``, confidences are clamped to 0..1 and the summary is
cut to 120 characters. Wrong *types* (``facts`` as a string, a question without text, confidence
``"high"``) raise :class:`OutputInvalid`, which the engine turns into one repair retry.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_core import ErrorDetails

from bot.engines.base import (
    DOMAINS,
    FACT_SOURCES,
    RECOMMENDS,
    RISKS,
    ActionOut,
    FactOut,
    FixOut,
    QuestionOut,
    TurnOutput,
)

SUMMARY_MAX = 120


class OutputInvalid(Exception):
    """The model's tool input does not fit the contract; ``reason`` names what was wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# Tool definitions (sent byte-identically on every request: they open the cached prefix)
# ---------------------------------------------------------------------------------------------

_RISK_SCHEMA = {
    "type": "string",
    "enum": list(RISKS),
    "description": "low = read-only / no user impact; medium = reversible change to one user "
    "or device; high = disruptive, hard to reverse, many users, identity or security.",
}

# Upper bounds of a turn's lists: hard limits, looser than the prompt's guidance (two
# questions, three actions, two fixes a turn) so a turn that needs one more is not cut. The
# tool schema states them as maxItems; structured outputs accept no array bounds (beyond
# minItems 0/1), so there they are said in the description; the parser cuts longer lists.
LIMITS = {"facts": 10, "questions": 5, "options": 6, "actions": 5, "fixes": 3, "steps": 15}
ACTION_KINDS = ("check", "change")


def _array(items: dict[str, Any], limit: int, description: str, strict: bool) -> dict[str, Any]:
    if strict:
        return {"type": "array", "items": items,
                "description": f"{description} At most {limit} items."}
    return {"type": "array", "items": items, "maxItems": limit, "description": description}


def _object(properties: dict[str, Any], required: list[str], strict: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if strict:
        out["additionalProperties"] = False  # structured outputs require closed objects
    return out


def turn_schema(strict: bool) -> dict[str, Any]:
    """The structured turn as JSON Schema. ``strict``: the subset structured outputs accept
    (no numeric, string or array bounds; every object closed)."""
    bound = {} if strict else {"minimum": 0, "maximum": 1}
    summary: dict[str, Any] = {
        "type": "string",
        "description": f"One-line problem summary as currently understood (max {SUMMARY_MAX} "
        "chars).",
    }
    if not strict:
        summary["maxLength"] = SUMMARY_MAX
    fact = _object({"text": {"type": "string"},
                    "source": {"type": "string", "enum": list(FACT_SOURCES)}},
                   ["text", "source"], strict)
    question = _object({
        "text": {"type": "string"},
        "options": _array({"type": "string"}, LIMITS["options"],
                          "Short quick-answer options (a few words each).", strict),
    }, ["text", "options"], strict)
    action = _object({
        "text": {"type": "string"},
        "command": {"type": ["string", "null"],
                    "description": "Exact command to run, or null when there is none."},
        "kind": {"type": "string", "enum": list(ACTION_KINDS),
                 "description": "check = read-only look at something; change = alters a "
                 "system, account or device."},
        "risk": _RISK_SCHEMA,
    }, ["text", "command", "kind", "risk"], strict)
    fix = _object({
        "title": {"type": "string"},
        "steps": _array({"type": "string"}, LIMITS["steps"], "Numbered steps, in order.",
                        strict),
        "verify": {"type": "string",
                   "description": "How the technician confirms the fix worked."},
        "rationale": {"type": "string"},
        "confidence": {"type": "number", **bound},
        "risk": _RISK_SCHEMA,
        "supersedes": {"type": ["string", "null"],
                       "description": "Id of an earlier fix (from the state) this replaces."},
    }, ["title", "steps", "verify", "rationale", "confidence", "risk", "supersedes"], strict)
    return _object({
        "summary": summary,
        "domain": {"type": "string", "enum": list(DOMAINS)},
        "confidence": {"type": "number", **bound,
                       "description": "How sure you are of the cause and the path to a fix, "
                       "0..1."},
        "message": {"type": "string",
                    "description": "Short markdown note to the technician (may be empty)."},
        "facts": _array(fact, LIMITS["facts"], "New facts only (not ones already in the "
                        "state).", strict),
        "questions": _array(question, LIMITS["questions"], "New questions, each with short "
                            "quick-answer options.", strict),
        "actions": _array(action, LIMITS["actions"], "Checks or steps for the technician to "
                          "run and report back on.", strict),
        "fixes": _array(fix, LIMITS["fixes"], "Suggested fixes, when the evidence supports "
                        "one.", strict),
        "recommend": {"type": "string", "enum": list(RECOMMENDS)},
    }, ["summary", "domain", "confidence", "message", "recommend"], strict)  # missing arrays: []


SUBMIT_TURN_TOOL: dict[str, Any] = {
    "name": "submit_turn",
    "description": (
        "Submit this turn of the troubleshooting session: the updated summary, domain and "
        "confidence, a short note to the technician, and only the NEW facts, questions, "
        "actions and fixes of this turn. Call it exactly once per reply."
    ),
    "input_schema": turn_schema(strict=False),
}
TURN_FORMAT: dict[str, Any] = {"type": "json_schema", "schema": turn_schema(strict=True)}

DRAFT_TEMPLATE_TOOL: dict[str, Any] = {
    "name": "draft_template",
    "description": (
        "Submit a reusable template (usually a script) distilled from a resolved session, "
        "for an admin to review."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "title": {"type": "string", "description": "Short name of the template."},
            "description": {
                "type": "string",
                "description": "When to use it and what it does, in two or three sentences.",
            },
            "language": {
                "type": "string",
                "description": "powershell, bash, cmd, python or markdown (for a checklist).",
            },
            "body": {"type": "string", "description": "The template itself."},
            "parameters": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "default": {"type": ["string", "null"]},
                    },
                    "required": ["name", "description"],
                },
            },
        },
        "required": ["title", "description", "language", "body"],
    },
}


def _closed(schema: Any) -> Any:
    """A copy of ``schema`` with every object closed (structured outputs require it)."""
    if isinstance(schema, list):
        return [_closed(x) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _closed(v) for k, v in schema.items()}
    if out.get("type") == "object":
        out["additionalProperties"] = False
    return out


DRAFT_FORMAT: dict[str, Any] = {
    "type": "json_schema", "schema": _closed(DRAFT_TEMPLATE_TOOL["input_schema"]),
}


# ---------------------------------------------------------------------------------------------
# Lenient normalisation helpers (used as "before" validators)
# ---------------------------------------------------------------------------------------------

_DOMAIN_ALIASES = {
    "ad": "active_directory",
    "entra": "active_directory",
    "azure_ad": "active_directory",
    "identity": "active_directory",
    "network": "networking",
    "microsoft_365": "m365",
    "office_365": "m365",
    "o365": "m365",
    "office365": "m365",
    "mail": "email",
    "exchange": "email",
    "printer": "printing",
    "print": "printing",
    "servers": "server",
    "endpoints": "endpoint",
    "workstation": "endpoint",
    "backups": "backup",
    "phone": "voip",
    "telephony": "voip",
}
_RISK_ALIASES = {"med": "medium", "moderate": "medium", "critical": "high", "none": "low"}
_STEP_MARKER = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")


def _norm_word(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value.strip().lower().replace("-", "_").replace(" ", "_")


def _confidence(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be a number between 0 and 1")
    try:
        number = float(value)
    except ValueError:
        raise ValueError("must be a number between 0 and 1") from None
    if math.isnan(number):
        raise ValueError("must be a number between 0 and 1")
    return min(1.0, max(0.0, number))


def _risk(value: Any) -> str:
    if value is None:
        return "low"
    word = _norm_word(value)
    word = _RISK_ALIASES.get(word, word)
    if word not in RISKS:
        raise ValueError(f"must be one of {', '.join(RISKS)}")
    return word


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def _empty_if_none(value: Any) -> Any:
    return [] if value is None else value


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FactIn(_Lenient):
    text: str
    source: str = "inference"

    _text = field_validator("text", mode="before")(_text)

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, v: Any) -> str:
        if v is None:
            return "inference"
        word = _norm_word(v)
        return word if word in FACT_SOURCES else "inference"


class QuestionIn(_Lenient):
    text: str
    options: list[str] = []

    _text = field_validator("text", mode="before")(_text)
    _none = field_validator("options", mode="before")(_empty_if_none)

    @field_validator("options")
    @classmethod
    def _options(cls, v: list[str]) -> list[str]:
        seen: list[str] = []
        for option in (o.strip() for o in v):
            if option and option not in seen:
                seen.append(option)
        return seen[: LIMITS["options"]]


class ActionIn(_Lenient):
    text: str
    command: str | None = None
    risk: str = "low"
    kind: str | None = None  # check | change; when absent, a low-risk action is a check

    _text = field_validator("text", mode="before")(_text)
    _risk = field_validator("risk", mode="before")(_risk)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, v: Any) -> str | None:
        if v is None:
            return None
        word = _norm_word(v)
        return word if word in ACTION_KINDS else None

    @field_validator("command")
    @classmethod
    def _command(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None


class FixIn(_Lenient):
    title: str
    steps: list[str] = []
    rationale: str = ""
    confidence: float = 0.5
    risk: str = "low"
    supersedes: str | None = None
    verify: str = ""

    _title = field_validator("title", mode="before")(_text)
    _risk = field_validator("risk", mode="before")(_risk)
    _confidence = field_validator("confidence", mode="before")(_confidence)

    @field_validator("steps", mode="before")
    @classmethod
    def _steps(cls, v: Any) -> Any:
        if v is None:
            return []
        if isinstance(v, str):
            v = v.splitlines()
        if isinstance(v, list) and all(isinstance(s, str) for s in v):
            steps = [step for s in v if (step := _STEP_MARKER.sub("", s).strip())]
            return steps[: LIMITS["steps"]]
        return v

    @field_validator("rationale", "verify", mode="before")
    @classmethod
    def _optional_text(cls, v: Any) -> Any:
        return "" if v is None else v

    @field_validator("supersedes", mode="before")
    @classmethod
    def _supersedes(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        if isinstance(v, str) and not v.strip():
            return None
        return v.strip() if isinstance(v, str) else v


class TurnIn(_Lenient):
    summary: str
    domain: str = "other"
    confidence: float
    message: str = ""
    facts: list[FactIn] = []
    questions: list[QuestionIn] = []
    actions: list[ActionIn] = []
    fixes: list[FixIn] = []
    recommend: str = "continue"

    _confidence = field_validator("confidence", mode="before")(_confidence)
    _lists = field_validator("facts", "questions", "actions", "fixes", mode="before")(
        _empty_if_none
    )

    @field_validator("facts", "questions", "actions", "fixes")
    @classmethod
    def _bounded(cls, v: list[Any], info: Any) -> list[Any]:
        return v[: LIMITS[info.field_name]]

    @field_validator("summary", mode="before")
    @classmethod
    def _summary(cls, v: Any) -> str:
        text = " ".join(_text(v).split())
        return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"

    @field_validator("domain", mode="before")
    @classmethod
    def _domain(cls, v: Any) -> str:
        if v is None:
            return "other"
        word = _norm_word(v)
        word = _DOMAIN_ALIASES.get(word, word)
        return word if word in DOMAINS else "other"

    @field_validator("message", mode="before")
    @classmethod
    def _message(cls, v: Any) -> Any:
        return "" if v is None else v

    @field_validator("recommend", mode="before")
    @classmethod
    def _recommend(cls, v: Any) -> str:
        if v is None:
            return "continue"
        word = _norm_word(v)
        word = {"resolved": "resolve", "escalation": "escalate"}.get(word, word)
        if word not in RECOMMENDS:
            raise ValueError(f"must be one of {', '.join(RECOMMENDS)}")
        return word


class TemplateParameterIn(_Lenient):
    name: str
    description: str = ""
    default: str | None = None

    _name = field_validator("name", mode="before")(_text)


class DraftTemplateIn(_Lenient):
    title: str
    description: str
    language: str
    body: str
    parameters: list[TemplateParameterIn] = []

    _texts = field_validator("title", "language", "body", mode="before")(_text)
    _params = field_validator("parameters", mode="before")(_empty_if_none)


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

_TYPE_WORDS = {
    "missing": "is missing",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "model_type": "must be an object",
    "dict_type": "must be an object",
}


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "input"


def _describe(errors: list[ErrorDetails], limit: int = 4) -> str:
    parts = []
    for err in errors[:limit]:
        if err["type"] == "value_error":
            msg = str(err["msg"]).removeprefix("Value error, ")
        else:
            msg = _TYPE_WORDS.get(err["type"], str(err["msg"]).lower())
        parts.append(f"{_loc(err['loc'])} {msg}")
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return "; ".join(parts)


def _validate(model: type[BaseModel], tool_input: Any) -> Any:
    if not isinstance(tool_input, dict):
        raise OutputInvalid("the tool input must be a JSON object")
    try:
        return model.model_validate(tool_input)
    except ValidationError as err:
        raise OutputInvalid(_describe(err.errors())) from None


def parse_turn(tool_input: Any) -> TurnOutput:
    """Validate ``submit_turn`` input into a :class:`TurnOutput` (no usage, no transcript)."""
    turn: TurnIn = _validate(TurnIn, tool_input)
    return TurnOutput(
        summary=turn.summary,
        domain=turn.domain,
        confidence=turn.confidence,
        message=turn.message.strip(),
        facts=[FactOut(text=f.text, source=f.source) for f in turn.facts],
        questions=[QuestionOut(text=q.text, options=q.options) for q in turn.questions],
        actions=[
            ActionOut(
                text=a.text,
                command=a.command,
                risk=a.risk,
                kind=a.kind or ("check" if a.risk == "low" else "change"),  # type: ignore[arg-type]
            )
            for a in turn.actions
        ],
        fixes=[
            FixOut(
                title=f.title,
                steps=f.steps,
                rationale=f.rationale.strip(),
                confidence=f.confidence,
                risk=f.risk,
                supersedes=f.supersedes,
                verify=f.verify.strip(),
            )
            for f in turn.fixes
        ],
        recommend=turn.recommend,  # type: ignore[arg-type]  # checked against RECOMMENDS
    )


def parse_turn_text(text: str) -> TurnOutput:
    """A structured-outputs answer: the turn as a JSON text block."""
    return parse_turn(_json_object(text))


def _json_object(text: str) -> Any:
    import json

    raw = text.strip()
    if raw.startswith("```"):  # tolerated, though structured outputs should never fence
        raw = raw.strip("`").removeprefix("json").strip()
    try:
        return json.loads(raw)
    except ValueError:
        raise OutputInvalid("the reply was not a single JSON object") from None


def parse_draft_template(tool_input: Any) -> dict[str, Any]:
    """Validate ``draft_template`` input into a plain dict."""
    draft: DraftTemplateIn = _validate(DraftTemplateIn, tool_input)
    return draft.model_dump()
