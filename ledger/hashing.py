"""Fingerprints and seals: request hashes for idempotency, HMACs for tamper evidence."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core.settings import get_settings

GENESIS = "0" * 64


def canonical(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no whitespace, datetimes and UUIDs as strings."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_encode
    ).encode()


def _encode(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot canonicalise {type(value).__name__}")


def request_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(content)).hexdigest()


def _key() -> bytes:
    return get_settings().ledger_hash_key.get_secret_value().encode()


def entry_hash(
    *,
    entry_id: uuid.UUID,
    key: str,
    kind: str,
    memo: str,
    metadata: dict[str, Any],
    actor: str,
    effective_at: datetime,
    created_at: datetime,
    reverses_id: uuid.UUID | None,
    postings: Iterable[tuple[uuid.UUID, str, int]],
) -> str:
    """HMAC over everything that makes an entry what it is, postings included."""
    body = {
        "id": entry_id,
        "key": key,
        "kind": kind,
        "memo": memo,
        "metadata": metadata,
        "actor": actor,
        "effective_at": effective_at,
        "created_at": created_at,
        "reverses_id": reverses_id,
        "postings": sorted([str(a), asset, amount] for a, asset, amount in postings),
    }
    return hmac.new(_key(), canonical(body), hashlib.sha256).hexdigest()


class CheckpointMac:
    """Chains the previous seal with each (seq, entry hash), in order, as they stream by."""

    def __init__(self, prev_hash: str) -> None:
        self._mac = hmac.new(_key(), prev_hash.encode(), hashlib.sha256)
        self.count = 0

    def add(self, seq: int, digest: str) -> None:
        self._mac.update(f"|{seq}:{digest}".encode())
        self.count += 1

    def hexdigest(self) -> str:
        return self._mac.hexdigest()


def checkpoint_hash(prev_hash: str, entry_hashes: Iterable[tuple[int, str]]) -> str:
    mac = CheckpointMac(prev_hash)
    for seq, digest in entry_hashes:
        mac.add(seq, digest)
    return mac.hexdigest()
