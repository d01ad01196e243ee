"""Every failure answers ``{"error": {"code", "message", "fields"}}`` with its HTTP status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from flotilla.api.limits import BodyLimitExceeded
from flotilla.domain.errors import (
    FlotillaError,
    InternalError,
    InvalidArgument,
    MalformedRequest,
    MethodNotAllowed,
    RouteNotFound,
)

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
    fields: dict[str, str] = {}
    for item in exc.errors():
        loc = [str(p) for p in item.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:] if loc[0] == "body" else loc
        path = ".".join(loc) or "body"
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        if item.get("type") == "extra_forbidden":
            message = "unknown field; remove it (check its spelling)"
        elif item.get("type") == "missing":
            message = "required"
        fields[path] = message
    return fields


def install(app: FastAPI) -> None:
    @app.exception_handler(FlotillaError)
    async def _flotilla(_: Request, exc: FlotillaError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        if any(item.get("type") == "json_invalid" for item in exc.errors()):
            return error_response(MalformedRequest("the body is not valid JSON"))
        fields = _fields(exc)
        first_path, first_message = next(iter(fields.items()), ("body", "invalid"))
        more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
        return error_response(
            InvalidArgument(f"invalid {first_path}: {first_message}{more}", fields=fields)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, BodyLimitExceeded):
            return error_response(exc.error)
        if exc.status_code == 404:
            return error_response(RouteNotFound("no such route; see /docs for the API"))
        if exc.status_code == 405:
            headers = dict(exc.headers) if exc.headers else None
            return error_response(MethodNotAllowed("this route does not take that method"), headers)
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
