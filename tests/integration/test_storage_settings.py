"""AccountSettings: reads never create a row; writes create it lazily and merge top-level keys,
with the same semantics on SQLite and PostgreSQL, and no key lost under concurrent writers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Account, AccountSettings
from storage.settings_store import get_all_settings, get_setting, set_setting, set_settings


@pytest.fixture()
def account_id(factory: sessionmaker[Session]) -> uuid.UUID:
    with factory() as db:
        account = Account(slack_team_id="T0ACME", name="Acme")
        db.add(account)
        db.commit()
        return account.id


def _rows(factory: sessionmaker[Session]) -> int:
    with factory() as db:
        return db.execute(select(func.count()).select_from(AccountSettings)).scalar_one()


def _stored(factory: sessionmaker[Session], account_id: uuid.UUID) -> dict[str, Any]:
    with factory() as db:
        return get_all_settings(db, account_id)


def _set(factory: sessionmaker[Session], account_id: uuid.UUID, **values: Any) -> None:
    with factory() as db:
        set_settings(db, account_id, values)
        db.commit()


def test_get_returns_the_default_and_creates_nothing(
    factory: sessionmaker[Session], account_id: uuid.UUID
) -> None:
    with factory() as db:
        assert get_setting(db, account_id, "escalation_channel") is None
        assert get_setting(db, account_id, "nudge_after_minutes", 30) == 30
        assert get_all_settings(db, account_id) == {}
        db.commit()
    assert _rows(factory) == 0


def test_set_creates_the_row_lazily(factory: sessionmaker[Session], account_id: uuid.UUID) -> None:
    with factory() as db:
        set_setting(db, account_id, "escalation_channel", "C0ESC")
        db.commit()
    assert _rows(factory) == 1
    with factory() as db:
        assert get_setting(db, account_id, "escalation_channel") == "C0ESC"
        assert get_setting(db, account_id, "missing", "dflt") == "dflt"
        row = db.get(AccountSettings, account_id)
        assert row is not None and row.updated_at.tzinfo is not None


def test_set_merges_keys_replaces_values_whole_and_none_removes(
    factory: sessionmaker[Session], account_id: uuid.UUID
) -> None:
    _set(factory, account_id, channel="C0ESC", timings={"nudge": 30, "park": 240}, model="s")
    _set(factory, account_id, timings={"abandon_days": 7})
    assert _stored(factory, account_id) == {
        "channel": "C0ESC", "timings": {"abandon_days": 7}, "model": "s"
    }
    _set(factory, account_id, model=None, engineers=["U1", "U2"])
    assert _stored(factory, account_id) == {
        "channel": "C0ESC", "timings": {"abandon_days": 7}, "engineers": ["U1", "U2"]
    }
    _set(factory, account_id, never_set=None)  # removing an absent key is a no-op
    _set(factory, account_id, channel=None, timings=None, engineers=None)
    assert _stored(factory, account_id) == {}
    assert _rows(factory) == 1


def test_set_setting_one_key_at_a_time(
    factory: sessionmaker[Session], account_id: uuid.UUID
) -> None:
    for key, value in (("a", 1), ("b", 2), ("a", 3)):
        with factory() as db:
            set_setting(db, account_id, key, value)
            db.commit()
    with factory() as db:
        set_setting(db, account_id, "b", None)
        db.commit()
    assert _stored(factory, account_id) == {"a": 3}


VALUES: list[Any] = [
    "plain",
    "Prüfung ✓ — 日本語 🚀",
    'quote " backslash \\ newline \n tab \t',
    '{"looks": "like json"}',
    "null",
    "",
    0,
    -17,
    10**15,
    2.5,
    True,
    False,
    [],
    {},
    [1, "two", None, {"three": [3.0]}],
    {"nested": {"deeper": {"deepest": ["é", None, False]}}, "n": None},
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__ + ":" + repr(v)[:20])
def test_values_keep_their_json_type(
    factory: sessionmaker[Session], account_id: uuid.UUID, value: Any
) -> None:
    _set(factory, account_id, first="x")
    _set(factory, account_id, value=value)  # the merge path (row already exists)
    with factory() as db:
        got = get_setting(db, account_id, "value", "DEFAULT")
    assert got == value
    assert type(got) is type(value)
    assert _stored(factory, account_id)["first"] == "x"


@pytest.mark.parametrize("value", [[1, {"a": "ü"}], False, "s"], ids=repr)
def test_values_keep_their_json_type_on_insert(
    factory: sessionmaker[Session], account_id: uuid.UUID, value: Any
) -> None:
    _set(factory, account_id, value=value)  # the insert path (no row yet)
    with factory() as db:
        got = get_setting(db, account_id, "value")
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    "key", ["", "1abc", "_x", "a.b", "a-b", "a b", "$.a", "a'b", "ü", "a" * 65, "a[0]"]
)
def test_invalid_key_is_refused_and_nothing_is_written(
    factory: sessionmaker[Session], account_id: uuid.UUID, key: str
) -> None:
    with factory() as db:
        with pytest.raises(ValueError):
            set_setting(db, account_id, key, 1)
        with pytest.raises(ValueError):
            set_settings(db, account_id, {"good": 1, key: 2})
        db.commit()
    assert _rows(factory) == 0


def test_longest_valid_key_is_accepted(
    factory: sessionmaker[Session], account_id: uuid.UUID
) -> None:
    key = "K" + "_9" * 31 + "z"
    assert len(key) == 64
    _set(factory, account_id, **{key: "ok"})
    assert _stored(factory, account_id) == {key: "ok"}


def _run_together(workers: list[Callable[[], None]]) -> list[BaseException]:
    """Start every worker at the same moment; return what they raised."""
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        try:
            barrier.wait(timeout=30)
            work()
        except BaseException as exc:  # collected and asserted on by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    return errors


def _writer(
    factory: sessionmaker[Session], account_id: uuid.UUID, worker: int, keys: int
) -> Callable[[], None]:
    def work() -> None:
        with factory() as db:  # one Session per thread
            for k in range(keys):
                set_setting(db, account_id, f"w{worker}_k{k}", {"worker": worker, "k": k})
                db.commit()

    return work


def _assert_concurrent_writers_keep_every_key(
    factory: sessionmaker[Session], account_id: uuid.UUID, workers: int, keys: int
) -> None:
    errors = _run_together([_writer(factory, account_id, w, keys) for w in range(workers)])
    assert errors == []
    stored = _stored(factory, account_id)
    expected = {
        f"w{w}_k{k}": {"worker": w, "k": k} for w in range(workers) for k in range(keys)
    }
    assert len(stored) == workers * keys
    assert stored == expected
    assert _rows(factory) == 1


@pytest.mark.postgres_only
def test_eight_concurrent_writers_keep_all_two_hundred_keys(
    factory: sessionmaker[Session], account_id: uuid.UUID
) -> None:
    # No row exists yet: the writers also race to create it.
    _assert_concurrent_writers_keep_every_key(factory, account_id, workers=8, keys=25)


def test_four_concurrent_writers_keep_all_forty_keys(
    factory: sessionmaker[Session], account_id: uuid.UUID
) -> None:
    # SQLite serialises writers (BEGIN IMMEDIATE + busy_timeout); PostgreSQL merges under the
    # row lock. Either way nothing is lost.
    _assert_concurrent_writers_keep_every_key(factory, account_id, workers=4, keys=10)


@pytest.mark.parametrize("row_exists", [False, True], ids=["new-row", "existing-row"])
def test_two_writers_at_the_same_moment_both_survive(
    factory: sessionmaker[Session], account_id: uuid.UUID, row_exists: bool
) -> None:
    if row_exists:
        _set(factory, account_id, before="kept")

    def write(key: str) -> Callable[[], None]:
        def work() -> None:
            with factory() as db:
                set_setting(db, account_id, key, key.upper())
                db.commit()

        return work

    assert _run_together([write("alpha"), write("beta")]) == []
    expected = {"alpha": "ALPHA", "beta": "BETA"} | ({"before": "kept"} if row_exists else {})
    assert _stored(factory, account_id) == expected


@pytest.mark.parametrize("row_exists", [False, True], ids=["new-row", "existing-row"])
def test_a_writer_waits_for_an_open_write_and_merges_after_it(
    factory: sessionmaker[Session], account_id: uuid.UUID, row_exists: bool
) -> None:
    # The read-modify-write must happen inside the lock: the second writer, started while the
    # first one's transaction is open, waits and then merges onto the committed value.
    if row_exists:
        _set(factory, account_id, before="kept")
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with factory() as db:
                set_setting(db, account_id, "beta", 2)
                db.commit()
        except BaseException as exc:  # asserted on below
            errors.append(exc)

    first = factory()
    try:
        set_setting(first, account_id, "alpha", 1)
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the second writer did not wait for the first one's lock"
        first.commit()
    finally:
        first.close()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert errors == []
    expected = {"alpha": 1, "beta": 2} | ({"before": "kept"} if row_exists else {})
    assert _stored(factory, account_id) == expected
