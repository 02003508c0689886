"""Identities, partner clients and signing keys: the rules, free of frameworks."""
