"""Lists page with ``page`` (from 1) and ``per_page`` (default 128)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.resources import Page

DEFAULT_PER_PAGE = 128
MAX_PER_PAGE = 1000
MAX_PAGE = 1_000_000

T = TypeVar("T")
AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class PageParams:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


async def fetch_page(
    session: AsyncSession, stmt: AnySelect, params: PageParams
) -> tuple[Sequence[Any], int | None]:
    """Rows of the page (one extra is read to know whether another page follows)."""
    result = await session.execute(stmt.limit(params.per_page + 1).offset(params.offset))
    rows = result.all()
    next_page = params.page + 1 if len(rows) > params.per_page else None
    return rows[: params.per_page], next_page


def make_page(items: list[T], params: PageParams, next_page: int | None) -> Page[T]:
    # Page, not Page[T]: parametrizing with a TypeVar builds a new class on every call
    return Page(items=items, page=params.page, per_page=params.per_page, next_page=next_page)


def page_of(
    rows: Sequence[Any], params: PageParams, next_page: int | None, view: Callable[[Any], T]
) -> Page[T]:
    return make_page([view(row) for row in rows], params, next_page)
