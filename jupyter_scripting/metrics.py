"""Prometheus metrics, served on jupyter_server's own ``/metrics``.

Every name starts with ``jupyter_scripting_``; every label set is bounded: ``mode`` is
``sync`` or ``background``, ``outcome`` is ``ok`` or one of the service's error reasons
(``script-error``, ``timeout``, ...), ``kernelspec`` one of the kernelspecs runs asked for.
The metrics live in prometheus_client's default registry, like jupyter_server's own, so
they count for the whole server process.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RUNS = Counter(
    "jupyter_scripting_runs",
    "Runs that ended, by mode (sync, background) and outcome (ok or the error's reason).",
    ["mode", "outcome"],
)
RUN_DURATION = Histogram(
    "jupyter_scripting_run_duration_seconds",
    "How long runs took, from the start of their kernel work to their end.",
    ["mode"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
)
SYNC_IN_FLIGHT = Gauge(
    "jupyter_scripting_sync_runs_in_flight",
    "Synchronous runs executing in this server now.",
)
BACKGROUND_QUEUED = Gauge(
    "jupyter_scripting_background_queue_depth",
    "Background runs waiting in the queue (the whole service: every server of the store).",
)
BACKGROUND_RUNNING = Gauge(
    "jupyter_scripting_background_runs_running",
    "Background runs executing (the whole service: every server of the store).",
)
POOL_READY = Gauge(
    "jupyter_scripting_warm_pool_kernels",
    "Warm kernels waiting for a run, by kernelspec.",
    ["kernelspec"],
)


def record_run(mode: str, reason: str | None, duration_s: float) -> None:
    """Count a run that ended (``reason``: None when the script answered)."""
    RUNS.labels(mode=mode, outcome=reason or "ok").inc()
    RUN_DURATION.labels(mode=mode).observe(max(0.0, duration_s))


SANDBOX_ACTIVE = Gauge(
    "jupyter_scripting_sandbox_active",
    "1 when every run's kernel is sandboxed (ScriptingApp.sandbox), 0 when runs are not.",
)

WEBHOOK_ATTEMPTS = Counter(
    "jupyter_scripting_webhook_attempts",
    "Webhook delivery attempts this node made, by outcome: delivered (a 2xx answer), "
    "retry (tried again later) or failed (given up).",
    ["outcome"],
)
