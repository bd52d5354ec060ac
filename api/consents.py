"""A resident's consents to partner apps: see them, and withdraw one from the app."""

from __future__ import annotations

from fastapi import Response

from api.deps import Session
from api.pagination import Paging, page_of
from api.principal import CurrentResident
from api.routing import contract_router
from core.pagination import time_key
from core.redis import get_redis
from identity import consents
from identity.errors import ConsentNotFound
from identity.schemas import ConsentPage
from mobile_contract.problems import raises

router = contract_router(prefix="/v1/me/consents", tags=["app"])


@router.get("", summary="Partner apps I allowed")
async def my_consents(session: Session, resident: CurrentResident, page: Paging) -> ConsentPage:
    """The partners the resident allowed, and what each may receive; most recent first."""
    return page_of(
        ConsentPage,
        await consents.list_for(session, resident_id=resident.resident_id),
        key=lambda c: time_key(c.granted_at, c.client_id),
        kind="c",
        page=page,
        descending=True,
    )


@router.delete("/{client_id}", status_code=204, summary="Withdraw a partner app's consent")
@raises(ConsentNotFound)
async def withdraw_consent(session: Session, resident: CurrentResident, client_id: str) -> Response:
    """Withdraw a consent; the partner's sessions for this resident end at once (its tokens stop
    working), and the partner must ask for consent again to receive anything."""
    await consents.withdraw(
        session, get_redis(), resident_id=resident.resident_id, client_id=client_id
    )
    return Response(status_code=204)
