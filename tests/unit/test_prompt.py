"""Building the Messages request: a byte-stable cached prefix, the state message, compaction."""

from __future__ import annotations

import json
from typing import Any

from fakes.anthropic_server import request_problem

from bot.engines.base import FactView, FixView, LaneItemView, TurnContext, TurnInput
from bot.engines.prompt import (
    HISTORY_BUDGET_CHARS,
    build_request,
    cached_prefix,
    compact_history,
    sanitize_history,
)
from bot.flows.model import ActionNode, EscalateNode, FixNode, Flow, QuestionNode

MODEL = "claude-sonnet-4-6"
# 200k-token window at ~4 characters a token; a request must stay under 120k tokens.
REQUEST_BUDGET_CHARS = 120_000 * 4

FLOW = {
    "id": "outlook-password-prompts",
    "title": "Outlook keeps asking for a password",
    "domain": "email",
    "match": ["outlook password"],
    "start": "webmail",
    "nodes": {
        "webmail": {"question": "Does webmail work?", "options": {"Yes": "creds", "No": "acct"}},
        "creds": {"action": "Clear Office entries in Credential Manager", "next": "profile"},
        "profile": {"fix": {"title": "Recreate the Outlook profile", "steps": ["a", "b"],
                            "rationale": "Corrupt profile"}},
        "acct": {"fix": {"title": "Check the account in Entra", "steps": ["x"], "rationale": ""}},
    },
}  # fmt: skip


def make_ctx(**fields: Any) -> TurnContext:
    base: dict[str, Any] = {
        "session_id": "sess-1",
        "intake_text": "Outlook keeps asking for a password since Monday",
        "summary": None,
        "domain": None,
        "confidence": 0.0,
        "facts": [],
        "lane": [],
        "fixes": [],
        "inputs": [
            TurnInput(kind="intake", author="alice", text="Outlook keeps asking for a password")
        ],
        "workspace_context": "Workspace: Contoso MSP. Log time in the PSA.",
    }
    base.update(fields)
    return TurnContext(**base)


def user_text(message: dict[str, Any]) -> str:
    return "\n".join(b["text"] for b in message["content"] if b["type"] == "text")


def reply(n: int, **tool_input: Any) -> dict[str, Any]:
    """What the engine stores for the model's answer of turn ``n``."""
    tool_input = {"summary": f"turn {n}", "confidence": 0.5, **tool_input}
    block = {"type": "tool_use", "id": f"toolu_{n:03d}", "name": "submit_turn", "input": tool_input}
    return {"role": "assistant", "content": [block]}


def strip_cache_control(message: dict[str, Any]) -> dict[str, Any]:
    content = [{k: v for k, v in b.items() if k != "cache_control"} for b in message["content"]]
    return {"role": message["role"], "content": content}


def run_session(turns: int, input_chars: int = 200) -> tuple[list[dict[str, Any]], TurnContext]:
    """Drive ``turns`` turns the way the engine does; return the requests and the last ctx."""
    requests = []
    history: list[dict[str, Any]] = []
    ctx = make_ctx()
    for n in range(1, turns + 1):
        if n > 1:
            ctx = make_ctx(
                summary=f"summary after {n - 1} turns",
                domain="email",
                confidence=min(0.9, 0.1 * n),
                facts=[FactView(f"f{i}", f"fact {i}", "technician") for i in range(n)],
                lane=[LaneItemView(f"q{i}", "question", f"question {i}?", ["Yes", "No"])
                      for i in range(n)],
                history=list(history),
                inputs=[TurnInput(kind="reply", author="bob", text=f"log {n}: " + "x" * input_chars)],
                turn_number=n,
            )  # fmt: skip
        request = build_request(ctx, model=MODEL, max_tokens=2048)
        requests.append(request)
        history += [strip_cache_control(request["messages"][-1]), reply(n)]
    return requests, ctx


def assert_valid(request: dict[str, Any]) -> None:
    assert request_problem(json.loads(json.dumps(request))) is None


# --- the cached prefix ------------------------------------------------------------------------


def test_request_shape() -> None:
    request = build_request(make_ctx(flow=FLOW), model=MODEL, max_tokens=1234)
    assert list(request)[:3] == ["model", "max_tokens", "tools"]
    assert request["model"] == MODEL and request["max_tokens"] == 1234
    assert [t["name"] for t in request["tools"]] == ["submit_turn"]
    assert request["tool_choice"] == {"type": "tool", "name": "submit_turn"}
    system = request["system"]
    assert len(system) == 3 and all(b["type"] == "text" for b in system)
    assert [("cache_control" in b) for b in system] == [False, False, True]
    assert system[-1]["cache_control"] == {"type": "ephemeral"}
    assert request["messages"][0]["role"] == "user" and len(request["messages"]) == 1
    assert "Outlook keeps asking for a password" in user_text(request["messages"][0])
    assert_valid(request)


