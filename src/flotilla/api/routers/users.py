"""/v1/users (admin), and /v1/users/me for everyone"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel
from starlette.responses import Response

from flotilla.api.deps import Auth, Ctx, Paging, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.domain.ids import ObjectId
from flotilla.domain.resources import Page, TokenWithSecret, User
from flotilla.domain.specs import UserPatch, UserSpec
from flotilla.services import users

router = APIRouter(prefix="/v1/users", tags=["users"], responses=ERROR_RESPONSES)
UserId = Annotated[ObjectId, Path(description="A user's id, or `me` for yourself.")]


class UserCreated(BaseModel):
    user: User
    token: TokenWithSecret


@router.post("", status_code=201, response_model=UserCreated, summary="Create a user (admin)")
async def create(ctx: Ctx, caller: Auth, body: UserSpec) -> Response:
    """Creates the user and a first token for them, whose secret is in the answer, once."""
    async with ctx.db.write() as s:
        user, token = await users.create_user(ctx, s, caller, body)
        return json(UserCreated(user=user, token=token), 201)


@router.get("", response_model=Page[User], summary="List users (admin)")
async def list_(ctx: Ctx, caller: Auth, paging: Paging) -> Response:
    async with ctx.db.read() as s:
        return json(await users.list_users(s, caller, paging))


@router.get("/{user_id}", response_model=User, summary="Get a user (admin), or yourself (me)")
async def get(ctx: Ctx, caller: Auth, user_id: UserId) -> Response:
    """`GET /v1/users/me` answers who the token belongs to."""
    async with ctx.db.read() as s:
        return json(await users.get_user(s, caller, user_id))


@router.patch("/{user_id}", response_model=User, summary="Change a user (admin)")
async def update(ctx: Ctx, caller: Auth, user_id: UserId, body: UserPatch) -> Response:
    async with ctx.db.write() as s:
        patch = body.model_dump(mode="json", exclude_unset=True)
        return json(await users.update_user(ctx, s, caller, user_id, patch))


@router.delete("/{user_id}", status_code=204, summary="Delete a user (admin)")
async def delete(ctx: Ctx, caller: Auth, user_id: UserId) -> Response:
    """Refused (409) while the user owns clusters or deployments."""
    async with ctx.db.write() as s:
        await users.delete_user(ctx, s, caller, user_id)
    return Response(status_code=204)
