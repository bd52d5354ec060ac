"""Token-signing keys: ES256 (P-256) key pairs kept in the database, private halves encrypted.

The newest unretired key signs. A rotation adds a key and keeps exactly one previous key
unretired, so tokens signed just before it still verify; older keys are retired and their tokens
stop verifying. Space rotations further apart than the access-token lifetime.

Key ids are UUIDv7 strings: unique without coordination between processes, and ordered by
creation, which breaks ties between keys created in the same tick of a frozen test clock.

Signing and verifying run on every request, so neither may query the database or decrypt:
- decoded keys are cached per kid for the life of the process (a kid's key never changes);
- which kids are valid, and which one signs, is a *view* reloaded at most every `VIEW_TTL`
  seconds, and on demand when a token names a kid the view lacks, at most once every
  `UNKNOWN_KID_REFRESH` seconds (a flood of made-up kids must not become a flood of queries).
A rotation made by another process is seen here within `VIEW_TTL`; since it keeps the previous
key valid, tokens signed meanwhile with either key verify everywhere. The cache is per process
and assumes one database per process (tests call `forget_cached_keys`).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ids import new_id
from core.settings import get_keyring
from identity.models import SigningKey

ALGORITHM = "ES256"
CURVE = "P-256"
# Context of the encrypted private keys (binds each token to this column, see core.crypto).
PRIVATE_KEY_CONTEXT = "identity.signing_key"
VIEW_TTL = 30.0  # seconds
UNKNOWN_KID_REFRESH = 5.0  # seconds
# Any fixed 64-bit number: the PostgreSQL advisory lock serialising key creation and rotation.
_LOCK_ID = 0x776A_6B65_7973  # "wjkeys"

signing_key_t = SigningKey.metadata.tables["identity_signing_key"]


@dataclass(frozen=True, slots=True)
class SigningKeyMaterial:
    """The key that signs new tokens: its id (the JWS `kid` header) and its private half."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey
    algorithm: str = ALGORITHM


@dataclass(frozen=True, slots=True)
class _View:
    """The unretired keys as last read from the database, newest (the signing one) first."""

    jwks: tuple[dict[str, Any], ...]
    loaded_at: float  # time.monotonic(): the cache must expire even under a frozen core.clock

    @property
    def signing_kid(self) -> str:
        return str(self.jwks[0]["kid"])

    def has(self, kid: str) -> bool:
        return any(jwk["kid"] == kid for jwk in self.jwks)


@dataclass(slots=True)
class _Cache:
    view: _View | None = None
    private: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict)
    public: dict[str, ec.EllipticCurvePublicKey] = field(default_factory=dict)
    last_unknown_kid_refresh: float = float("-inf")


_cache = _Cache()


def forget_cached_keys() -> None:
    """Drop every cached key and view (tests, whose databases come and go under the process)."""
    global _cache
    _cache = _Cache()


# --- public API ------------------------------------------------------------------------------


async def current_signing_key(session: AsyncSession) -> SigningKeyMaterial:
    """The newest unretired key; the first one is created if there is none yet."""
    view = await _fresh_view(session)
    private_key = _cache.private.get(view.signing_kid)
    if private_key is None:
        token = await _private_key_token(session, view.signing_kid)
        if token is None:  # the cached view names a key this database lacks: read it afresh
            view = await _load_view(session)
            token = await _private_key_token(session, view.signing_kid)
        if token is None:
            raise LookupError(f"signing key {view.signing_kid!r} vanished while being read")
        private_key = _decrypt_private_key(token)
        _cache.private[view.signing_kid] = private_key
    return SigningKeyMaterial(kid=view.signing_kid, private_key=private_key)


async def verification_key(session: AsyncSession, kid: str) -> ec.EllipticCurvePublicKey | None:
    """The public key of an unretired key `kid`, or None if no such key is valid."""
    view = await _fresh_view(session)
    if not view.has(kid):
        now = time.monotonic()
        if now - _cache.last_unknown_kid_refresh < UNKNOWN_KID_REFRESH:
            return None
        # Perhaps another process rotated since the view was read.
        _cache.last_unknown_kid_refresh = now
        view = await _load_view(session)
        if not view.has(kid):
            return None
    return _cache.public[kid]


async def public_jwks(session: AsyncSession) -> dict[str, Any]:
    """The RFC 7517 JWK set of every unretired key, newest first."""
    view = await _fresh_view(session)
    return {"keys": [dict(jwk) for jwk in view.jwks]}


