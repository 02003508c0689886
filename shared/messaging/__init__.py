"""Kafka plumbing: event schemas, outbox relay, consumer runner with its dead-letter topic."""
