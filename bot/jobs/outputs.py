"""``deliver_outputs``: the outbox sweep (CONTRACTS' job for every delivery that must arrive).

One pass sends what is due in both halves of the outbox:
- the bot's Slack messages (turn answers…: ``bot.services.outbox``, table
  ``outbox_messages``), retried with backoff and checked for our marker before a repost;
- a session's external outputs (the resolution note's thread post, PSA notes, time entries,
  webhooks: ``bot.services.output_delivery``, table ``session_resolution_outputs``).
"""

from __future__ import annotations

from datetime import datetime

from bot.jobs.common import JobResult
from bot.services import outbox, outbox_slack  # noqa: F401  (registers the Slack sender)
from bot.services.container import Services
from bot.services.output_delivery import deliver_one, due_ids


def deliver_outputs(svc: Services, now: datetime) -> JobResult:
    result = JobResult("deliver_outputs")
    attempted, delivered = outbox.deliver_due(svc, now)
    result.claimed, result.done, result.skipped = attempted, delivered, attempted - delivered
    ids_ = due_ids(svc, now)
    result.claimed += len(ids_)
    for oid in ids_:
        result.count(deliver_one(svc, oid, now))  # each row is claimed on its own
    return result
