"""A session's resolution outputs (``session_resolution_outputs``)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import SessionResolutionOutput


def output_row(db: Session, session_id: uuid.UUID, kind: str,
               target: str = "slack") -> SessionResolutionOutput | None:
    """The session's output of ``kind`` (``resolution_note``, ``escalation_package``…) for
    ``target``, or None (one per session, kind and target)."""
    return db.execute(
        select(SessionResolutionOutput).where(
            SessionResolutionOutput.session_id == session_id,
            SessionResolutionOutput.output_type == kind,
            SessionResolutionOutput.target == target,
        )
    ).scalar_one_or_none()
