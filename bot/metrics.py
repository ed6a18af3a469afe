"""Prometheus metrics, one registry per app (so tests and the sandbox can build several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "flowpilot_deliveries_total", "Inbound Slack deliveries", ["kind", "outcome"],
            registry=self.registry,
        )
        self.turns = Counter(
            "flowpilot_turns_total", "Session turns", ["engine", "outcome"], registry=self.registry
        )
        self.turn_seconds = Histogram(
            "flowpilot_turn_seconds", "Time to produce one turn", ["engine"],
            registry=self.registry, buckets=(0.1, 0.5, 1, 2, 5, 10, 20, 40, 60, 120),
        )
        self.tokens = Counter(
            "flowpilot_model_tokens_total", "Model tokens", ["kind"], registry=self.registry
        )
        self.sessions = Counter(
            "flowpilot_sessions_total", "Sessions by outcome", ["event"], registry=self.registry
        )
        self.jobs = Counter(
            "flowpilot_job_runs_total", "Scheduled job runs", ["job", "outcome"],
            registry=self.registry,
        )
