"""Outbound adapters: PostgreSQL persistence."""
