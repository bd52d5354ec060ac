"""Partner clients, residents and authorization codes for the OpenID Connect tests."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from core import clock
from identity import authorization_codes, clients, residents
from identity.models import Client, Resident
from identity.verification import FormatOnlyVerifier
from tests.identity.factories import make_id_number

REDIRECT = "https://partner.example.gov.cn/callback"
NAME = "张三丰"


async def make_resident(
    session, *, phone: str = "13812345678", verified: bool = True, sequence: int = 1
) -> Resident:
    resident, _ = await residents.find_or_create_by_phone(session, phone=phone)
    if verified:
        await residents.verify_real_name(
            session,
            FormatOnlyVerifier(),
            resident_id=resident.id,
            name=NAME,
            id_number=make_id_number(sequence=sequence),
        )
    return resident


async def make_client(
    session,
    *,
    auth_method: str = "client_secret_basic",
    scopes: str = "openid profile phone real_name offline_access",
    jwks: dict[str, Any] | None = None,
) -> tuple[Client, str | None]:
    return await clients.register(
        session,
        name="Wujiang Gov Services",
        redirect_uris=[REDIRECT],
        scopes=scopes.split(),
        auth_method=auth_method,  # type: ignore[arg-type]
        jwks=jwks,
    )


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def make_code(
    redis,
    *,
    client_id: str,
    resident_id: uuid.UUID,
    challenge: str,
    scope: str = "openid profile",
    nonce: str | None = "n-0S6_WzA2Mj",
    acr: str = "real_name",
) -> str:
    return await authorization_codes.issue(
        redis,
        client_id=client_id,
        redirect_uri=REDIRECT,
        scope=scope,
        code_challenge=challenge,
        resident_id=resident_id,
        nonce=nonce,
        auth_time=int(clock.now().timestamp()),
        acr=acr,
    )


def ec_key() -> tuple[ec.EllipticCurvePrivateKey, dict[str, Any]]:
    """A partner's P-256 key pair: the private key and its public JWKS."""
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    jwk.update(kid="partner-1", use="sig", alg="ES256")
    return private, {"keys": [jwk]}


def assertion(
    private: ec.EllipticCurvePrivateKey,
    client_id: str,
    *,
    aud: str,
    lifetime: int = 120,
    jti: str | None = None,
) -> str:
    now = int(clock.now().timestamp())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + lifetime,
        "jti": jti or secrets.token_urlsafe(16),
    }
    return jwt.encode(claims, private, algorithm="ES256", headers={"kid": "partner-1"})
