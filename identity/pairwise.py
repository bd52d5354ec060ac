"""Pairwise subject identifiers (OpenID Connect Core §8.1): each partner sees a resident under
its own `sub`, so two partners cannot join their records on it.

`sub = base64url(HMAC-SHA256(blind-index key, "oidc.pairwise" NUL client_id NUL resident_id))`,
43 characters. It cannot be reversed: the way back to the resident is the sign-in session, whose
row holds the resident id (the `sid` of every partner token)."""

from __future__ import annotations

import base64

from core.settings import get_keyring

_CONTEXT = "oidc.pairwise"


def pairwise_subject(client_id: str, resident_id: str) -> str:
    """The resident's stable `sub` as seen by `client_id`."""
    digest = get_keyring().blind_index(f"{client_id}\0{resident_id}", context=_CONTEXT)
    return base64.urlsafe_b64encode(bytes.fromhex(digest)).decode("ascii").rstrip("=")[:43]
