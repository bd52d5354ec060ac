"""The two query parameters every list takes, `cursor` and `limit`, declared once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query

from core.pagination import (
    DEFAULT_LIMIT,
    MAX_CURSOR_LENGTH,
    MAX_LIMIT,
    InvalidCursor,
    Page,
    page_after,
)
from mobile_contract.problems import raises

T = TypeVar("T")
P = TypeVar("P", bound=Page[Any])


@dataclass(frozen=True)
class PageRequest:
    cursor: str | None
    limit: int


def paging(default_limit: int = DEFAULT_LIMIT) -> Callable[..., PageRequest]:
    """A dependency reading `cursor` and `limit`; `default_limit` is the list's page size."""

    @raises(InvalidCursor)
    def dependency(
        cursor: Annotated[
            str | None,
            Query(
                max_length=MAX_CURSOR_LENGTH,
                description="The `next_cursor` of the previous page, unchanged; none for the "
                "first page.",
            ),
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")
        ] = default_limit,
    ) -> PageRequest:
        return PageRequest(cursor=cursor or None, limit=limit)

    return dependency


Paging = Annotated[PageRequest, Depends(paging())]


def page_of(
    page_type: type[P],
    items: Sequence[T],
    *,
    key: Callable[[T], str],
    kind: str,
    page: PageRequest,
    descending: bool = False,
) -> P:
    """The requested page, as `page_type`, of a short list a service returned whole (see
    `core.pagination.page_after`)."""
    shown, next_cursor = page_after(
        items, key=key, kind=kind, cursor=page.cursor, limit=page.limit, descending=descending
    )
    return page_type(items=shown, next_cursor=next_cursor)
