"""Field-level encryption, blind indexes and masking for personal data (ID and phone numbers).

No business rules live here: callers decide what to encrypt, how to normalise a value before
indexing it, and when to show it unmasked.

Encrypted fields are stored as self-describing text tokens::

    v1.<kid>.<nonce>.<ciphertext>

- `v1`: the format version.
- `kid`: id of the data key that encrypted the value (1-32 of `A-Z a-z 0-9 _ -`), so keys can
  rotate: tokens under an older key still decrypt while that key stays in the ring, and
  `KeyRing.reencrypt` moves them to the current one.
- `nonce`: 96 random bits, unpadded base64url (16 characters).
- `ciphertext`: AES-256-GCM ciphertext followed by its 128-bit tag, unpadded base64url.

The associated data binds the version, the key id and a caller-chosen `context` (the column, e.g.
`"resident.id_number"`), so a token copied into another column, or relabelled with another key
id, fails to decrypt instead of yielding the wrong value.

Blind indexes are HMAC-SHA256 under a separate key, 64 hex characters: equal inputs give equal
indexes (lookup, unique constraints) and nothing about the value can be recovered from them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = "v1"
DATA_KEY_BYTES = 32  # AES-256
BLIND_INDEX_KEY_MIN_BYTES = 32
BLIND_INDEX_LENGTH = 64  # hex characters of an HMAC-SHA256
NONCE_BYTES = 12  # the GCM standard size; random nonces stay safe well past 2**30 per key
TAG_BYTES = 16

# Key ids travel inside tokens and settings, so none of "." ":" "," may appear in them.
_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class DecryptionError(Exception):
    """A stored token could not be decrypted: malformed, unknown key id, wrong context or altered.

    An integrity failure inside the system, not a refusal a caller can act on, hence not a
    DomainError. Messages never contain plaintext or key material.
    """


# --- encoding --------------------------------------------------------------------------------


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    """Strict unpadded base64url: refuses stray characters and non-canonical trailing bits,
    which the standard decoder would silently accept (an altered token must never decrypt)."""
    if not _BASE64URL.fullmatch(text):
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64encode(raw) != text:
        raise ValueError("not canonical base64url")
    return raw


def generate_key() -> str:
    """A fresh random 32-byte key as base64url, for a data key or the blind-index key."""
    return _b64encode(secrets.token_bytes(DATA_KEY_BYTES))


def decode_key(text: str) -> bytes:
    """Raw bytes of a base64url key (padding optional). The message never echoes the input."""
    try:
        return _b64decode(text.strip().rstrip("="))
    except (ValueError, binascii.Error):
        raise ValueError("is not valid base64url") from None


def parse_blind_index_key(text: str) -> bytes:
    """Raw bytes of the base64url blind-index key, refusing keys under 32 bytes."""
    key = decode_key(text)
    if len(key) < BLIND_INDEX_KEY_MIN_BYTES:
        raise ValueError(f"must be at least {BLIND_INDEX_KEY_MIN_BYTES} bytes, not {len(key)}")
    return key


def parse_data_keys(spec: str) -> list[tuple[str, bytes]]:
    """Parse `kid:base64url-key,kid:base64url-key,...`; the first entry is the current key.

    Raises ValueError with a message naming the entry by position (never its content, which may
    hold key material).
    """
    if not spec.strip():
        raise ValueError("is empty: expected kid:base64url-key[,kid:base64url-key...]")
    keys: list[tuple[str, bytes]] = []
    for position, entry in enumerate(spec.split(","), start=1):
        kid, colon, encoded = entry.strip().partition(":")
        if not colon or not _KID.fullmatch(kid):
            raise ValueError(
                f"entry {position} is not kid:base64url-key "
                "(a key id of 1-32 letters, digits, '_' or '-', a colon, then the key)"
            )
        try:
            key = decode_key(encoded)
        except ValueError as exc:
            raise ValueError(f"key {kid!r} {exc}") from None
        if len(key) != DATA_KEY_BYTES:
            raise ValueError(
                f"key {kid!r} must be {DATA_KEY_BYTES} bytes (AES-256), not {len(key)}"
            )
        if any(kid == seen for seen, _ in keys):
            raise ValueError(f"key id {kid!r} appears more than once")
        keys.append((kid, key))
    return keys


def _check_context(context: str) -> None:
    # NUL separates the context from the value in blind indexes; allowing it inside a context
    # would let two different (context, value) pairs hash the same.
    if not context or "\0" in context:
        raise ValueError("context must be a non-empty string without NUL characters")


# --- the key ring ----------------------------------------------------------------------------


class KeyRing:
    """Data keys by key id (the first one current) plus the blind-index key.

    Build it once per process (`core.settings.get_keyring()`); it is immutable and safe to share.
    """

    __slots__ = ("_aead", "_blind_index_key", "_current_kid")

    def __init__(self, data_keys: Sequence[tuple[str, bytes]], *, blind_index_key: bytes) -> None:
        if not data_keys:
            raise ValueError("a key ring needs at least one data key")
        self._aead: dict[str, AESGCM] = {}
        for kid, key in data_keys:
            if not _KID.fullmatch(kid):
                raise ValueError(f"invalid key id {kid!r}")
            if kid in self._aead:
                raise ValueError(f"key id {kid!r} appears more than once")
            if len(key) != DATA_KEY_BYTES:
                raise ValueError(f"data key {kid!r} must be {DATA_KEY_BYTES} bytes")
            if hmac.compare_digest(key, blind_index_key):
                # One key for two jobs would tie their rotation together and weaken both.
                raise ValueError("the blind-index key must differ from every data key")
            self._aead[kid] = AESGCM(key)
        if len(blind_index_key) < BLIND_INDEX_KEY_MIN_BYTES:
            raise ValueError(
                f"the blind-index key must be at least {BLIND_INDEX_KEY_MIN_BYTES} bytes"
            )
        self._current_kid = data_keys[0][0]
        self._blind_index_key = blind_index_key

    @classmethod
    def from_config(cls, data_keys: str, blind_index_key: str) -> KeyRing:
        """A key ring from the text forms the settings hold (see the two `parse_` functions)."""
        return cls(
            parse_data_keys(data_keys), blind_index_key=parse_blind_index_key(blind_index_key)
        )

    def __repr__(self) -> str:
        return f"KeyRing(current={self._current_kid!r}, kids={list(self._aead)!r})"

    @property
    def current_kid(self) -> str:
        return self._current_kid

    @property
    def kids(self) -> tuple[str, ...]:
        """Every key id in the ring, current first."""
        return tuple(self._aead)

    # --- encryption ---

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt `plaintext` under the current key; `context` names where the token is stored."""
        _check_context(context)
        nonce = secrets.token_bytes(NONCE_BYTES)
        aad = _associated_data(self._current_kid, context)
        sealed = self._aead[self._current_kid].encrypt(nonce, plaintext.encode("utf-8"), aad)
        return ".".join((FORMAT_VERSION, self._current_kid, _b64encode(nonce), _b64encode(sealed)))

    def decrypt(self, token: str, *, context: str) -> str:
        """The plaintext of `token`, which must have been encrypted with the same `context`.

        Raises DecryptionError if the token is malformed, its key is not in the ring, the context
        differs or the token was altered.
        """
        _check_context(context)
        kid, nonce, sealed = _split(token)
        aead = self._aead.get(kid)
        if aead is None:
            raise DecryptionError(f"no data key with id {kid!r} in the key ring")
        try:
            plaintext = aead.decrypt(nonce, sealed, _associated_data(kid, context))
        except InvalidTag:
            raise DecryptionError(
                f"a {context} token failed authentication: wrong context, wrong key or altered"
            ) from None
        return plaintext.decode("utf-8")

    def needs_rotation(self, token: str) -> bool:
        """Whether `token` was encrypted under a key other than the current one."""
        kid, _, _ = _split(token)
        return kid != self._current_kid

    def reencrypt(self, token: str, *, context: str) -> str:
        """`token`'s plaintext encrypted afresh under the current key (for key rotation)."""
        return self.encrypt(self.decrypt(token, context=context), context=context)

    # --- blind index ---

    def blind_index(self, value: str, *, context: str) -> str:
        """A keyed, deterministic, irreversible 64-hex-character index of `value` for lookups
        and unique constraints.

        Callers pass canonical values (for example upper-case `X`, no spaces) because indexes of
        differently written equal values differ. `context` keeps indexes of different kinds of
        value apart. Changing the blind-index key changes every index: rebuild them all.
        """
        _check_context(context)
        message = context.encode("utf-8") + b"\0" + value.encode("utf-8")
        return hmac.new(self._blind_index_key, message, hashlib.sha256).hexdigest()


