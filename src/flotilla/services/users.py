"""Users: admins create them; every user gets a first token at creation."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.errors import Conflict, InvalidArgument, UserAlreadyExists, UserNotFound
from flotilla.domain.resources import Page, TokenWithSecret, User
from flotilla.domain.specs import IMMUTABLE_FIELDS, TokenSpec, UserSpec
from flotilla.domain.states import ObjectKind
from flotilla.services import events, tokens
from flotilla.services.context import Caller, Context
from flotilla.services.lookup import add_unique, patched
from flotilla.services.paging import PageParams, fetch_page, page_of
from flotilla.store.tables import ClusterRow, DeploymentRow, UserRow

SYSTEM_USER = "system"
ME = "me"
"""In a user path, ``me`` is the caller: ``GET /v1/users/me`` says who a token belongs to."""
RESERVED_IDS = frozenset({SYSTEM_USER, ME})


def view(row: UserRow) -> User:
    return User(
        id=row.id,
        name=row.name,
        email=row.email,
        is_admin=row.is_admin,
        created_at=row.created_at,
        modified_at=row.modified_at,
    )


async def get_user_row(session: AsyncSession, user_id: str) -> UserRow:
    row = await session.scalar(
        sa.select(UserRow).where(UserRow.id == user_id, UserRow.is_system.is_(False))
    )
    if row is None:
        raise UserNotFound(f"no user '{user_id}'")
    return row


def resolve(caller: Caller, user_id: str) -> str:
    return caller.user_id if user_id == ME else user_id


async def create_user(
    ctx: Context, session: AsyncSession, caller: Caller, spec: UserSpec
) -> tuple[User, TokenWithSecret]:
    caller.require_admin()
    if spec.id in RESERVED_IDS:
        raise InvalidArgument(
            f"'{spec.id}' is reserved; choose another id", fields={"id": "reserved"}
        )
    now = ctx.now()
    row = UserRow(
        id=spec.id,
        name=spec.name,
        email=spec.email,
        is_admin=spec.is_admin,
        created_at=now,
        modified_at=now,
    )
    await add_unique(session, row, UserAlreadyExists(f"a user '{spec.id}' exists already"))
    scopes = ["read", "write", "admin"] if spec.is_admin else ["read", "write"]
    token = await tokens.create_token(
        ctx,
        session,
        row,
        TokenSpec(id="initial", description="created with the user", scopes=scopes),
        granted_by=caller,
    )
    events.record(
        session,
        owner_pk=caller.user_pk,
        kind=ObjectKind.USER,
        object_id=spec.id,
        reason="USER_CREATED",
        message=f"user '{spec.id}' created" + (" (admin)" if spec.is_admin else ""),
        time=now,
    )
    return view(row), token


async def list_users(session: AsyncSession, caller: Caller, params: PageParams) -> Page[User]:
    caller.require_admin()
    stmt = sa.select(UserRow).where(UserRow.is_system.is_(False)).order_by(UserRow.id)
    rows, next_page = await fetch_page(session, stmt, params)
    return page_of(rows, params, next_page, lambda r: view(r[0]))


async def get_user(session: AsyncSession, caller: Caller, user_id: str) -> User:
    """Any user reads themselves (``me``); only an admin reads others."""
    user_id = resolve(caller, user_id)
    if user_id != caller.user_id:
        caller.require_admin()
    return view(await get_user_row(session, user_id))


async def update_user(
    ctx: Context, session: AsyncSession, caller: Caller, user_id: str, patch: dict[str, Any]
) -> User:
    caller.require_admin()
    row = await get_user_row(session, resolve(caller, user_id))
    current = UserSpec.model_construct(
        id=row.id, name=row.name, email=row.email, is_admin=row.is_admin
    )
    spec = patched(UserSpec, current, patch, IMMUTABLE_FIELDS[UserSpec])
    if row.pk == caller.user_pk and not spec.is_admin:
        raise Conflict("you cannot remove your own admin rights; ask another admin")
    row.name, row.email, row.is_admin = spec.name, spec.email, spec.is_admin
    row.modified_at = ctx.now()
    ctx.token_cache.invalidate()
    return view(row)


async def delete_user(ctx: Context, session: AsyncSession, caller: Caller, user_id: str) -> None:
    """Delete a user and their tokens; refused while they own clusters or deployments."""
    caller.require_admin()
    row = await get_user_row(session, resolve(caller, user_id))
    if row.pk == caller.user_pk:
        raise Conflict("you cannot delete yourself")
    owned = await session.scalar(
        sa.select(sa.func.count()).select_from(ClusterRow).where(ClusterRow.owner_pk == row.pk)
    )
    owned = (owned or 0) + (
        await session.scalar(
            sa.select(sa.func.count())
            .select_from(DeploymentRow)
            .where(DeploymentRow.owner_pk == row.pk)
        )
        or 0
    )
    if owned:
        raise Conflict(
            f"user '{user_id}' still owns {owned} clusters or deployments; delete those first"
        )
    await session.delete(row)
    ctx.token_cache.invalidate()