def test_system_prompt_is_long_enough_to_cache_and_says_the_rules() -> None:
    prompt = build_request(make_ctx(), model=MODEL, max_tokens=10)["system"][0]["text"]
    # Sonnet caches prefixes of 1,024 tokens and more; shorter ones silently do not cache.
    assert len(prompt) // 4 > 1_500
    for rule in (
        "Read-only checks before changes",
        "Verify identity",
        "Never invent cmdlets",
        "supersedes",
        "Prefer escalation",
        "Never ask for passwords",
        "submit_turn",
    ):
        assert rule in prompt, rule  # fmt: skip


def test_prefix_is_byte_identical_across_turns_of_a_session() -> None:
    first = build_request(make_ctx(flow=FLOW), model=MODEL, max_tokens=2048)
    history = [strip_cache_control(first["messages"][-1]), reply(1)]
    for n in range(2, 5):
        history += [{"role": "user", "content": [{"type": "tool_result", "tool_use_id":
                     f"toolu_{n - 1:03d}", "content": "recorded"}, {"type": "text",
                     "text": f"turn {n}"}]}, reply(n)]  # fmt: skip
    fifth = build_request(
        make_ctx(
            flow=FLOW,
            summary="Outlook prompts after password change",
            domain="email",
            confidence=0.8,
            facts=[FactView("f1", "Webmail works", "technician")],
            fixes=[FixView("fx1", "Recreate profile", ["a"], "r", "failed")],
            history=history,
            inputs=[TurnInput(kind="reply", author="bob", text="still failing")],
            turn_number=5,
        ),
        model=MODEL,
        max_tokens=2048,
    )
    assert cached_prefix(first).encode() == cached_prefix(fifth).encode()
    prefix = json.dumps({"tools": first["tools"], "system": first["system"]})
    assert prefix == json.dumps({"tools": fifth["tools"], "system": fifth["system"]})
    assert "sess-1" not in prefix and "still failing" not in prefix
    assert "Webmail works" not in prefix


def test_flow_and_workspace_context_are_in_the_prefix() -> None:
    system = build_request(make_ctx(flow=FLOW), model=MODEL, max_tokens=10)["system"]
    flow_text = system[1]["text"]
    assert "Follow this flow; depart only with a stated reason in `message`" in flow_text
    assert '"Does webmail work?"' in flow_text and '"Yes" → `creds`' in flow_text
    assert "Recreate the Outlook profile" in flow_text and "Start at node `webmail`" in flow_text
    assert "Contoso MSP" in system[2]["text"]
    # Without a flow or workspace context the prompt alone carries the breakpoint.
    bare = build_request(make_ctx(workspace_context=""), model=MODEL, max_tokens=10)["system"]
    assert len(bare) == 1 and bare[0]["cache_control"] == {"type": "ephemeral"}


def test_a_parsed_flow_renders_every_node_deterministically() -> None:
    nodes = {
        "scope": QuestionNode("scope", "One user or everyone?", {"One": "creds", "All": "esc"},
                              kind="check", line=3),
        "creds": ActionNode("creds", "Clear Office credentials", "fix", kind="change",
                            command="cmdkey /list", risk="medium", line=9),
        "fix": FixNode("fix", "Recreate the profile", ["Close Outlook", "Add a profile"],
                       rationale="Corrupt profile", verify="No prompt for a day", risk="medium",
                       on_fail=None, line=14),
        "esc": EscalateNode("esc", "Exchange Online incident likely", to="messaging", line=20),
    }  # fmt: skip
    flow = Flow("outlook", "Outlook prompts", "email", ["outlook password"], "scope", nodes,
                source="builtin:outlook.yaml")  # fmt: skip
    system = build_request(make_ctx(flow=flow), model=MODEL, max_tokens=10)["system"]
    text = system[1]["text"]
    for needle in (
        "Flow: Outlook prompts (id `outlook`, domain email)", "Start at node `scope`.",
        '`scope` [kind check]: ask "One user or everyone?" — options: "One" → `creds`; "All" → `esc`',
        '`creds` [kind change, risk medium]: action "Clear Office credentials" — command '
        "`cmdkey /list` → `fix`",
        '`fix` [risk medium]: suggest fix "Recreate the profile" — steps: 1) Close Outlook '
        "2) Add a profile — why: Corrupt profile — verify: No prompt for a day — if it fails "
        "→ escalate",
        "`esc`: escalate to messaging: Exchange Online incident likely",
    ):  # fmt: skip
        assert needle in text, needle
    assert '"line"' not in text and "option_lines" not in text and "builtin:" not in text
    again = build_request(make_ctx(flow=flow, summary="s"), model=MODEL, max_tokens=10)
    assert again["system"] == system


