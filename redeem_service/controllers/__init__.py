"""Inbound adapters: REST, the gRPC wallet servicer, Kafka consumers."""
