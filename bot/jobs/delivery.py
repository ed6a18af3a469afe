"""``deliver_messages``: the outbox sweep (retries with backoff; see bot/services/outbox.py)."""

from __future__ import annotations

from datetime import datetime

from bot.jobs.common import JobResult
from bot.services import outbox, outbox_slack  # noqa: F401  (registers the Slack sender)
from bot.services.container import Services


def deliver_messages(svc: Services, now: datetime) -> JobResult:
    result = JobResult("deliver_messages")
    attempted, delivered = outbox.deliver_due(svc, now)
    result.claimed, result.done, result.skipped = attempted, delivered, attempted - delivered
    return result
