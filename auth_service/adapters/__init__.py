"""Outbound adapters of the identity service: PostgreSQL, Redis, argon2 and RSA keys."""