async def rotate(session: AsyncSession) -> str:
    """Add a new signing key, keep only the previous one beside it, retire older ones; the new
    key's kid. Other processes start signing with it within `VIEW_TTL` seconds."""
    await _lock(session)
    previous = await _unretired_kids(session)
    kid = await _insert_new_key(session)
    if len(previous) > 1:
        await session.execute(
            update(signing_key_t)
            .where(signing_key_t.c.kid.in_(previous[1:]))
            .values(retired_at=clock.now())
        )
    # Not the new view itself: this transaction may still roll back. The next use re-reads it.
    _cache.view = None
    return kid


# --- the view of valid keys ------------------------------------------------------------------


async def _fresh_view(session: AsyncSession) -> _View:
    view = _cache.view
    if view is None or time.monotonic() - view.loaded_at > VIEW_TTL:
        view = await _load_view(session)
    return view


async def _load_view(session: AsyncSession) -> _View:
    jwks = await _unretired_jwks(session)
    if not jwks:
        jwks = await _create_first_key(session)
    for jwk in jwks:
        if jwk["kid"] not in _cache.public:
            _cache.public[jwk["kid"]] = _public_key_from_jwk(jwk)
    view = _View(jwks=tuple(jwks), loaded_at=time.monotonic())
    _cache.view = view
    return view


async def _create_first_key(session: AsyncSession) -> list[dict[str, Any]]:
    """Create the first key unless a concurrent transaction got there first.

    Deterministic under concurrency: creators queue on one lock and each looks again once it
    holds it, so exactly one key is created however many requests arrive at once."""
    await _lock(session)
    jwks = await _unretired_jwks(session)
    if not jwks:
        await _insert_new_key(session)
        jwks = await _unretired_jwks(session)
    return jwks


async def _lock(session: AsyncSession) -> None:
    """Serialise key creation and rotation until this transaction ends.

    PostgreSQL: a transaction-scoped advisory lock (under READ COMMITTED each later statement
    sees what the previous holder committed). SQLite: every unit of work already begins with
    BEGIN IMMEDIATE (core.db), so it holds the database's single write lock from its start."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})


# --- queries ---------------------------------------------------------------------------------


def _newest_first() -> tuple[Any, ...]:
    return (signing_key_t.c.created_at.desc(), signing_key_t.c.kid.desc())


async def _unretired_jwks(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(signing_key_t.c.public_jwk)
        .where(signing_key_t.c.retired_at.is_(None))
        .order_by(*_newest_first())
    )
    return list(rows)


async def _unretired_kids(session: AsyncSession) -> list[str]:
    rows = await session.scalars(
        select(signing_key_t.c.kid)
        .where(signing_key_t.c.retired_at.is_(None))
        .order_by(*_newest_first())
    )
    return list(rows)


async def _private_key_token(session: AsyncSession, kid: str) -> str | None:
    token: str | None = await session.scalar(
        select(signing_key_t.c.private_key_token).where(signing_key_t.c.kid == kid)
    )
    return token


async def _insert_new_key(session: AsyncSession) -> str:
    kid = str(new_id())
    private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),  # encrypted below, with the rotating data keys
    ).decode("ascii")
    await session.execute(
        signing_key_t.insert().values(
            kid=kid,
            algorithm=ALGORITHM,
            private_key_token=get_keyring().encrypt(pem, context=PRIVATE_KEY_CONTEXT),
            public_jwk=_public_jwk(kid, private_key.public_key()),
            created_at=clock.now(),
            retired_at=None,
        )
    )
    # Keys are immutable, so caching before commit is harmless even if the transaction fails.
    _cache.private[kid] = private_key
    return kid


# --- key encoding ----------------------------------------------------------------------------


def _b64(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).decode("ascii").rstrip("=")


def _unb64(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def _public_jwk(kid: str, public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """RFC 7518 §6.2 EC public key, with the members a JWKS consumer needs to pick it."""
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": CURVE,
        "x": _b64(numbers.x),
        "y": _b64(numbers.y),
        "kid": kid,
        "use": "sig",
        "alg": ALGORITHM,
    }


def _public_key_from_jwk(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    if jwk.get("kty") != "EC" or jwk.get("crv") != CURVE:
        raise ValueError(f"signing key {jwk.get('kid')!r} is not an EC {CURVE} key")
    numbers = ec.EllipticCurvePublicNumbers(_unb64(jwk["x"]), _unb64(jwk["y"]), ec.SECP256R1())
    return numbers.public_key()


def _decrypt_private_key(token: str) -> ec.EllipticCurvePrivateKey:
    pem = get_keyring().decrypt(token, context=PRIVATE_KEY_CONTEXT)
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError("a stored signing key is not an EC private key")
    return key
