"""Correlation and trace context, structured logging and metrics."""
