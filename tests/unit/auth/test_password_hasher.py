"""Passwords are hashed and verified once normalised (NFKC), old hashes still verify."""

from __future__ import annotations

import unicodedata

import argon2

from auth_service.adapters.crypto import Argon2PasswordHasher


def test_one_password_however_its_characters_are_composed() -> None:
    hasher = Argon2PasswordHasher(time_cost=1, memory_cost_kib=8, parallelism=1)
    composed = "Cr\u00e8me-Br\u00fbl\u00e9e-Caf\u00e9-2024"
    stored = hasher.hash(composed)
    assert hasher.verify(stored, unicodedata.normalize("NFD", composed))
    assert hasher.verify(stored, composed)
    assert not hasher.verify(stored, "Creme-Brulee-Cafe-2024")
    # A hash made before normalisation (of the password as typed) still verifies.
    legacy = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(
        unicodedata.normalize("NFD", composed)
    )
    assert hasher.verify(legacy, unicodedata.normalize("NFD", composed))
