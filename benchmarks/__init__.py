"""Benchmarks: measurements, not tests (run by hand, never by the test suite)."""
