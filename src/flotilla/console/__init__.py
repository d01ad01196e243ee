"""The web console: server-rendered pages (Jinja2) over the same services as the API, with
its own small script and style sheet. ``install(app)`` mounts it under ``/console``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from flotilla.console import account, compute, packages, serving
from flotilla.console.sessions import SessionStore
from flotilla.console.web import PREFIX

STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)
for part in (account.router, compute.router, serving.router, packages.router):
    router.include_router(part)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse(PREFIX, status_code=307)


def install(app: FastAPI) -> None:
    """Add the console's pages, its static files and its session store to ``app``."""
    app.state.console_sessions = SessionStore()
    app.include_router(router)
    app.mount(PREFIX + "/static", StaticFiles(directory=STATIC), name="console-static")