# --- the turn message -------------------------------------------------------------------------


def test_state_message_shows_ids_statuses_and_inputs() -> None:
    ctx = make_ctx(
        summary="Outlook prompts for one user",
        domain="email",
        confidence=0.55,
        facts=[FactView("fact-7", "Webmail works", "action")],
        lane=[
            LaneItemView("q-3", "question", "Was MFA enabled recently?", ["Yes", "No", "Not sure"]),
            LaneItemView("q-2", "question", "One user or many?", ["One", "Many"],
                         status="answered", answer="One"),
            LaneItemView("act-4", "action", "Check sign-in logs", command="Get-MgAuditLogSignIn",
                         risk="low", status="done", answer="error 50126"),
        ],
        fixes=[
            FixView("fix-1", "Recreate Outlook profile", ["Close Outlook", "Add profile"], "r",
                    "failed"),
            FixView("fix-2", "Clear cached credentials", ["Open Credential Manager"], "r",
                    "pending"),
        ],
        inputs=[
            TurnInput(kind="fix_decision", author="alice", item_id="fix-1", choice="failed"),
            TurnInput(kind="answer", author="alice", item_id="q-3", choice="Yes"),
            TurnInput(kind="action_skip", author="bob", item_id="act-4"),
            TurnInput(kind="reply", author="bob", text="User changed the password on Friday"),
            TurnInput(kind="retry", author="alice"),
        ],
    )  # fmt: skip
    text = user_text(build_request(ctx, model=MODEL, max_tokens=10)["messages"][-1])
    for needle in (
        "Summary: Outlook prompts for one user", "confidence 0.55", "[fact-7] (action) Webmail works",
        '[q-3] open: "Was MFA enabled recently?" — options: Yes | No | Not sure',
        '[q-2] answered: "One user or many?" — answer: "One"',
        '[act-4] done: "Check sign-in logs" — command: `Get-MgAuditLogSignIn` — risk low',
        '[fix-1] failed: "Recreate Outlook profile"', '[fix-2] pending: "Clear cached credentials"',
        'alice reported that fix [fix-1] "Recreate Outlook profile" did not work',
        'alice answered question [q-3] "Was MFA enabled recently?": "Yes"',
        'bob skipped action [act-4]', "User changed the password on Friday",
        "alice asked for this turn to be tried again", "Original report:",
    ):  # fmt: skip
        assert needle in text, needle
    # Inputs come in order, after the state.
    assert text.index("<session_state>") < text.index("<new_inputs>")
    assert text.index('[fix-1] "Recreate Outlook profile" did not work') < text.index("Friday")


def test_intake_without_an_intake_input_is_shown_in_full_on_the_first_turn() -> None:
    intake = "Outlook prompts.\nPasted log:\n" + "z" * 8_000 + "\nFATAL: token expired"
    first = build_request(make_ctx(intake_text=intake, inputs=[]), model=MODEL, max_tokens=10)
    text = user_text(first["messages"][-1])
    assert "Original report:" in text and "z" * 8_000 in text and "FATAL" in text
    history = [strip_cache_control(first["messages"][-1]), reply(1)]
    later = make_ctx(intake_text=intake, summary="s", history=history, inputs=[])
    text = user_text(build_request(later, model=MODEL, max_tokens=10)["messages"][-1])
    # Later turns have it in the conversation: it is not sent again (uncached input stays flat).
    assert "Original report:" not in text and "FATAL" not in text
    # An intake input that carries the whole report is not repeated in the state.
    same = make_ctx(
        intake_text="Printer offline",
        inputs=[TurnInput(kind="intake", author="a", text="Printer offline")],
    )
    text = user_text(build_request(same, model=MODEL, max_tokens=10)["messages"][-1])
    assert "Original report" not in text and text.count("Printer offline") == 1


def test_huge_inputs_are_clipped_keeping_head_and_tail() -> None:
    log = "START " + "y" * 300_000 + " END-ERROR"
    ctx = make_ctx(inputs=[TurnInput(kind="reply", author="bob", text=log)] * 6)
    request = build_request(ctx, model=MODEL, max_tokens=10)
    text = user_text(request["messages"][-1])
    assert len(text) < 70_000
    assert "START" in text and "END-ERROR" in text and "characters cut" in text


