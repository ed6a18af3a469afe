"""Storage's check constraints speak exactly the domain's vocabulary.

Storage may not import the bot (arrows point down), so its constraints repeat the words; this
test reads every ``column IN (...)`` constraint off the mapped tables and compares it with the
domain tuple it must equal, so the two can never drift apart.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import CheckConstraint

from bot.domain import vocabulary as v
from storage.db import Base
from storage.models import AISession, SessionFact, SessionSuggestedFix

_IN = re.compile(r"^\s*(?:\w+ IS NULL OR )?(\w+) IN \(([^)]*)\)\s*$")


def _allowed(table_name: str, column: str) -> tuple[str, ...]:
    """The values a table's check constraint allows in ``column``."""
    table = Base.metadata.tables[table_name]
    for constraint in table.constraints:
        if not isinstance(constraint, CheckConstraint):
            continue
        found = _IN.match(str(constraint.sqltext))
        if found and found.group(1) == column:
            return tuple(w.strip().strip("'") for w in found.group(2).split(","))
    raise AssertionError(f"{table_name} has no IN constraint on {column}")


@pytest.mark.parametrize(
    ("table", "column", "words"),
    [
        (AISession.__tablename__, "status", v.ALL_STATUSES),
        (AISession.__tablename__, "intake_type", v.INTAKE_TYPES),
        (AISession.__tablename__, "confidence_tier", v.TIERS),
        (AISession.__tablename__, "engine", v.ENGINES),
        (SessionFact.__tablename__, "source", v.FACT_SOURCES),
        (SessionSuggestedFix.__tablename__, "user_decision", v.FIX_STATES),
        (SessionSuggestedFix.__tablename__, "risk", v.RISKS),
    ],
)
def test_constraint_equals_the_domain_tuple(
    table: str, column: str, words: tuple[str, ...]
) -> None:
    assert sorted(_allowed(table, column)) == sorted(words)


def test_decisions_are_the_fix_states_a_person_can_choose() -> None:
    # The column also holds the starting state "pending", which no one chooses.
    assert set(v.FIX_STATES) - set(v.FIX_DECISIONS) == {"pending"}


def test_the_reader_sees_a_constraint_that_drifted() -> None:
    """The parser is not vacuous: a planted constraint with an extra word is read back."""
    found = _IN.match("status IN ('active', 'paused', 'gone')")
    assert found is not None
    assert sorted(w.strip().strip("'") for w in found.group(2).split(",")) != sorted(
        v.ALL_STATUSES
    )
