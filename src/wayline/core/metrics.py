"""Every Prometheus metric Wayline exports, defined once (issue 12: `GET /metrics`).

Domains import the metric they feed and call `.inc()` / `.observe()` / `.labels(...)`; nothing
here does I/O on the request path (prometheus-client keeps values in process memory, or in
memory-mapped files when `PROMETHEUS_MULTIPROC_DIR` is set, which `wayline serve --workers N`
arranges so that `/metrics` sums every worker).

Label values must stay few: routes are the path *templates* (`/api/v1/files/{file_id}`), models
and connections are what the admin configured — never ids from request bodies that are not
known model ids.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder

# Set by `wayline serve --workers N` before the workers start (prometheus-client reads it once,
# at import): each worker then writes its values to files there, and a scrape sums them.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

# Sub-millisecond resolution where Wayline's own cost lives; seconds for upstream waits.
_FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_SLOW_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

REQUESTS = Counter(
    "wayline_requests_total",
    "HTTP requests answered, by route template and status",
    ["route", "status"],
)
REQUEST_DURATION = Histogram(
    "wayline_request_duration_seconds",
    "Time from request to the end of the response, by route template",
    ["route"],
    buckets=_SLOW_BUCKETS,
)
GATEWAY_OVERHEAD = Histogram(
    "wayline_gateway_overhead_seconds",
    "Time a proxied request spent in Wayline, not waiting for the upstream",
    buckets=_FAST_BUCKETS,
)
UPSTREAM_LATENCY = Histogram(
    "wayline_upstream_latency_seconds",
    "Time from sending a request upstream to its whole answer",
    ["connection", "model"],
    buckets=_SLOW_BUCKETS,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "wayline_time_to_first_token_seconds",
    "Time from a streamed chat request to its first content chunk",
    ["model"],
    buckets=_SLOW_BUCKETS,
)
TOKENS = Counter(
    "wayline_tokens_total",
    "Tokens through the gateway (direction: prompt, completion)",
    ["direction", "model"],
)
RATELIMIT_REJECTIONS = Counter(
    "wayline_ratelimit_rejections_total",
    "Requests refused by a limit (kind: rpm, tpm, parallel, budget, model, scope)",
    ["kind"],
)
RATELIMIT_FAIL_OPEN = Counter(
    "wayline_ratelimit_fail_open_total",
    "Limit checks let through because the shared counter store (Redis) was unreachable",
)
UPSTREAM_COOLDOWNS = Counter(
    "wayline_upstream_cooldowns_total", "Deployments taken out of rotation", ["connection"]
)
INGESTION_QUEUE_DEPTH = Gauge(
    "wayline_ingestion_queue_depth",
    "Uploaded files waiting to be processed or being processed",
    # Counted in the database (the queue every worker shares) by the worker that answers a scrape:
    # the latest count is the one that holds.
    multiprocess_mode="livemostrecent",
)
INGESTION_CHUNKS = Counter("wayline_ingestion_chunks_total", "Chunks embedded and indexed")


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_DIR) or None


def registry() -> CollectorRegistry:
    """This process's metrics, or with several workers the sum over all of them (read from
    their files)."""
    if multiprocess_dir() is None:
        return REGISTRY
    summed = CollectorRegistry()
    multiprocess.MultiProcessCollector(summed)
    return summed


def exposition(accept: str) -> tuple[bytes, str]:
    """Every metric, and the content type: Prometheus' text format, or OpenMetrics when `accept`
    (the scraper's Accept header) asks for it."""
    encode, content_type = choose_encoder(accept)
    return encode(registry()), content_type


def forget_this_process() -> None:
    """At a worker's exit: its live gauges leave the sum (its counters stay counted)."""
    path = multiprocess_dir()
    if path is not None:
        multiprocess.mark_process_dead(os.getpid(), path)
