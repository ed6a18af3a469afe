"""docs/data-model.md names, for every seed column, the module that writes it and the module
that reads it. This test holds the document to the code: every seed column has a row; each
named module really assigns / reads a column of that name (checked on its syntax tree, never
under storage/); a row with no writer or no reader must be marked ``dead (#N)``, the
allow-list that shrinks as issues land."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

import storage.models  # noqa: F401  (registers every table)
from storage.db import Base

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "data-model.md"
SEED = Path("/work/shared/design/seed/ai_session.py.txt")
# The seed's companions: the tables ai_session.py imports, and those its commit message adds.
COMPANIONS = (
    "accounts", "teams", "users", "account_settings", "psa_connections", "trees",
    "script_templates", "draft_templates", "ai_session_steps", "session_facts",
    "session_suggested_fixes", "session_handoffs", "fork_points", "session_branches",
    "session_resolution_outputs",
)
_SEED_RELATIONSHIPS = {
    "user", "account", "team", "matched_flow", "escalated_to", "psa_connection", "steps",
    "branches", "handoffs", "resolution_outputs",
}
# The ai_sessions columns the seed declares (used when the seed file is not at hand, and
# checked against it when it is).
_SEED_SESSION_TEXT = (
    "id user_id account_id team_id session_type title intake_type intake_content "
    "problem_summary problem_domain status confidence_tier confidence_score matched_flow_id "
    "match_score psa_ticket_id psa_connection_id ticket_data resolution_summary "
    "resolution_action escalation_reason escalation_package escalated_to_id session_rating "
    "session_feedback analysis_status total_input_tokens total_output_tokens step_count "
    "created_at updated_at resolved_at system_prompt_snapshot conversation_messages "
    "pending_task_lane resolution_note_markdown resolution_note_posted_at "
    "resolution_note_external_id escalation_package_markdown escalation_package_posted_at "
    "escalation_package_external_id state_version is_branching active_branch_id "
    "handoff_count total_active_seconds total_parked_seconds"
)
SEED_SESSION_COLUMNS = _SEED_SESSION_TEXT.split()

_ROW = re.compile(r"^\|\s*`([a-z_]+)\.([a-z_]+)`\s*\|([^|]*)\|([^|]*)\|")
_MODULE = re.compile(r"`([\w/]+\.py)`")
_DEAD = re.compile(r"dead \(#(\d+)\)")
# "via `name`": the module uses the column through a relationship or a storage helper of that
# name (``session.matched_flow``, ``set_setting(...)``) rather than by the column's own name.
_MODULE_VIA = re.compile(r"`([\w/]+\.py)`(?: via `(\w+)`)?")


def _rows() -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = _ROW.match(line)
        if m:
            key = f"{m.group(1)}.{m.group(2)}"
            assert key not in rows, f"{key} is listed twice in docs/data-model.md"
            rows[key] = (m.group(3).strip(), m.group(4).strip())
    return rows


def _seed_columns() -> list[str]:
    tables = [f"ai_sessions.{c}" for c in SEED_SESSION_COLUMNS]
    for name in COMPANIONS:
        tables += [f"{name}.{c.name}" for c in Base.metadata.tables[name].columns]
    return tables


@cache
def _usage(module: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Names a module assigns (``x.col =``, ``col=`` keyword, ``"col":`` key), reads
    (``x.col``) and uses at all (any attribute or bare name)."""
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    written: set[str] = set()
    read: set[str] = set()
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, ast.Attribute):
                        written.add(sub.attr)
        elif isinstance(node, ast.Call):
            written.update(k.arg for k in node.keywords if k.arg)
        elif isinstance(node, ast.Dict):
            written.update(k.value for k in node.keys
                           if isinstance(k, ast.Constant) and isinstance(k.value, str))
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            read.add(node.attr)
            used.add(node.attr)
        if isinstance(node, ast.Name):
            used.add(node.id)
    return frozenset(written), frozenset(read), frozenset(used)


def test_the_seed_file_declares_the_columns_this_test_checks() -> None:
    if not SEED.exists():
        pytest.skip("the seed specification is not on this machine")
    declared = re.findall(r"^(\w+): Mapped\[", SEED.read_text(encoding="utf-8"), re.M)
    assert [c for c in declared if c not in _SEED_RELATIONSHIPS] == SEED_SESSION_COLUMNS


def test_every_seed_column_is_documented() -> None:
    rows = _rows()
    missing = [c for c in _seed_columns() if c not in rows]
    assert missing == [], f"seed columns missing from docs/data-model.md: {missing}"
    unknown = [c for c in rows if c not in _seed_columns()]
    assert unknown == [], f"docs/data-model.md lists columns that do not exist: {unknown}"


def _check_cell(column: str, cell: str, role: str) -> list[str]:
    name = column.split(".", 1)[1]
    modules = _MODULE.findall(cell)
    if _DEAD.search(cell):
        return [f"{column}: {role} is both dead and named"] if modules else []
    if role == "writer" and cell.startswith("default"):
        table = Base.metadata.tables[column.split(".")[0]]
        col = table.columns[name]
        ok = col.default is not None or col.server_default is not None
        return [] if ok else [f"{column}: written by 'default' but has no default"]
    if not modules:
        return [f"{column}: no {role} and not marked dead (#N)"]
    errors = []
    for module, via in _MODULE_VIA.findall(cell):  # "via `name`" applies to the module before it
        if module.startswith("storage/") or not (ROOT / module).is_file():
            errors.append(f"{column}: {module} is not a module outside storage/")
            continue
        written, read, used = _usage(module)
        if via:
            if via not in used:
                errors.append(f"{column}: {module} does not use {via}")
            continue
        if name not in (written if role == "writer" else read):
            errors.append(f"{column}: {module} does not {'write' if role == 'writer' else 'read'} {name}")
    return errors


def test_each_named_writer_and_reader_really_uses_the_column() -> None:
    errors: list[str] = []
    for column, (writer, reader) in _rows().items():
        errors += _check_cell(column, writer, "writer")
        errors += _check_cell(column, reader, "reader")
    assert errors == [], "\n".join(errors)


def test_the_dead_allow_list_names_an_issue_for_every_entry() -> None:
    dead = {c: cells for c, cells in _rows().items()
            if any(_DEAD.search(x) or "dead" in x for x in cells)}
    unnamed = [c for c, cells in dead.items()
               if any("dead" in x and not _DEAD.search(x) for x in cells)]
    assert unnamed == [], f"dead without an issue number: {unnamed}"


def test_the_check_catches_a_module_that_does_not_read_the_column() -> None:
    # The checker itself can fail: a column nobody reads in a named module is reported.
    assert _check_cell("ai_sessions.session_type", "`bot/render/labels.py`", "reader")
    assert _check_cell("ai_sessions.match_score", "", "reader")
