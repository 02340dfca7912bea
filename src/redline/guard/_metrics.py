"""Prometheus metrics of the proxy, in a registry of its own (one per app)."""

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

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

    def render(self) -> bytes:
        """The metrics in Prometheus text format."""
        return generate_latest(self.registry)
