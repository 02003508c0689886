"""Benchmarks: scripts that start what they measure and print figures (no assertions)."""
