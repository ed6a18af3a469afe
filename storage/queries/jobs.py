"""Queue mode's job names and the SQL that defers a session's turn job inside a delivery's
statement (procrastinate's ``procrastinate_jobs``; see ``bot.services.queue``)."""

from __future__ import annotations

QUEUE = "flowpilot"
TURNS = "flowpilot.turns"
WORK = "flowpilot.work"

# The CTE forms used before the ack: the delivery and its job in one statement.
TURN_JOB_CTE = f"""
    INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, args)
    SELECT '{QUEUE}', '{TURNS}', 0, CAST(ins_s.sid AS text), CAST(ins_s.sid AS text),
           jsonb_build_object('session_id', CAST(ins_s.sid AS text))
    FROM ins_s
    ON CONFLICT (queueing_lock) WHERE status = 'todo' DO UPDATE SET lock = EXCLUDED.lock
"""
