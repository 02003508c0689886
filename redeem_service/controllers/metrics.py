"""Prometheus metrics of points and redemptions (the shared HTTP and consumer metrics cover the
rest)."""

from __future__ import annotations

from prometheus_client import Counter

POINTS_AWARDS = Counter(
    "wallet_points_awards_total",
    "Confirmed awards consumed, by outcome (earned, reversed, duplicate, zero).",
    ["outcome"],
)
REDEMPTIONS_REQUESTED = Counter(
    "redemptions_requested_total",
    "Redemption requests accepted over REST, by outcome (created, replayed).",
    ["outcome"],
)
REDEMPTIONS_DECIDED = Counter(
    "redemptions_decided_total",
    "Redemptions decided, by status and rejection reason (none when confirmed).",
    ["status", "reason"],
)
