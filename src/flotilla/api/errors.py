"""Every failure answers ``{"error": {"code", "message", "fields"}}`` with its HTTP status."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Route

from flotilla.api.limits import BodyLimitExceeded
from flotilla.domain.errors import (
    FlotillaError,
    InternalError,
    MalformedRequest,
    MethodNotAllowed,
    RouteNotFound,
)
from flotilla.services.lookup import error_fields, invalid_argument

log = logging.getLogger("flotilla.api")


class ErrorDetail(BaseModel):
    code: str = Field(examples=["NODEPOOL_NOT_FOUND"])
    message: str = Field(examples=["compute cluster 'gpu-east' has no nodepool 'a10-pool'"])
    fields: dict[str, str] | None = Field(
        None, examples=[{"min_instances": "must not exceed max_instances"}]
    )


class ErrorBody(BaseModel):
    error: ErrorDetail


def _doc(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc("MALFORMED_REQUEST: the body is not valid JSON/YAML"),
    401: _doc("UNAUTHENTICATED, TOKEN_EXPIRED or TOKEN_REVOKED"),
    403: _doc("PERMISSION_DENIED: the token lacks a scope, or the object is the system's"),
    404: _doc("*_NOT_FOUND: no such object (or it belongs to someone else)"),
    405: _doc("METHOD_NOT_ALLOWED"),
    409: _doc("*_ALREADY_EXISTS, *_IN_USE, CLUSTER_HAS_DEPLOYMENTS, OBJECT_DELETING"),
    413: _doc("BODY_TOO_LARGE or PACKAGE_TOO_LARGE"),
    415: _doc("UNSUPPORTED_MEDIA_TYPE"),
    422: _doc("INVALID_ARGUMENT and its kinds: the fields say what to fix"),
    500: _doc("INTERNAL: a bug; the server log has the details"),
}


def error_response(error: FlotillaError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.to_dict(), status_code=error.http_status, headers=headers)


def _fields(exc: RequestValidationError) -> dict[str, str]:
    """Body fields by their path (``autoscale_config.min_replicas``); parameters with where
    they are (``query.per_page``)."""
    items = []
    for item in exc.errors():
        loc = tuple(item.get("loc", ()))
        items.append({**item, "loc": loc[1:] if loc[:1] == ("body",) else loc})
    return error_fields(items)


RouteMethods = list[tuple[re.Pattern[str], frozenset[str]]]


def route_methods(routes: Iterable[BaseRoute]) -> RouteMethods:
    """Each route's path pattern and methods, for ``Allow``: Starlette's own 405 names only the
    first route that matched the path, and FastAPI has one route per method."""
    return [
        (r.path_regex, frozenset(r.methods)) for r in routes if isinstance(r, Route) and r.methods
    ]


def _allowed_methods(request: Request) -> list[str]:
    known: RouteMethods = getattr(request.app.state, "route_methods", [])
    path = request.scope["path"]
    return sorted({method for regex, methods in known if regex.match(path) for method in methods})


def install(app: FastAPI) -> None:
    @app.exception_handler(FlotillaError)
    async def _flotilla(_: Request, exc: FlotillaError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        if any(item.get("type") == "json_invalid" for item in exc.errors()):
            return error_response(MalformedRequest("the body is not valid JSON"))
        return error_response(invalid_argument(_fields(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, BodyLimitExceeded):
            return error_response(exc.error)
        if exc.status_code == 404:
            return error_response(RouteNotFound("no such route; see /docs for the API"))
        if exc.status_code == 405:
            allow = ", ".join(_allowed_methods(request))
            return error_response(
                MethodNotAllowed(f"{request.method} is not allowed here; this route takes {allow}"),
                headers={"Allow": allow},
            )
        error = FlotillaError(str(exc.detail))
        return JSONResponse(
            {"error": {"code": "HTTP_" + str(exc.status_code), "message": error.message}},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(InternalError("internal error; the server log has the details"))
