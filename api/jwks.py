"""`GET /.well-known/jwks.json`: the public keys that verify our tokens (RFC 7517)."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from api.deps import Session
from api.routing import contract_router
from identity import keys
from identity.schemas import JwkSet

router = contract_router(tags=["partner"])

# Clients may cache the set for five minutes. A new key can sign tokens within a minute of a
# rotation, so a client meeting a kid its cached set lacks should fetch the set again (as
# JWKS client libraries do).
CACHE_CONTROL = "public, max-age=300"


@router.get(
    "/.well-known/jwks.json",
    summary="Public token-signing keys (JWK set)",
    response_model=None,
    responses={
        200: {
            "model": JwkSet,
            "description": "Cacheable for 5 minutes (`Cache-Control: public, max-age=300`).",
        }
    },
)
async def jwks(session: Session, response: Response) -> dict[str, Any]:
    """Every unretired signing key: the current one and the one before it. Verify a token with
    the key whose `kid` its header names; on a `kid` the cached set lacks, fetch the set again
    (a new key signs within a minute of a rotation)."""
    response.headers["Cache-Control"] = CACHE_CONTROL
    return await keys.public_jwks(session)
