"""Entities, value objects and rules, free of frameworks."""