def _associated_data(kid: str, context: str) -> bytes:
    return f"{FORMAT_VERSION}\0{kid}\0{context}".encode()


def _split(token: str) -> tuple[str, bytes, bytes]:
    """(kid, nonce, ciphertext-and-tag) of a well-formed token, else DecryptionError."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != FORMAT_VERSION:
        raise DecryptionError(f"not a {FORMAT_VERSION} encrypted-field token")
    _, kid, encoded_nonce, encoded_sealed = parts
    if not _KID.fullmatch(kid):
        raise DecryptionError("malformed key id in encrypted-field token")
    try:
        nonce, sealed = _b64decode(encoded_nonce), _b64decode(encoded_sealed)
    except (ValueError, binascii.Error):
        raise DecryptionError("malformed base64url in encrypted-field token") from None
    if len(nonce) != NONCE_BYTES or len(sealed) < TAG_BYTES:
        raise DecryptionError("truncated encrypted-field token")
    return kid, nonce, sealed


# --- masking ---------------------------------------------------------------------------------
# Pure and total: any string in, a masked string out. What is kept is only ever ASCII letters and
# digits, so odd input (control characters, markup) is never echoed back. Values too short or too
# odd to mask partly are masked entirely: one star per character (separators such as spaces and
# hyphens aside), at most _MAX_STARS.

_MAX_STARS = 32
_SEPARATORS = re.compile(r"[\s\-()]")
_ID_NUMBER_LIKE = re.compile(r"[0-9A-Za-z]{15,18}")
_MAINLAND_MOBILE = re.compile(r"(\+86|0086|86)?(1[0-9]{10})")
_OTHER_PHONE = re.compile(r"(\+?)([0-9]{8,20})")
_CARD_NUMBER_LIKE = re.compile(r"[0-9A-Za-z]{8,32}")


def _stars(value: str) -> str:
    return "*" * min(len(value), _MAX_STARS)


def mask_id_number(value: str) -> str:
    """`3205**********123X`: the first 4 (province and city) and last 4 characters of a
    resident ID number (18, or legacy 15, letters and digits; spaces and hyphens ignored) kept;
    anything else fully masked."""
    text = _SEPARATORS.sub("", value)
    if _ID_NUMBER_LIKE.fullmatch(text):
        return text[:4] + "*" * (len(text) - 8) + text[-4:]
    return _stars(text)


def mask_phone(value: str) -> str:
    """`138****5678` for a mainland mobile number (`+86 138****5678` if it came with +86, 0086 or
    86); other numbers keep their last 4 digits, and their first 3 if 11 digits or more."""
    compact = _SEPARATORS.sub("", value)
    mobile = _MAINLAND_MOBILE.fullmatch(compact)
    if mobile:
        number = mobile[2]
        return ("+86 " if mobile[1] else "") + number[:3] + "****" + number[-4:]
    other = _OTHER_PHONE.fullmatch(compact)
    if other:
        plus, digits = other[1], other[2]
        head = digits[:3] if len(digits) >= 11 else ""
        return plus + head + "*" * (len(digits) - len(head) - 4) + digits[-4:]
    return _stars(compact)


def mask_card_number(value: str) -> str:
    """`************1234`: the last 4 characters of a card number (8-32 letters and digits,
    spaces and hyphens ignored) kept; anything else fully masked."""
    compact = _SEPARATORS.sub("", value)
    if _CARD_NUMBER_LIKE.fullmatch(compact):
        return "*" * (len(compact) - 4) + compact[-4:]
    return _stars(compact)
