"""The route class of every router: a handler's answer to a request that claimed an
`Idempotency-Key` is remembered in the request's own transaction, before it commits."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from api.idempotency import claimed
from core.errors import DomainError


class ContractRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def remembering(request: Request) -> Response:
            # Runs inside the function-scoped dependencies: the session is still open.
            try:
                response = await handler(request)
            except DomainError as refusal:
                held = claimed(request)
                if held is not None and refusal.keeps_changes:
                    await held.forget()  # the refusal's own changes commit; the key must not
                raise
            held = claimed(request)
            if held is not None:
                await (held.remember(response) if response.status_code < 400 else held.forget())
            return response

        return remembering


def contract_router(**options: Any) -> APIRouter:
    """An APIRouter whose routes are ContractRoutes."""
    return APIRouter(route_class=ContractRoute, **options)
