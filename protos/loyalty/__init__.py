"""Contracts of the loyalty platform."""
