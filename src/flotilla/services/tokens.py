"""Personal Access Tokens: ``flt_`` + 32 random bytes, shown once, stored as a SHA-256 hash.

A token is found by a short lookup prefix and checked with a constant-time comparison of
hashes. Revoking or deleting a token, or its expiry, stops the clusters that act with it: their
status turns to ``error``/``TOKEN_REVOKED`` at once, derived from the token's facts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.errors import (
    PermissionDenied,
    TokenAlreadyExists,
    TokenExpired,
    TokenNotFound,
    TokenRevoked,
    Unauthenticated,
)
from flotilla.domain.ids import new_id
from flotilla.domain.resources import Page, Token, TokenWithSecret
from flotilla.domain.specs import TokenSpec
from flotilla.domain.states import EventType, ObjectKind, Scope, TokenStatus
from flotilla.domain.status import TokenFacts, token_status
from flotilla.services import events
from flotilla.services.context import Caller, Context
from flotilla.services.lookup import add_unique
from flotilla.services.paging import PageParams, fetch_page, make_page
from flotilla.store.tables import ClusterRow, TokenRow, UserRow

SECRET_PREFIX = "flt_"
LOOKUP_CHARS = 12
SECRET_RE = re.compile(rf"{SECRET_PREFIX}[A-Za-z0-9_-]{{{LOOKUP_CHARS + 8},}}")
"""What ``new_secret`` makes (base64url); anything else is refused before any query."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def lookup_of(secret: str) -> str | None:
    """The part of a secret its row is found by; None when it cannot be one of ours."""
    if not SECRET_RE.fullmatch(secret):
        return None
    return secret[len(SECRET_PREFIX) : len(SECRET_PREFIX) + LOOKUP_CHARS]


def facts(row: TokenRow) -> TokenFacts:
    return TokenFacts(revoked_at=row.revoked_at, expires_at=row.expires_at)


async def authenticate(
    session: AsyncSession, secret: str, now: datetime
) -> tuple[Caller, TokenRow]:
    """The caller a secret stands for; raises ``Unauthenticated`` (or its kinds) otherwise."""
    lookup = lookup_of(secret)
    if lookup is None:
        raise Unauthenticated("the token is malformed: Flotilla tokens start with 'flt_'")
    result = await session.execute(
        sa.select(TokenRow, UserRow)
        .join(UserRow, UserRow.pk == TokenRow.user_pk)
        .where(TokenRow.lookup == lookup)
    )
    found = result.first()
    if found is None or not hmac.compare_digest(found[0].secret_hash, hash_secret(secret)):
        raise Unauthenticated("the token is not valid; create one with `flotilla token create`")
    token, user = found
    status = token_status(facts(token), now)
    if status == TokenStatus.REVOKED:
        raise TokenRevoked(f"token '{token.id}' was revoked; use another token")
    if status == TokenStatus.EXPIRED:
        raise TokenExpired(f"token '{token.id}' expired; create a new one")
    caller = Caller(
        user_pk=user.pk,
        user_id=user.id,
        is_admin=user.is_admin,
        scopes=frozenset(Scope(s) for s in token.scopes),
        token_pk=token.pk,
        token_id=token.id,
    )
    return caller, token


async def touch(ctx: Context, token_pk: int, now: datetime) -> None:
    async with ctx.db.write() as session:
        await session.execute(
            sa.update(TokenRow).where(TokenRow.pk == token_pk).values(last_used_at=now)
        )


async def _bound_clusters(session: AsyncSession, token_pks: list[int]) -> dict[int, list[str]]:
    if not token_pks:
        return {}
    result = await session.execute(
        sa.select(ClusterRow.token_pk, ClusterRow.id)
        .where(ClusterRow.token_pk.in_(token_pks))
        .order_by(ClusterRow.id)
    )
    bound: dict[int, list[str]] = {}
    for token_pk, cluster_id in result.all():
        if token_pk is not None:
            bound.setdefault(token_pk, []).append(cluster_id)
    return bound


def _view(row: TokenRow, now: datetime, clusters: list[str]) -> Token:
    return Token(
        id=row.id,
        description=row.description,
        scopes=[Scope(s) for s in row.scopes],
        status=token_status(facts(row), now),
        prefix=SECRET_PREFIX + row.lookup[:6],
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        created_at=row.created_at,
        modified_at=row.modified_at,
        compute_clusters=clusters,
    )


async def create_token(
    ctx: Context,
    session: AsyncSession,
    user: UserRow,
    spec: TokenSpec,
    *,
    granted_by: Caller | None,
) -> TokenWithSecret:
    """A new token for ``user``; its secret is in the answer and nowhere else, ever."""
    scopes = sorted(set(spec.scopes), key=[s.value for s in Scope].index)
    if Scope.ADMIN in scopes and not user.is_admin:
        raise PermissionDenied("only admin users may hold tokens with the 'admin' scope")
    if granted_by is not None and Scope.ADMIN in scopes:
        granted_by.require_admin()
    now = ctx.now()
    secret = new_secret()
    token_id = spec.id or new_id("token", 4)
    row = TokenRow(
        id=token_id,
        user_pk=user.pk,
        lookup=lookup_of(secret),
        secret_hash=hash_secret(secret),
        description=spec.description,
        scopes=scopes,
        expires_at=now + timedelta(days=spec.expires_in_days) if spec.expires_in_days else None,
        created_at=now,
        modified_at=now,
    )
    await add_unique(
        session, row, TokenAlreadyExists(f"you already have a token named '{token_id}'")
    )
    events.record(
        session,
        owner_pk=user.pk,
        kind=ObjectKind.TOKEN,
        object_id=token_id,
        reason="TOKEN_CREATED",
        message=f"token '{token_id}' created with scopes {', '.join(scopes)}",
        time=now,
    )
    return TokenWithSecret(**_view(row, now, []).model_dump(), secret=secret)


