"""The flow checker and loader: every problem reported with file:line, bad files skipped."""

from __future__ import annotations

from pathlib import Path

from bot.flows import (
    all_paths,
    check_flow,
    check_paths,
    load_flow_file,
    load_flow_text,
    load_library,
)
from bot.flows.model import FlowProblem, QuestionNode

GOOD = """\
id: good-flow
title: A good flow
domain: other
match: [good flow phrase, another good phrase]
start: ask
nodes:
  ask:
    question: Is it on?
    kind: check
    fact: "Power: {answer}"
    options:
      Yes: fix
      No: esc
  fix:
    fix:
      title: Turn it off and on
      steps: [Turn it off, Turn it on]
      rationale: Classic
      verify: It works
    on_fail: esc
  esc:
    escalate:
      reason: Still broken
      to: tier3
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def only(problems: list[FlowProblem]) -> FlowProblem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_a_good_file_has_no_problems_and_keeps_yes_no_labels_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, "good.yaml", GOOD)
    assert check_paths([path]) == []
    flow, problems = load_flow_file(path)
    assert problems == [] and flow is not None
    ask = flow.nodes["ask"]
    assert isinstance(ask, QuestionNode) and list(ask.options) == ["Yes", "No"]
    assert ask.line == 7 and flow.source == str(path)


def test_bad_yaml_syntax_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "syntax.yaml", GOOD.replace("    kind: check\n", "    kind: [check\n"))
    problem = only(check_paths([path]))
    assert problem.file == str(path) and problem.line in (10, 11)
    assert "not valid YAML" in problem.message
    assert str(problem).startswith(f"{path}:{problem.line}: ")


def test_dangling_next_is_reported_at_the_option(tmp_path: Path) -> None:
    path = write(tmp_path, "dangling.yaml", GOOD.replace("      No: esc\n", "      No: nowhere\n"))
    problems = check_paths([path])
    dangling = [p for p in problems if "unknown node 'nowhere'" in p.message]
    assert len(dangling) == 1 and dangling[0].line == 13
    assert str(dangling[0]) == f"{path}:13: option 'No' of 'ask' goes to unknown node 'nowhere'"


def test_dangling_action_next_and_on_fail(tmp_path: Path) -> None:
    text = GOOD.replace("    on_fail: esc\n", "    on_fail: gone\n")
    problem = only(check_paths([write(tmp_path, "onfail.yaml", text)]))
    assert problem.line == 20 and "on_fail of 'fix'" in problem.message


def test_unreachable_node_is_reported_at_the_node(tmp_path: Path) -> None:
    text = GOOD + "  orphan:\n    escalate: Nobody comes here\n"
    problem = only(check_paths([write(tmp_path, "orphan.yaml", text)]))
    assert problem.line == 25 and "'orphan' is unreachable" in problem.message


def test_cycle_without_an_exit_is_reported(tmp_path: Path) -> None:
    text = """\
id: loop
title: Loop
domain: other
match: [loop]
start: a
nodes:
  a:
    question: A?
    options: {Left: b, Right: done}
  b:
    action: Do B
    next: c
  c:
    question: C?
    options: {Again: b, Back: b}
  done:
    escalate: {reason: out}
"""
    problems = check_paths([write(tmp_path, "loop.yaml", text)])
    messages = {p.line: p.message for p in problems}
    assert set(messages) == {10, 13}
    assert "cycle without an exit" in messages[10] and "b -> c -> b" in messages[10]


def test_a_cycle_with_an_exit_is_fine(tmp_path: Path) -> None:
    text = GOOD.replace("    on_fail: esc\n", "    on_fail: ask\n")
    assert check_paths([write(tmp_path, "retry.yaml", text)]) == []
    flow, _ = load_flow_text(text, "retry.yaml")
    assert flow is not None
    assert all_paths(flow) == [["ask", "fix"], ["ask", "esc"]]


def test_missing_start_is_reported_at_the_start_key(tmp_path: Path) -> None:
    problem = only(
        check_paths([write(tmp_path, "start.yaml", GOOD.replace("start: ask", "start: begin"))])
    )
    assert problem.line == 5 and "start node 'begin' does not exist" in problem.message


def test_question_with_one_option_is_reported(tmp_path: Path) -> None:
    problem = only(check_paths([write(tmp_path, "one.yaml", GOOD.replace("      No: esc\n", ""))]))
    assert problem.line == 7 and "at least two options" in problem.message


def test_node_of_no_known_type_and_missing_keys(tmp_path: Path) -> None:
    text = GOOD.replace(
        "    escalate:\n      reason: Still broken\n      to: tier3\n", "    wait: 5\n"
    )
    problem = only(check_paths([write(tmp_path, "type.yaml", text)]))
    assert problem.line == 21 and "neither question, action, fix, escalate" in problem.message
    problem = only(
        check_paths([write(tmp_path, "title.yaml", GOOD.replace("title: A good flow\n", ""))])
    )
    assert problem.line == 1 and "'title' is required" in problem.message


def test_no_leaf_at_all_is_reported(tmp_path: Path) -> None:
    text = """\
