"""The metrics a bridge process exposes: names, labels, and one registry per process."""

from __future__ import annotations

from prometheus_client import generate_latest

from bridge.metrics import Metrics


def test_outcomes_and_resends_are_counted_under_their_labels() -> None:
    metrics = Metrics()
    metrics.job_outcome("deliver_inbound", "done")
    metrics.job_outcome("deliver_inbound", "done")
    metrics.job_outcome("process_hook", "failed")
    metrics.uncertain_resend("interrupted")
    registry = metrics.registry
    value = registry.get_sample_value
    assert value("bridge_jobs_total", {"kind": "deliver_inbound", "outcome": "done"}) == 2
    assert value("bridge_jobs_total", {"kind": "process_hook", "outcome": "failed"}) == 1
    assert value("bridge_uncertain_resends_total", {"reason": "interrupted"}) == 1


def test_the_exposition_names_every_metric_of_the_bridge() -> None:
    metrics = Metrics()
    metrics.hooks.labels(result="accepted").inc()
    metrics.hook_ack.observe(0.003)
    text = generate_latest(metrics.registry).decode()
    for name in (
        "bridge_amojo_hooks_total",
        "bridge_amojo_hook_ack_seconds_bucket",
        "bridge_jobs_total",
        "bridge_uncertain_resends_total",
    ):
        assert f"# TYPE {name.removesuffix('_bucket').removesuffix('_total')}" in text
    assert 'bridge_amojo_hooks_total{result="accepted"} 1.0' in text
    assert 'bridge_amojo_hook_ack_seconds_bucket{le="0.005"} 1.0' in text
    assert 'bridge_amojo_hook_ack_seconds_bucket{le="0.0025"} 0.0' in text


def test_two_processes_metrics_do_not_share_counts() -> None:
    first, second = Metrics(), Metrics()
    first.job_outcome("process_hook", "done")
    labels = {"kind": "process_hook", "outcome": "done"}
    assert first.registry.get_sample_value("bridge_jobs_total", labels) == 1
    assert second.registry.get_sample_value("bridge_jobs_total", labels) is None