def test_new_user_message_answers_the_last_tool_use() -> None:
    requests, _ = run_session(3)
    third = requests[-1]["messages"]
    assert third[-1]["content"][0] == {
        "type": "tool_result", "tool_use_id": "toolu_002", "content": "recorded",
    }  # fmt: skip
    assert third[-2]["role"] == "assistant" and third[-2]["content"][0]["id"] == "toolu_002"
    assert_valid(requests[-1])


def test_history_gets_the_second_breakpoint_without_changing_the_stored_history() -> None:
    first = build_request(make_ctx(), model=MODEL, max_tokens=10)
    assert sum("cache_control" in b for m in first["messages"] for b in m["content"]) == 0
    history = [strip_cache_control(first["messages"][-1]), reply(1)]
    snapshot = json.dumps(history)
    second = build_request(make_ctx(history=history, summary="s"), model=MODEL, max_tokens=10)
    messages = second["messages"]
    assert messages[-2]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert sum("cache_control" in b for m in messages for b in m["content"]) == 1
    assert json.dumps(history) == snapshot
    # The earlier messages are sent exactly as they were the first time (so they cache).
    assert strip_cache_control(messages[0]) == history[0]


# --- compaction -------------------------------------------------------------------------------


def test_fifty_turns_with_large_inputs_stay_within_the_window_and_valid() -> None:
    requests, _ = run_session(50, input_chars=9_000)
    last = requests[-1]
    size = len(json.dumps(last))
    assert size <= REQUEST_BUDGET_CHARS
    history = last["messages"][:-1]
    assert len(json.dumps(history)) <= HISTORY_BUDGET_CHARS + 1_000
    assert_valid(last)
    first = history[0]
    assert first["role"] == "user"
    assert first["content"][0]["type"] == "text"
    assert first["content"][0]["text"].startswith("Earlier turns compacted: ")
    assert "the current state below is authoritative" in first["content"][0]["text"]
    assert all(b["type"] != "tool_result" for b in first["content"])
    kept_turns = len(history) // 2
    assert f"compacted: {49 - kept_turns} turns" in first["content"][0]["text"]
    assert all(request_problem(json.loads(json.dumps(r))) is None for r in requests)
    assert max(len(json.dumps(r)) for r in requests) <= REQUEST_BUDGET_CHARS


def test_compaction_moves_in_steps_so_the_history_prefix_keeps_caching() -> None:
    requests, _ = run_session(40, input_chars=6_000)
    kept_prefix = 0
    transitions = 0
    for before, after in zip(requests[20:], requests[21:], strict=False):
        transitions += 1
        old = [strip_cache_control(m) for m in before["messages"][:-1]]
        new = [strip_cache_control(m) for m in after["messages"][:-1]]
        kept_prefix += new[: len(old)] == old
    assert kept_prefix >= transitions * 0.7


def test_compaction_is_a_no_op_within_budget() -> None:
    requests, _ = run_session(3)
    history = [strip_cache_control(m) for m in requests[-1]["messages"][:-1]]
    assert compact_history(history, HISTORY_BUDGET_CHARS) == history


def test_compaction_keeps_at_least_the_last_turn() -> None:
    requests, _ = run_session(6, input_chars=5_000)
    history = [strip_cache_control(m) for m in requests[-1]["messages"][:-1]]
    compacted = compact_history(history, budget_chars=100)
    assert [m["role"] for m in compacted] == ["user", "assistant"]
    assert compacted[0]["content"][0]["text"].startswith("Earlier turns compacted: 4 turns")
    assert compacted[1] == history[-1]


def test_sanitize_repairs_a_messy_history() -> None:
    history: list[dict[str, Any]] = [
        reply(0),  # starts with the assistant
        {"role": "user", "content": "plain string content"},
        {"role": "user", "content": [{"type": "text", "text": "second user in a row"}]},
        reply(1),
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_999",
                                      "content": "orphan"}, {"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "ok",
                                           "cache_control": {"type": "ephemeral"}}]},
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": []},
        {"role": "user", "content": "dangling user message"},
    ]  # fmt: skip
    clean = sanitize_history(history)
    assert [m["role"] for m in clean] == ["user", "assistant", "user", "assistant"]
    assert [b["text"] for b in clean[0]["content"]] == [
        "plain string content",
        "second user in a row",
    ]
    assert clean[2]["content"][0] == {
        "type": "tool_result", "tool_use_id": "toolu_001", "content": "recorded",
    }  # fmt: skip
    assert all(b.get("tool_use_id") != "toolu_999" for b in clean[2]["content"])
    assert "cache_control" not in clean[3]["content"][0]
    request = build_request(make_ctx(history=history), model=MODEL, max_tokens=10)
    assert_valid(request)
