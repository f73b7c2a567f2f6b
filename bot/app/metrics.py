"""What the process measures, for `/metrics` (Prometheus text format).

Counters and histograms count what this process did since it started (Prometheus scrapes
every daemon); the outbox's state is read from the database at each scrape, so every daemon
reports the same shared figures for it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

SEND_SECONDS = Histogram(
    "duban_send_seconds",
    "Time of one request to a chat platform, by platform and outcome.",
    ["platform", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
RATE_LIMIT_PAUSES = Counter(
    "duban_rate_limit_pauses_total",
    "Rate-limit answers that paused a webhook, by platform.",
    ["platform"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "duban_dead_letters_total",
    "Messages this process gave up on (permanent errors, attempts exhausted).",
    ["platform"],
    registry=REGISTRY,
)
SWEEP_SECONDS = Histogram(
    "duban_sweep_seconds",
    "Duration of one sweep.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60),
    registry=REGISTRY,
)
SWEEP_DUE = Counter(
    "duban_sweep_due_points_total",
    "Due points the sweeps looked at.",
    registry=REGISTRY,
)
SWEEP_NOTIFICATIONS = Counter(
    "duban_sweep_notifications_total",
    "Reminders the sweeps created.",
    registry=REGISTRY,
)
INBOUND_REQUESTS = Counter(
    "duban_inbound_requests_total",
    "Requests to the reply hooks, by platform and outcome (accepted, duplicate, verified, "
    "ignored, rejected_4xx, unavailable_503, failed_500).",
    ["platform", "outcome"],
    registry=REGISTRY,
)
MESSAGES = Gauge(
    "duban_messages",
    "Outbox messages by state and platform (read from the database at each scrape).",
    ["state", "platform"],
    registry=REGISTRY,
)
PAUSED_WEBHOOKS = Gauge(
    "duban_webhooks_paused",
    "Webhooks resting after a rate-limit answer, now (database).",
    registry=REGISTRY,
)
DISABLED_WEBHOOKS = Gauge(
    "duban_webhooks_disabled",
    "Webhooks disabled after a permanent error until the operator fixes them (database).",
    registry=REGISTRY,
)
