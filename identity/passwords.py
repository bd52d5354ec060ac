"""Password hashing with passlib's API (the maintained `libpass` fork) and argon2."""

from __future__ import annotations

from passlib.context import CryptContext  # type: ignore[import-untyped]

from identity.errors import WeakPassword

# Raising the argon2 parameters later is enough: `needs_update` then rehashes at next sign-in.
_context = CryptContext(schemes=["argon2"], deprecated="auto")
# Verified against when the account does not exist, so timing does not tell whether it does.
_DUMMY_HASH = _context.hash("not-a-real-password-just-for-timing")

MIN_LENGTH = 8
MAX_LENGTH = 128


def check_strength(password: str) -> None:
    """Refuse passwords that are too short, too long, or one repeated character."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise WeakPassword(f"Use {MIN_LENGTH} to {MAX_LENGTH} characters.")
    if len(set(password)) < 4 or password.isdigit():
        raise WeakPassword("Mix at least four different characters, not only digits.")


def hash_password(password: str) -> str:
    return str(_context.hash(password))


def verify_password(password: str, stored: str | None) -> tuple[bool, str | None]:
    """Whether `password` matches, and a new hash to store if the parameters have changed."""
    if stored is None:
        _context.verify(password, _DUMMY_HASH)
        return False, None
    ok, new_hash = _context.verify_and_update(password, stored)
    return bool(ok), new_hash
