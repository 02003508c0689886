"""Password and secret hashing (argon2id, SHA-256) and RS256 signing keys (cryptography, PyJWT)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import argon2
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from jwt.algorithms import RSAAlgorithm

from auth_service.application.ports import (
    AccessTokenIssuer,
    AuthUnitOfWork,
    IssuedToken,
    NewSigningKey,
    PasswordHasher,
    SecretHasher,
    SigningKeyFactory,
)
from auth_service.domain.exceptions import SigningKeyUnreadable
from auth_service.domain.model import KeyStatus, SigningKey, normalise_password
from shared.domain.clock import Clock
from shared.observability.logging import get_logger
from shared.security.jwks import KeyResolver
from shared.security.tokens import has_numeric_times

log = get_logger(__name__)

#: Clock leeway when auth reads its own tokens (introspection), as the resource servers allow.
TOKEN_LEEWAY_SECONDS = 5


class Argon2PasswordHasher(PasswordHasher):
    """argon2id with the OWASP minimum (19 MiB, 2 iterations, 1 lane) unless configured higher."""

    def __init__(
        self, time_cost: int = 2, memory_cost_kib: int = 19456, parallelism: int = 1
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._decoy: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(normalise_password(password))

    def verify(self, password_hash: str, password: str) -> bool:
        normalised = normalise_password(password)
        if self._verify(password_hash, normalised):
            return True
        # A hash made before passwords were normalised holds the password as it was typed.
        return normalised != password and self._verify(password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def burn(self, password: str) -> None:
        if self._decoy is None:
            self._decoy = self._hasher.hash(uuid.uuid4().hex)
        self.verify(self._decoy, password)


class Sha256SecretHasher(SecretHasher):
    """Client secrets carry 256 random bits, so a slow hash adds nothing but latency. A keyed
    SHA-256 (the pepper lives in configuration, not in the database), compared in constant
    time, is enough."""

    def __init__(self, pepper: str) -> None:
        self._pepper = pepper.encode()

    def hash(self, secret: str) -> str:
        return "hmac-sha256$" + hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()

    def verify(self, secret_hash: str, secret: str) -> bool:
        return hmac.compare_digest(secret_hash, self.hash(secret))


class KeyEncryption:
    """The secrets that encrypt the private signing keys at rest. New keys are encrypted with
    the current secret; a stored key is opened with the current one or the previous one, so
    that while a deployment changes the secret, tasks with either read the keys either made."""

    def __init__(self, secret: str, previous: str | None = None) -> None:
        # str(): a secret of digits is read from the environment as a number.
        self._current = str(secret).encode()
        self._secrets = [self._current]
        if previous not in (None, ""):
            self._secrets.append(str(previous).encode())

    def encryption(self) -> serialization.KeySerializationEncryption:
        return serialization.BestAvailableEncryption(self._current)

    def open(self, private_key_pem: bytes) -> PrivateKeyTypes | None:
        """The private key, or None when none of the secrets decrypts it."""
        for secret in self._secrets:
            try:
                return serialization.load_pem_private_key(private_key_pem, password=secret)
            except (ValueError, TypeError):
                continue
        return None


class RsaSigningKeyFactory(SigningKeyFactory):
    def __init__(self, encryption: KeyEncryption, key_size: int = 2048) -> None:
        self._encryption = encryption
        self._key_size = key_size

    def generate(self) -> NewSigningKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=self._key_size)
        kid = uuid.uuid4().hex
        jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
        # PyJWT adds key_ops; RFC 7517 §4.3: use and key_ops SHOULD NOT be used together, and
        # use is what resource servers and partners' libraries look for.
        jwk.pop("key_ops", None)
        jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            self._encryption.encryption(),
        )
        return NewSigningKey(kid=kid, private_key_pem=pem, public_jwk=jwk)

    def can_open(self, private_key_pem: bytes) -> bool:
        return self._encryption.open(private_key_pem) is not None


class JwtAccessTokenIssuer(AccessTokenIssuer, KeyResolver):
    """Signs with the active key and verifies our own tokens. Keys come from the database and are
    cached for a few seconds, so a rotation made by any process is picked up by all. Publishing
    and verifying need the public halves only: a private key this process cannot decrypt stops
    the signing (503), never the key set or the verification of tokens."""

    def __init__(
        self,
        uow_factory: Callable[[], AuthUnitOfWork],
        encryption: KeyEncryption,
        issuer: str,
        audience: str,
        clock: Clock,
        cache_seconds: float = 30.0,
    ) -> None:
        self._uow_factory = uow_factory
        self._encryption = encryption
        self._issuer = issuer
        self._audience = audience
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._loaded_at = -1e9
        self._keys: Sequence[SigningKey] = ()
        self._active_key: SigningKey | None = None
        self._signer: tuple[str, Any] | None = None
        self._unreadable: set[str] = set()
        self._public: dict[str, Any] = {}

    # -- keys --------------------------------------------------------------------------------

    def invalidate_keys(self) -> None:
        self._loaded_at = -1e9

    def _refresh(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._loaded_at < self._cache_seconds:
            return
        with self._lock:
            if not force and time.monotonic() - self._loaded_at < self._cache_seconds:
                return
            with self._uow_factory() as uow:
                keys = list(uow.signing_keys.all())
            now = self._clock.now()
            published = [k for k in keys if k.is_published(now)]
            public = {k.kid: RSAAlgorithm.from_jwk(k.public_jwk) for k in published}
            active = next((k for k in keys if k.status is KeyStatus.ACTIVE), None)
            self._keys, self._public, self._active_key = published, public, active
            self._loaded_at = time.monotonic()

    def _signing_key(self) -> tuple[str, Any]:
        """The active key's id and private half, decrypted once per key."""
        self._refresh()
        if self._active_key is None:
            self._refresh(force=True)
        key = self._active_key
        if key is None:
            raise RuntimeError("no active signing key")
        with self._lock:
            if self._signer is not None and self._signer[0] == key.kid:
                return self._signer
            # This process's secrets do not change: a key they cannot open is not tried again.
            if key.kid in self._unreadable:
                raise SigningKeyUnreadable(key.kid)
            private = self._encryption.open(key.private_key_pem)
            if private is None:
                self._unreadable.add(key.kid)
                log.error(
                    "signing_key_unreadable",
                    kid=key.kid,
                    detail=(
                        "the active signing key cannot be decrypted with this process's "
                        "AUTH_KEY_ENCRYPTION_SECRET (nor AUTH_PREVIOUS_KEY_ENCRYPTION_SECRET); "
                        "no token can be signed: see docs/runbooks/key-rotation.md"
                    ),
                )
                raise SigningKeyUnreadable(key.kid)
            self._signer = (key.kid, private)
            return self._signer

    def published(self) -> Sequence[SigningKey]:
        self._refresh()
        return self._keys

    def public_key(self, kid: str) -> Any | None:
        self._refresh()
        key = self._public.get(kid)
        if key is None and time.monotonic() - self._loaded_at > 1.0:
            # A key rotated by another process a moment ago.
            self._refresh(force=True)
            key = self._public.get(kid)
        return key

    # -- tokens ------------------------------------------------------------------------------

    def issue(
        self,
        subject: str,
        claims: Mapping[str, Any],
        lifetime_seconds: int,
        not_before: int | None = None,
    ) -> IssuedToken:
        kid, private = self._signing_key()
        now = max(int(self._clock.now().timestamp()), not_before or 0)
        jti = uuid.uuid4().hex
        payload = {
            **claims,
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_seconds,
            "jti": jti,
            "type": "access",
        }
        token = jwt.encode(
            payload, private, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"}
        )
        return IssuedToken(token=token, token_id=jti, expires_in=lifetime_seconds)

    def decode(self, token: str) -> Mapping[str, Any] | None:
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            key = self.public_key(kid) if isinstance(kid, str) else None
            if key is None:
                return None
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]},
                # As the resource servers: clocks differ a little, and a token issued in the
                # second of a revocation of its account is dated the next (ADR 0021).
                leeway=TOKEN_LEEWAY_SECONDS,
            )
        except jwt.PyJWTError:
            return None
        # Checked as every resource server does: an iat that is not a number is no issue time,
        # and a revocation could not apply to the token.
        return claims if has_numeric_times(claims) else None
