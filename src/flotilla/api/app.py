"""The server's ASGI app: API routers, error mapping, limits, metrics, start-up."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest
from starlette.responses import Response

from flotilla import __version__, console
from flotilla.api import errors
from flotilla.api.limits import BodyLimit
from flotilla.api.metrics import RequestMetrics
from flotilla.api.routers import (
    agent,
    apply,
    catalog,
    clusters,
    deployments,
    events,
    gateway,
    health,
    logs,
    models,
    nodepools,
    nodes,
    tokens,
    usage,
    users,
)
from flotilla.controllers.runner import ControllerRunner
from flotilla.providers.factory import build as build_providers
from flotilla.services.bootstrap import Bootstrapped, bootstrap
from flotilla.services.context import Context
from flotilla.services.hints import PgHintBridge
from flotilla.store.migrate import upgrade

log = logging.getLogger("flotilla.server")

DESCRIPTION = """
Flotilla's REST API. Authenticate with a Personal Access Token: `Authorization: Bearer flt_…`
(the first admin token is in `$FLOTILLA_HOME/credentials`).

**Errors** answer `{"error": {"code": "NODEPOOL_NOT_FOUND", "message": "…", "fields": {…}}}`
with a stable code. **Lists** page with `page` (from 1) and `per_page` (default 128) and answer
`{"items": […], "page": 1, "per_page": 128, "next_page": 2}`. **PATCH** is a JSON merge patch:
omitted fields stay, objects merge key by key, `null` resets a field to its default, and the
result is validated whole. **DELETE** of a cluster, nodepool or deployment answers 202 and the
object shows `deleting` until what runs there has stopped.
"""

ROUTERS = (
    clusters.router,
    nodepools.router,
    nodes.router,
    catalog.router,
    deployments.router,
    logs.router,
    models.router,
    tokens.router,
    users.router,
    events.router,
    usage.router,
    apply.router,
    agent.router,
    health.router,
    gateway.router,
)


def create_app(ctx: Context, *, on_start: Callable[[Bootstrapped], None] | None = None) -> FastAPI:
    """The API app over ``ctx``. At start it upgrades the schema (unless disabled), ensures the
    catalog, the shared cluster and the admin, then calls ``on_start`` (which prints the first
    start's admin token)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if ctx.settings.run_migrations:
            await upgrade(ctx.db)
        done = await bootstrap(ctx)
        runner = None
        bridge = None
        providers = None
        if not ctx.db.is_sqlite:
            bridge = PgHintBridge(ctx.hints, ctx.db.libpq_url)
            bridge.start()
        if ctx.settings.controllers:
            providers = build_providers(ctx)
            app.state.providers = providers
            runner = ControllerRunner(
                ctx, providers.registry, done.installation_id, extra_rounds=providers.rounds
            )
            runner.start()
        if on_start is not None:
            on_start(done)
        try:
            yield
        finally:
            if runner is not None:
                await runner.close()
            if providers is not None and ctx.settings.stop_nodes_on_exit:
                await providers.close()

            if bridge is not None:
                await bridge.close()

            await ctx.db.dispose()

    app = FastAPI(
        title="Flotilla",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ctx = ctx
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    console.install(app)
    registry = CollectorRegistry()
    app.state.metrics_registry = registry

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    app.state.route_methods = errors.route_methods(
        [*app.router.routes, *(route for router in ROUTERS for route in router.routes)]
    )
    app.add_middleware(RequestMetrics, registry=registry)
    app.add_middleware(
        BodyLimit,
        max_body_bytes=ctx.settings.max_body_bytes,
        max_package_bytes=ctx.settings.max_package_bytes,
    )
    return app
