"""The database itself refuses bad rows (check constraints, unique keys, the one-open-session-
per-thread partial index), and ``state_version`` guards every AISession write."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from storage.models import (
    Account,
    AISession,
    InboundEvent,
    SessionFact,
    SessionSuggestedFix,
    Tree,
    User,
)


def _owner(factory: sessionmaker[Session], team: str = "T0ACME") -> tuple[uuid.UUID, uuid.UUID]:
    with factory() as db:
        account = Account(slack_team_id=team, name="Acme")
        db.add(account)
        db.flush()
        user = User(account_id=account.id, slack_user_id="U0OWNER")
        db.add(user)
        db.commit()
        return account.id, user.id


def _session(
    account_id: uuid.UUID, user_id: uuid.UUID, thread: str = "1700000000.000100", **kw: Any
) -> AISession:
    return AISession(
        account_id=account_id, user_id=user_id, slack_channel_id=kw.pop("channel", "C0HELP"),
        slack_thread_ts=thread, **kw,
    )


def _insert_session(factory: sessionmaker[Session], **kw: Any) -> uuid.UUID:
    account_id, user_id = kw.pop("owner")
    with factory() as db:
        s = _session(account_id, user_id, **kw)
        db.add(s)
        db.commit()
        return s.id


def _refused(factory: sessionmaker[Session], *rows: Any) -> None:
    with factory() as db, pytest.raises(IntegrityError):
        db.add_all(rows)
        db.commit()


def _count(factory: sessionmaker[Session], model: Any) -> int:
    with factory() as db:
        return db.execute(select(func.count()).select_from(model)).scalar_one()


# ── check constraints on ai_sessions ──

BAD_SESSION_VALUES = [
    ("status", "closed"),
    ("intake_type", "fax"),
    ("confidence_tier", "certain"),
    ("session_rating", 7),
    ("session_rating", 0),
    ("step_count", -1),
    ("total_input_tokens", -1),
    ("total_output_tokens", -1),
    ("handoff_count", -1),
    ("total_active_seconds", -1),
    ("total_parked_seconds", -1),
    ("confidence_score", 1.5),
    ("engine", "gpt"),
    ("analysis_status", "maybe"),
]


@pytest.mark.parametrize(("column", "value"), BAD_SESSION_VALUES)
def test_ai_session_refuses_bad_value(
    factory: sessionmaker[Session], column: str, value: Any
) -> None:
    account_id, user_id = _owner(factory)
    _refused(factory, _session(account_id, user_id, **{column: value}))
    assert _count(factory, AISession) == 0


GOOD_SESSION_VALUES = [
    ("status", "abandoned"),
    ("intake_type", "log_paste"),
    ("confidence_tier", "exploring"),
    ("session_rating", 1),
    ("session_rating", 5),
    ("session_rating", None),
    ("step_count", 0),
    ("total_input_tokens", 2_000_000_000),
    ("confidence_score", 1.0),
    ("analysis_status", None),
]


@pytest.mark.parametrize(("column", "value"), GOOD_SESSION_VALUES)
def test_ai_session_accepts_boundary_value(
    factory: sessionmaker[Session], column: str, value: Any
) -> None:
    owner = _owner(factory)
    session_id = _insert_session(factory, owner=owner, **{column: value})
    with factory() as db:
        assert db.execute(
            select(getattr(AISession, column)).where(AISession.id == session_id)
        ).scalar_one() == value


def test_a_bad_value_is_refused_on_update_too(factory: sessionmaker[Session]) -> None:
    session_id = _insert_session(factory, owner=_owner(factory))
    with factory() as db, pytest.raises(IntegrityError):
        db.execute(update(AISession).where(AISession.id == session_id).values(session_rating=7))
    with factory() as db:
        assert db.get(AISession, session_id).session_rating is None  # type: ignore[union-attr]


# ── companions ──

def test_fix_refuses_unknown_user_decision(factory: sessionmaker[Session]) -> None:
    session_id = _insert_session(factory, owner=_owner(factory))
    _refused(factory, SessionSuggestedFix(session_id=session_id, title="x", user_decision="meh"))
    with factory() as db:
        db.add(SessionSuggestedFix(session_id=session_id, title="x", user_decision="worked"))
        db.commit()
    assert _count(factory, SessionSuggestedFix) == 1


def test_fix_refuses_unknown_risk_and_out_of_range_confidence(
    factory: sessionmaker[Session],
) -> None:
    session_id = _insert_session(factory, owner=_owner(factory))
    _refused(factory, SessionSuggestedFix(session_id=session_id, title="x", risk="extreme"))
    _refused(factory, SessionSuggestedFix(session_id=session_id, title="x", confidence=-0.1))
    assert _count(factory, SessionSuggestedFix) == 0


def test_fact_refuses_unknown_source(factory: sessionmaker[Session]) -> None:
    session_id = _insert_session(factory, owner=_owner(factory))
    _refused(factory, SessionFact(session_id=session_id, text="t", source="rumour"))
    with factory() as db:
        db.add(SessionFact(session_id=session_id, text="t", source="technician"))
        db.commit()
    assert _count(factory, SessionFact) == 1


def test_duplicate_slack_user_in_one_workspace_is_refused(factory: sessionmaker[Session]) -> None:
    account_id, _ = _owner(factory)
    _refused(factory, User(account_id=account_id, slack_user_id="U0OWNER"))
    # The same Slack user id in another workspace is a different person.
    other_id, _ = _owner(factory, team="T0OTHER")
    with factory() as db:
        assert db.execute(
            select(func.count()).select_from(User).where(User.account_id == other_id)
        ).scalar_one() == 1
    assert _count(factory, User) == 2


def test_duplicate_slack_team_id_is_refused(factory: sessionmaker[Session]) -> None:
    _owner(factory, team="T0ACME")
    _refused(factory, Account(slack_team_id="T0ACME", name="Impostor"))
    assert _count(factory, Account) == 1


def test_duplicate_delivery_key_is_refused(factory: sessionmaker[Session]) -> None:
    with factory() as db:
        db.add(InboundEvent(delivery_key="Ev0001", kind="app_mention"))
        db.commit()
    _refused(factory, InboundEvent(delivery_key="Ev0001", kind="message"))
    with factory() as db:
        assert db.execute(select(InboundEvent.kind)).scalars().all() == ["app_mention"]


def test_one_builtin_flow_per_key(factory: sessionmaker[Session]) -> None:
    # account_id NULL would slip past a plain unique (account_id, flow_key): a partial index
    # covers the built-ins.
    with factory() as db:
        db.add(Tree(flow_key="vpn_down", source="builtin"))
        db.commit()
    _refused(factory, Tree(flow_key="vpn_down", source="directory"))
    account_id, _ = _owner(factory)
    with factory() as db:
        db.add(Tree(flow_key="vpn_down", source="workspace", account_id=account_id))
        db.commit()
    _refused(factory, Tree(flow_key="vpn_down", source="workspace", account_id=account_id))
    assert _count(factory, Tree) == 2


# ── one open session per thread ──

OPEN_PAIRS = [
    ("active", "active"),
    ("active", "paused"),
    ("paused", "requesting_escalation"),
    ("escalated", "active"),
]


@pytest.mark.parametrize(("first", "second"), OPEN_PAIRS)
def test_two_open_sessions_in_one_thread_are_refused(
    factory: sessionmaker[Session], first: str, second: str
) -> None:
    account_id, user_id = owner = _owner(factory)
    _insert_session(factory, owner=owner, status=first)
    _refused(factory, _session(account_id, user_id, status=second))
    assert _count(factory, AISession) == 1


@pytest.mark.parametrize("finished", ["resolved", "abandoned"])
def test_an_open_and_a_finished_session_share_a_thread(
    factory: sessionmaker[Session], finished: str
) -> None:
    owner = _owner(factory)
    _insert_session(factory, owner=owner, status=finished)
    _insert_session(factory, owner=owner, status=finished)
    _insert_session(factory, owner=owner, status="active")
    # Same thread ts in another channel is another thread.
    _insert_session(factory, owner=owner, status="active", channel="C0OTHER")
    with factory() as db:
        rows = db.execute(select(AISession.slack_channel_id, AISession.status)).all()
    assert sorted(rows) == sorted(
        [("C0HELP", finished), ("C0HELP", finished), ("C0HELP", "active"), ("C0OTHER", "active")]
    )


def test_reopening_a_finished_session_beside_an_open_one_is_refused(
    factory: sessionmaker[Session],
) -> None:
    owner = _owner(factory)
    old = _insert_session(factory, owner=owner, status="resolved")
    _insert_session(factory, owner=owner, status="active")
    with factory() as db, pytest.raises(IntegrityError):
        s = db.get(AISession, old)
        assert s is not None
        s.status = "active"
        db.commit()


# ── state_version ──

def test_state_version_starts_at_zero(factory: sessionmaker[Session]) -> None:
    owner = _owner(factory)
    session_id = _insert_session(factory, owner=owner)
    with factory() as db:
        assert db.get(AISession, session_id).state_version == 0  # type: ignore[union-attr]


def test_every_orm_update_bumps_state_version_by_one(factory: sessionmaker[Session]) -> None:
    session_id = _insert_session(factory, owner=_owner(factory))
    seen = []
    for n in range(3):
        with factory() as db:
            s = db.get(AISession, session_id)
            assert s is not None
            s.step_count += 1
            s.problem_summary = f"turn {n}"  # two columns, one UPDATE: still +1
            db.commit()
            seen.append(s.state_version)
    with factory() as db:
        s = db.get(AISession, session_id)
        assert s is not None
        s.status = "paused"
        db.flush()
        s.status = "active"
        db.flush()  # two UPDATEs in one transaction: +2
        db.commit()
        seen.append(s.state_version)
    with factory() as db:
        stored = db.get(AISession, session_id)
        assert stored is not None
    assert seen == [1, 2, 3, 5]
    assert stored.state_version == 5
    assert stored.step_count == 3


def test_a_stale_update_is_refused(factory: sessionmaker[Session]) -> None:
    session_id = _insert_session(factory, owner=_owner(factory))
    first, second = factory(), factory()
    try:
        a = first.get(AISession, session_id)
        first.commit()  # end the read (SQLite takes its write lock at BEGIN)
        b = second.get(AISession, session_id)
        second.commit()
        assert a is not None and b is not None
        assert a.state_version == b.state_version == 0
        a.problem_summary = "first writer"
        first.commit()
        b.problem_summary = "second writer"
        with pytest.raises(StaleDataError):
            second.commit()
        second.rollback()
    finally:
        first.close()
        second.close()
    with factory() as db:
        stored = db.get(AISession, session_id)
        assert stored is not None
        assert (stored.problem_summary, stored.state_version) == ("first writer", 1)


@pytest.mark.postgres_only
def test_a_stale_update_is_refused_inside_open_transactions(
    factory: sessionmaker[Session],
) -> None:
    session_id = _insert_session(factory, owner=_owner(factory))
    first, second = factory(), factory()
    try:
        a = first.get(AISession, session_id)
        b = second.get(AISession, session_id)  # both transactions still open
        assert a is not None and b is not None
        a.status = "paused"
        first.commit()
        b.status = "resolved"
        with pytest.raises(StaleDataError):
            second.flush()
        second.rollback()
    finally:
        first.close()
        second.close()
    with factory() as db:
        stored = db.get(AISession, session_id)
        assert stored is not None
        assert (stored.status, stored.state_version) == ("paused", 1)
