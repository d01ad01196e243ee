"""/healthz and /readyz"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import Response

from flotilla import __version__
from flotilla.api.deps import Ctx, json

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Response:
    return json(Health(status="ok", version=__version__))


@router.get("/readyz", response_model=Health, summary="The database answers")
async def readyz(ctx: Ctx) -> Response:
    async with ctx.db.read() as s:
        await s.execute(sa.text("SELECT 1"))
    return json(Health(status="ready", version=__version__))
