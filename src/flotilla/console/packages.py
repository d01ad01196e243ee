"""Models: the list with its upload form, a model's versions, deleting a model.

The browser sends the chosen file as the request body (``application/gzip``, as the API takes
it), so no multipart parser is needed; the answer is JSON the page's script acts on.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from flotilla.console.account import confirm_typed
from flotilla.console.sessions import CSRF_HEADER
from flotilla.console.summaries import ALL
from flotilla.console.templating import FormErrors
from flotilla.console.web import (
    PREFIX,
    ConsoleRoute,
    SignedIn,
    check_csrf,
    go,
    posted,
    validate,
)
from flotilla.domain.errors import FlotillaError, UnsupportedMediaType
from flotilla.domain.specs import ModelSpec
from flotilla.domain.states import Scope
from flotilla.services import deployments, models, packages
from flotilla.services.paging import PageParams

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
PACKAGE_TYPES = ("application/gzip", "application/x-gzip", "application/octet-stream")


@router.get("/models")
async def model_list(visitor: SignedIn) -> Response:
    ctx = visitor.ctx
    async with ctx.db.read() as s:
        found = (await models.list_models(s, visitor.caller, ALL)).items
    return visitor.render("models.html", "models", models=found)


@router.post("/models")
async def upload(request: Request, visitor: SignedIn, model_id: str = "") -> Response:
    """Answers ``{"redirect": url}``, or ``{"error": {...}}`` with the API's status and fields
    (``id`` for the model id, ``package`` for the file)."""
    ctx, caller = visitor.ctx, visitor.caller
    try:
        check_csrf(visitor, request.headers.get(CSRF_HEADER))
        validate(ModelSpec, {"id": model_id})
        caller.require(Scope.WRITE)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in PACKAGE_TYPES:
            raise UnsupportedMediaType(
                "choose a .tar.gz file; uploading from the console needs JavaScript "
                "(or use curl with Content-Type: application/gzip)"
            )
        archive = await packages.receive_upload(
            request.stream(), ctx.settings.home / "tmp", ctx.settings.max_package_bytes
        )
        try:
            package = await models.unpack(ctx, archive, model_id)
        finally:
            await asyncio.to_thread(archive.unlink, missing_ok=True)
        async with ctx.db.write() as s:
            version, created = await models.add_version(ctx, s, caller, model_id, package)
    except FlotillaError as error:
        body = error.to_dict()
        if "id" not in error.fields:  # the package's own problem: shown at the file input
            body["error"]["fields"] = {**error.fields, "package": error.message}
        return JSONResponse(body, status_code=error.http_status)
    news = "uploaded" if created else "was uploaded before: the same files"
    visitor.session.flash(f"Version {version.id} of '{model_id}' {news}.", "success")
    return JSONResponse({"redirect": f"{PREFIX}/models/{model_id}", "version": version.id})


async def _model_page(
    visitor: SignedIn, model_id: str, errors: FormErrors, status_code: int = 200
) -> Response:
    ctx, caller = visitor.ctx, visitor.caller
    async with ctx.db.read() as s:
        model = await models.get_model(s, caller, model_id)
        versions = (await models.list_versions(s, caller, model_id, PageParams(per_page=50))).items
        users = (await deployments.list_deployments(ctx, s, caller, ALL, model=model_id)).items
    return visitor.render(
        "model.html",
        "models",
        status_code,
        model=model,
        versions=versions,
        deployments=users,
        errors=errors,
    )


@router.get("/models/{model_id}")
async def model_page(visitor: SignedIn, model_id: str) -> Response:
    return await _model_page(visitor, model_id, FormErrors())


@router.post("/models/{model_id}/delete")
async def model_delete(request: Request, visitor: SignedIn, model_id: str) -> Response:
    form = await posted(request, visitor)
    ctx = visitor.ctx
    try:
        confirm_typed(form.get("confirm"), model_id)
        async with ctx.db.write() as s:
            await models.delete_model(ctx, s, visitor.caller, model_id)
    except FlotillaError as error:
        return await _model_page(visitor, model_id, FormErrors(error), error.http_status)
    visitor.session.flash(f"Model '{model_id}' deleted.", "success")
    return go(PREFIX + "/models")
