"""Prometheus metrics of notification storage and live delivery."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

NOTIFICATIONS_CONSUMED = Counter(
    "notifications_consumed_total",
    "Notification events consumed, by outcome (stored, duplicate, conflict).",
    ["outcome"],
)
LIVE_PUSH_FAILURES = Counter(
    "notifications_live_push_failures_total",
    "Batches stored but not pushed because the live channel was unavailable.",
)
LIVE_SOCKETS = Gauge(
    "notification_live_sockets",
    "Open notification WebSockets.",
    multiprocess_mode="livesum",
)
LIVE_FRAMES_SENT = Counter(
    "notification_live_frames_sent_total",
    "Notifications sent over WebSockets.",
)
LIVE_SOCKETS_CLOSED = Counter(
    "notification_live_sockets_closed_total",
    "Notification WebSockets closed by the server, by close code.",
    ["code"],
)
