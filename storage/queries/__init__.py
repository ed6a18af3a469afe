"""Named queries over the tables, for the use cases in ``bot/services`` and ``bot/jobs``:
deliveries and turn inputs (``inbound_events``), a thread's sessions, a session's outputs.
They take a database session or connection and never commit; storage imports nothing of ours
above it, so domain words the queries need are passed in."""
