"""Test support: embedded servers for the session, Kafka probes, service processes."""
