"""Inbound adapters of the identity service: REST blueprints, OAuth2 endpoints, JWKS."""
