"""Inbound adapters: REST, consumers."""
