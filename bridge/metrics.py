"""Prometheus metrics of one bridge process (own registry: no global state between tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.hooks = Counter(
            "bridge_amojo_hooks_total",
            "amoCRM hooks received, by result",
            ["result"],
            registry=self.registry,
        )
        self.hook_ack = Histogram(
            "bridge_amojo_hook_ack_seconds",
            "Time to store and acknowledge an amoCRM hook",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.jobs = Counter(
            "bridge_jobs_total",
            "Jobs run, by kind and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )

        self.uncertain_resends = Counter(
            "bridge_uncertain_resends_total",
            "Messages sent to a customer again although an earlier send may have arrived, by why",
            ["reason"],
            registry=self.registry,
        )

    def uncertain_resend(self, reason: str) -> None:
        self.uncertain_resends.labels(reason=reason).inc()

    def job_outcome(self, kind: str, outcome: str) -> None:
        self.jobs.labels(kind=kind, outcome=outcome).inc()