id: endless
title: Endless
domain: other
match: [endless]
start: a
nodes:
  a:
    action: Wait
    next: b
  b:
    action: Wait more
    next: a
"""
    problems = check_paths([write(tmp_path, "endless.yaml", text)])
    assert any(p.line == 1 and "no fix or escalate" in p.message for p in problems)
    assert any("cycle without an exit" in p.message for p in problems)


def test_odd_documents_never_raise(tmp_path: Path) -> None:
    for name, text in {
        "empty.yaml": "",
        "list.yaml": "- a\n- b\n",
        "scalar.yaml": "just text\n",
        "dup.yaml": GOOD + "  ask:\n    escalate: again\n",
        "bomb.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    }.items():
        problems = check_paths([write(tmp_path, name, text)])
        assert problems and all(p.file.endswith(name) for p in problems), name
    assert any("duplicate key 'ask'" in p.message for p in check_paths([tmp_path / "dup.yaml"]))


def test_kind_is_required_only_for_builtins(tmp_path: Path) -> None:
    text = GOOD.replace("    kind: check\n", "")
    flow, problems = load_flow_text(text, "custom.yaml")
    assert flow is not None and problems == [] and check_flow(flow) == []
    strict = check_flow(flow, strict=True)
    assert len(strict) == 1 and "needs 'kind: check' or 'kind: change'" in strict[0].message
    builtin, _ = load_flow_text(text, "builtin:custom.yaml")
    assert builtin is not None and check_flow(builtin) == strict[:0] + [
        FlowProblem("builtin:custom.yaml", 7, strict[0].message)
    ]


def test_ids_must_be_unique_across_checked_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD)
    problem = only(check_paths([tmp_path]))
    assert problem.file.endswith("b.yaml") and "also used by" in problem.message


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    assert "no such file" in only(check_paths([tmp_path / "nope.yaml"])).message
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no *.yaml" in only(check_paths([empty])).message


def test_load_library_skips_bad_files_and_overrides_by_id(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", GOOD)
    write(tmp_path, "broken.yaml", "id: [unclosed\n")
    write(
        tmp_path,
        "dangling.yaml",
        GOOD.replace("id: good-flow", "id: other").replace("No: esc", "No: x"),
    )
    printer = GOOD.replace("id: good-flow", "id: printer").replace(
        "title: A good flow", "title: Our printers"
    )
    write(tmp_path, "printer.yaml", printer)
    library = load_library([tmp_path])
    assert "good-flow" in library and "other" not in library
    assert library.flows["printer"].title == "Our printers"
    assert len(library) >= 16
    assert {Path(p.file).name for p in library.problems} == {"broken.yaml", "dangling.yaml"}
    assert all(p.line >= 1 for p in library.problems)

    override, _ = load_flow_text(
        printer.replace("Our printers", "Workspace printers"), "workspace:printer"
    )
    assert override is not None
    library = load_library([tmp_path], overrides=[override])
    assert library.flows["printer"].title == "Workspace printers"


def test_load_library_reports_a_missing_directory(tmp_path: Path) -> None:
    library = load_library([tmp_path / "missing"])
    assert len(library) >= 15
    assert [p.message for p in library.problems] == ["flows directory not found"]


def test_the_example_in_the_docs_is_a_valid_flow() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "flows.md"
    example = docs.read_text(encoding="utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]
    flow, problems = load_flow_text(example, "docs/flows.md")
    assert problems == [] and flow is not None
    assert check_flow(flow, strict=True) == []
