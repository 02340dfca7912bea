"""Prometheus metrics of the proxy, in a registry of its own (one per app).

With several worker processes (`redline guard serve --workers N`) the server sets
`PROMETHEUS_MULTIPROC_DIR` before the workers start: prometheus_client then keeps each
worker's values in files there, and `/metrics`, whichever worker answers it, adds them up.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
SCREEN_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)


class ProxyMetrics:
    """Requests, blocks by stage and category, latencies, upstream errors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "redline_proxy_requests", "Chat completion requests by outcome.",
            ["outcome", "stream"], registry=r,
        )  # fmt: skip
        self.blocks = Counter(
            "redline_proxy_blocks", "Requests blocked, by stage and top category.",
            ["stage", "category"], registry=r,
        )  # fmt: skip
        self.upstream_requests = Counter(
            "redline_proxy_upstream_requests", "Requests forwarded to the upstream.", registry=r
        )
        self.upstream_errors = Counter(
            "redline_proxy_upstream_errors", "Upstream failures by kind.", ["kind"], registry=r
        )
        self.latency = Histogram(
            "redline_proxy_request_seconds", "Time from request to last byte.",
            ["stream"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.first_token = Histogram(
            "redline_proxy_first_token_seconds", "Time to the first released content (streams).",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.screens = Counter(
            "redline_proxy_screens", "Guard screens by stage and what decided them: the "
            "stage's prefilter, its classifier, or an error.",
            ["stage", "by"], registry=r,
        )  # fmt: skip
        self.screen = Histogram(
            "redline_proxy_screen_seconds", "Time of one guard screen, by stage.",
            ["stage"], buckets=SCREEN_BUCKETS, registry=r,
        )  # fmt: skip

        self.reloads = Counter(
            "redline_proxy_config_reloads", "Re-reads of the key files, by result.",
            ["result"], registry=r,
        )  # fmt: skip
        self.unavailable = Counter(
            "redline_proxy_unavailable", "Requests refused because a shared component was "
            "down, by component.", ["component"], registry=r,
        )  # fmt: skip

    def render(self) -> bytes:
        """The metrics in Prometheus text format (every worker's, in multi-process mode)."""
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
