"""Outbound adapters."""
