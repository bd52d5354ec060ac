"""`Idempotency-Key` on writes, one mechanism for every operation that takes it.

A route opts in with a dependency naming who calls it (the caller's own dependency, so their
keys are theirs alone) and whether the key is required::

    @router.post("/v1/me/redemptions", status_code=201)
    async def redeem(..., resident: CurrentResident, _: Annotated[None, ResidentKey]) -> ...

The dependency claims the key in the request's transaction, or answers a retry with the
remembered answer (`Idempotent-Replayed: true`); `api.routing.ContractRoute` remembers the
answer in the same transaction once the handler has produced it. See
mobile_contract/conventions.md for the rules clients are told."""

# Annotations are evaluated now, not postponed: the dependencies below are built in a closure,
# and FastAPI must resolve their `caller` and `Key` from it.
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Session
from core import idempotency
from core.idempotency import KEY_PATTERN, MAX_KEY_LENGTH, IdempotencyKeyReused
from core.settings import get_keyring
from mobile_contract.problems import raises

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_DESCRIPTION = (
    "1-255 visible ASCII characters (a UUID is ideal), new for each intended change and the "
    "same for its retries: a retry within 24 hours is answered exactly as the first request "
    "was, and nothing is done twice."
)


class Replay(Exception):
    """Raised by the dependency to answer with the remembered response instead of the handler."""

    def __init__(self, remembered: idempotency.Remembered) -> None:
        super().__init__("replay")
        self.remembered = remembered

    def response(self) -> Response:
        return Response(
            content=self.remembered.body,
            status_code=self.remembered.status_code,
            media_type=self.remembered.media_type,
            headers={REPLAYED_HEADER: "true"},
        )


@dataclass(frozen=True)
class Claimed:
    """A key this request holds until its transaction ends."""

    session: AsyncSession
    record_id: uuid.UUID

    async def remember(self, response: Response) -> None:
        await idempotency.remember(
            self.session,
            get_keyring(),
            self.record_id,
            status_code=response.status_code,
            media_type=response.headers.get("content-type"),
            body=bytes(response.body),
        )

    async def forget(self) -> None:
        await idempotency.forget(self.session, self.record_id)


def claimed(request: Request) -> Claimed | None:
    """The key this request claimed, if any (for `api.routing.ContractRoute`)."""
    found: Claimed | None = getattr(request.state, "idempotency", None)
    return found


def idempotent(caller: Callable[..., Awaitable[Any]], *, required: bool) -> Any:
    """A dependency for a route whose caller is authenticated by `caller` (the very dependency
    the route uses, so it runs once): the `Idempotency-Key` header, required or optional, whose
    value it returns for services that keep their own idempotency too (the ledger's)."""
    header = Header(
        alias=HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=KEY_PATTERN,
        description=_DESCRIPTION,
    )
    # Two spellings: `Annotated[str, Header()] | None` would lose the Header marker.
    Key = Annotated[str, header]
    MaybeKey = Annotated[str | None, header]

    if required:

        @raises(IdempotencyKeyReused)
        async def with_key(
            request: Request, session: Session, who: Annotated[Any, Depends(caller)], key: Key
        ) -> str:
            await _claim(request, session, who, key)
            return key

        return Depends(with_key)

    @raises(IdempotencyKeyReused)
    async def maybe_key(
        request: Request,
        session: Session,
        who: Annotated[Any, Depends(caller)],
        key: MaybeKey = None,
    ) -> str | None:
        if key is not None:
            await _claim(request, session, who, key)
        return key

    return Depends(maybe_key)


async def _claim(request: Request, session: AsyncSession, who: Any, key: str) -> None:
    scope: str = who.idempotency_scope
    outcome = await idempotency.claim(
        session,
        get_keyring(),
        scope=scope,
        key=key,
        fingerprint=await _fingerprint(request),
    )
    if isinstance(outcome, idempotency.Remembered):
        raise Replay(outcome)
    request.state.idempotency = Claimed(session=session, record_id=outcome)


async def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    for part in (request.method.encode(), raw_path, request.scope.get("query_string", b"")):
        digest.update(part + b"\n")
    digest.update(await request.body())
    return digest.hexdigest()
