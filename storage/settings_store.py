"""AccountSettings helpers: read without creating; upsert that merges keys in one statement."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from storage.db import is_postgres
from storage.models import AccountSettings
from storage.models._common import _now


def get_setting(db: Session, account_id: uuid.UUID, key: str, default: Any = None) -> Any:
    """The workspace's value for ``key``, or ``default``. Never creates a row."""
    row = db.execute(
        select(AccountSettings.settings).where(AccountSettings.account_id == account_id)
    ).scalar_one_or_none()
    if not row:
        return default
    return row.get(key, default)


def get_all_settings(db: Session, account_id: uuid.UUID) -> dict[str, Any]:
    row = db.execute(
        select(AccountSettings.settings).where(AccountSettings.account_id == account_id)
    ).scalar_one_or_none()
    return dict(row or {})


def set_setting(db: Session, account_id: uuid.UUID, key: str, value: Any) -> None:
    """Set one key, keeping every other key: a single-statement upsert, safe under concurrent
    writers (each writer's merge happens inside the row lock the upsert takes)."""
    set_settings(db, account_id, {key: value})


def set_settings(db: Session, account_id: uuid.UUID, values: dict[str, Any]) -> None:
    """Set several top-level keys at once; a value of ``None`` removes the key. Same semantics
    on both backends: top-level keys are replaced whole, never deep-merged."""
    _check_keys(values)
    keep = {k: v for k, v in values.items() if v is not None}
    drop = [k for k, v in values.items() if v is None]
    now = _now()
    if is_postgres(db):
        db.execute(
            text(
                "INSERT INTO account_settings (account_id, settings, updated_at) "
                "VALUES (:account_id, CAST(:keep AS jsonb), :now) "
                "ON CONFLICT (account_id) DO UPDATE "
                "SET settings = (account_settings.settings - CAST(:drop AS text[])) "
                "|| EXCLUDED.settings, updated_at = EXCLUDED.updated_at"
            ),
            {"account_id": account_id, "keep": json.dumps(keep), "drop": drop, "now": now},
        )
    else:
        params: dict[str, Any] = {
            "account_id": account_id.hex, "keep": json.dumps(keep), "now": now.replace(tzinfo=None)
        }
        expr = "account_settings.settings"
        for i, (key, value) in enumerate(keep.items()):
            params[f"p{i}"], params[f"v{i}"] = _path(key), json.dumps(value)
            expr = f"json_set({expr}, :p{i}, json(:v{i}))"
        for j, key in enumerate(drop):
            params[f"d{j}"] = _path(key)
            expr = f"json_remove({expr}, :d{j})"
        db.execute(
            text(
                "INSERT INTO account_settings (account_id, settings, updated_at) "
                "VALUES (:account_id, json(:keep), :now) "
                f"ON CONFLICT (account_id) DO UPDATE SET settings = {expr}, "
                "updated_at = excluded.updated_at"
            ),
            params,
        )
    db.expire_all()


_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def _path(key: str) -> str:
    return f"$.{key}"


def _check_keys(keys: Any) -> None:
    for key in keys:
        if not _KEY.match(key):
            raise ValueError(f"setting names are letters, digits and _ (got {key!r})")
