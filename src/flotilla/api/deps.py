"""What handlers are given: the service context, the authenticated caller, paging."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.responses import Response

from flotilla.domain.errors import Unauthenticated
from flotilla.domain.states import Scope
from flotilla.services import tokens
from flotilla.services.context import Caller, Context
from flotilla.services.paging import DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE, PageParams

bearer = HTTPBearer(
    auto_error=False,
    description="A Personal Access Token: `Authorization: Bearer flt_…`",
)


async def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def get_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    ctx: Context = request.app.state.ctx
    if credentials is None:
        raise Unauthenticated(
            "missing token: send 'Authorization: Bearer <token>' (your token is in "
            "$FLOTILLA_HOME/credentials)"
        )
    caller = await tokens.authenticate_cached(ctx, credentials.credentials.strip())
    caller.require(Scope.READ)
    return caller


async def get_page(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1.")] = 1,
    per_page: Annotated[
        int, Query(ge=1, le=MAX_PER_PAGE, description="Items per page.")
    ] = DEFAULT_PER_PAGE,
) -> PageParams:
    return PageParams(page=page, per_page=per_page)


Ctx = Annotated[Context, Depends(get_context)]
Auth = Annotated[Caller, Depends(get_caller)]
Paging = Annotated[PageParams, Depends(get_page)]


def json(model: BaseModel, status_code: int = 200) -> Response:
    """Serialize a model we built ourselves (it is valid already) without a second validation."""
    return Response(
        content=model.model_dump_json(), status_code=status_code, media_type="application/json"
    )
