"""How to reach residents: their language and, only for the moment of sending a text message,
their phone number. The notification worker's one door into identity."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import get_keyring
from identity.models import Resident
from identity.residents import PHONE

_resident_t = Resident.metadata.tables["identity_resident"]


@dataclass(frozen=True)
class Contact:
    language: str
    _phone_token: str

    def __repr__(self) -> str:  # never the number, not even encrypted
        return f"Contact(language={self.language!r})"

    def phone(self) -> str:
        """The decrypted number: call only to hand it to the SMS gateway; never log it."""
        return get_keyring().decrypt(self._phone_token, context=PHONE)


async def contacts(
    session: AsyncSession, resident_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Contact]:
    """The residents that exist among `resident_ids`, by id."""
    if not resident_ids:
        return {}
    rows = await session.execute(
        select(_resident_t.c.id, _resident_t.c.language, _resident_t.c.phone_token).where(
            _resident_t.c.id.in_(set(resident_ids))
        )
    )
    return {row.id: Contact(row.language, row.phone_token) for row in rows}
