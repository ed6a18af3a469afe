"""Every encrypted column in one registry, so `flowpilot secrets rotate` re-encrypts all of
them with the first key of ``FLOWPILOT_SECRET_KEY``. A feature that stores a secret adds its
column here (``register``): Slack installation tokens belong here too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.crypto import SecretBox
from storage.db import unit_of_work
from storage.models import PsaConnection
from storage.models.slack_oauth import SECRET_COLUMNS, bots, installations


@dataclass(frozen=True)
class Encrypted:
    model: type
    column: str


ENCRYPTED: list[Encrypted] = [Encrypted(PsaConnection, "credentials_encrypted")]


def register(model: type, column: str) -> None:
    if not any(e.model is model and e.column == column for e in ENCRYPTED):
        ENCRYPTED.append(Encrypted(model, column))


def rotate_all(factory: sessionmaker[Session], box: SecretBox) -> dict[str, int]:
    """Re-encrypt every stored secret with the newest key; counts per table.column. One
    transaction, so a failure (a value no configured key opens) leaves everything as it was."""
    counts: dict[str, int] = {}
    with unit_of_work(factory) as db:
        for enc in ENCRYPTED:
            col = getattr(enc.model, enc.column)
            n = 0
            rows: list[Any] = list(db.execute(select(enc.model).where(col.is_not(None))).scalars())
            for row in rows:
                setattr(row, enc.column, box.rotate(getattr(row, enc.column)))
                n += 1
            counts[f"{enc.model.__tablename__}.{enc.column}"] = n  # type: ignore[attr-defined]
        for table in (installations, bots):
            for name in SECRET_COLUMNS[table.name]:
                counts[f"{table.name}.{name}"] = _rotate_core(db, table, name, box)
    return counts


def _rotate_core(db: Session, table: Table, name: str, box: SecretBox) -> int:
    """slack_sdk's installation tables are Core tables (no ORM model): rotate by id."""
    col = table.c[name]
    rows = db.execute(select(table.c.id, col).where(col.is_not(None))).all()
    for row_id, value in rows:
        db.execute(update(table).where(table.c.id == row_id).values({name: box.rotate(value)}))
    return len(rows)