async def _get_row(session: AsyncSession, user_pk: int, token_id: str) -> TokenRow:
    row = await session.scalar(
        sa.select(TokenRow).where(TokenRow.user_pk == user_pk, TokenRow.id == token_id)
    )
    if row is None:
        raise TokenNotFound(f"no token '{token_id}'")
    return row


async def get_token_row(session: AsyncSession, user_pk: int, token_id: str) -> TokenRow:
    return await _get_row(session, user_pk, token_id)


async def get_token(ctx: Context, session: AsyncSession, caller: Caller, token_id: str) -> Token:
    row = await _get_row(session, caller.user_pk, token_id)
    bound = await _bound_clusters(session, [row.pk])
    return _view(row, ctx.now(), bound.get(row.pk, []))


async def list_tokens(
    ctx: Context, session: AsyncSession, caller: Caller, params: PageParams
) -> Page[Token]:
    stmt = sa.select(TokenRow).where(TokenRow.user_pk == caller.user_pk).order_by(TokenRow.id)
    rows, next_page = await fetch_page(session, stmt, params)
    bound = await _bound_clusters(session, [r[0].pk for r in rows])
    now = ctx.now()
    return make_page([_view(r[0], now, bound.get(r[0].pk, [])) for r in rows], params, next_page)


async def update_token(
    ctx: Context, session: AsyncSession, caller: Caller, token_id: str, description: str
) -> Token:
    row = await _get_row(session, caller.user_pk, token_id)
    row.description = description
    row.modified_at = ctx.now()
    return await get_token(ctx, session, caller, token_id)


async def _record_stopped_clusters(
    ctx: Context, session: AsyncSession, row: TokenRow, what: str
) -> None:
    bound = (await _bound_clusters(session, [row.pk])).get(row.pk, [])
    for cluster_id in bound:
        events.record(
            session,
            owner_pk=row.user_pk,
            kind=ObjectKind.COMPUTE_CLUSTER,
            object_id=cluster_id,
            reason="TOKEN_REVOKED",
            message=f"token '{row.id}' was {what}: the cluster's compute stops until a valid "
            "token is bound (PATCH token_id)",
            time=ctx.now(),
            type=EventType.WARNING,
        )
    if bound:
        ctx.hints.notify("clusters", "nodepools")


async def revoke_token(ctx: Context, session: AsyncSession, caller: Caller, token_id: str) -> Token:
    """Revoke: the token stops working at once; revoking twice is not an error."""
    row = await _get_row(session, caller.user_pk, token_id)
    if row.revoked_at is None:
        now = ctx.now()
        row.revoked_at = now
        row.modified_at = now
        events.record(
            session,
            owner_pk=row.user_pk,
            kind=ObjectKind.TOKEN,
            object_id=row.id,
            reason="TOKEN_REVOKED",
            message=f"token '{row.id}' revoked",
            time=now,
            type=EventType.WARNING,
        )
        await _record_stopped_clusters(ctx, session, row, "revoked")
        ctx.token_cache.invalidate()
    return await get_token(ctx, session, caller, token_id)


async def delete_token(ctx: Context, session: AsyncSession, caller: Caller, token_id: str) -> None:
    row = await _get_row(session, caller.user_pk, token_id)
    await _record_stopped_clusters(ctx, session, row, "deleted")
    events.record(
        session,
        owner_pk=row.user_pk,
        kind=ObjectKind.TOKEN,
        object_id=row.id,
        reason="TOKEN_DELETED",
        message=f"token '{row.id}' deleted",
        time=ctx.now(),
        type=EventType.WARNING,
    )
    await session.execute(
        sa.update(ClusterRow).where(ClusterRow.token_pk == row.pk).values(token_pk=None)
    )
    await session.delete(row)
    ctx.token_cache.invalidate()


async def authenticate_cached(ctx: Context, secret: str) -> Caller:
    """``authenticate`` through the token cache; writes ``last_used_at`` at most once a minute."""
    key = hash_secret(secret)
    mono, now = ctx.clock.monotonic(), ctx.now()
    hit = ctx.token_cache.get(key, mono)
    if hit is not None:
        caller = hit.caller
        assert isinstance(caller, Caller)
        if token_status(hit.facts, now) == TokenStatus.EXPIRED:
            raise TokenExpired(f"token '{caller.token_id}' expired; create a new one")
    else:
        async with ctx.db.read() as session:
            caller, row = await authenticate(session, secret, now)
        ctx.token_cache.put(key, caller, facts(row), mono)
    if caller.token_pk is not None and ctx.token_cache.should_touch(
        caller.token_pk, mono, ctx.settings.token_touch_seconds
    ):
        await touch(ctx, caller.token_pk, now)
    return caller
