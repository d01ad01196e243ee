"""/v1/tokens: your Personal Access Tokens"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from flotilla.api.deps import Auth, Ctx, Paging, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.domain.ids import ObjectId
from flotilla.domain.resources import Page, Token, TokenWithSecret
from flotilla.domain.specs import TokenPatch, TokenSpec
from flotilla.domain.states import Scope
from flotilla.services import tokens, users

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], responses=ERROR_RESPONSES)
TokenId = Annotated[ObjectId, Path(description="The token's id (its name, not its secret).")]


@router.post("", status_code=201, response_model=TokenWithSecret, summary="Create a token")
async def create(ctx: Ctx, caller: Auth, body: TokenSpec) -> Response:
    """The answer holds the secret, once; only its hash is stored."""
    caller.require(Scope.WRITE)
    async with ctx.db.write() as s:
        user = await users.get_user_row(s, caller.user_id)
        return json(await tokens.create_token(ctx, s, user, body, granted_by=caller), 201)


@router.get("", response_model=Page[Token], summary="List your tokens")
async def list_(ctx: Ctx, caller: Auth, paging: Paging) -> Response:
    """With each token, the clusters that act with it (and stop if it goes)."""
    async with ctx.db.read() as s:
        return json(await tokens.list_tokens(ctx, s, caller, paging))


@router.get("/{token_id}", response_model=Token, summary="Get a token")
async def get(ctx: Ctx, caller: Auth, token_id: TokenId) -> Response:
    async with ctx.db.read() as s:
        return json(await tokens.get_token(ctx, s, caller, token_id))


@router.patch("/{token_id}", response_model=Token, summary="Change a token's description")
async def update(ctx: Ctx, caller: Auth, token_id: TokenId, body: TokenPatch) -> Response:
    caller.require(Scope.WRITE)
    async with ctx.db.write() as s:
        return json(await tokens.update_token(ctx, s, caller, token_id, body.description or ""))


@router.post("/{token_id}/revoke", response_model=Token, summary="Revoke a token")
async def revoke(ctx: Ctx, caller: Auth, token_id: TokenId) -> Response:
    """The token stops working at once, and clusters acting with it stop (`TOKEN_REVOKED`)."""
    caller.require(Scope.WRITE)
    async with ctx.db.write() as s:
        return json(await tokens.revoke_token(ctx, s, caller, token_id))


@router.delete("/{token_id}", status_code=204, summary="Delete a token")
async def delete(ctx: Ctx, caller: Auth, token_id: TokenId) -> Response:
    """Like revoking, and the token is gone from lists; its clusters stop (`TOKEN_REVOKED`)."""
    caller.require(Scope.WRITE)
    async with ctx.db.write() as s:
        await tokens.delete_token(ctx, s, caller, token_id)
    return Response(status_code=204)
