"""/v1/models and their versions (package upload)"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import FileResponse, Response

from flotilla.api.deps import Auth, Ctx, Paging, json
from flotilla.api.errors import ERROR_RESPONSES
from flotilla.domain.errors import UnsupportedMediaType
from flotilla.domain.ids import ObjectId
from flotilla.domain.resources import Model, ModelVersion, Page
from flotilla.domain.specs import Description, ModelPatch, ModelSpec
from flotilla.domain.states import Scope
from flotilla.services import models, packages

router = APIRouter(prefix="/v1/models", tags=["models"], responses=ERROR_RESPONSES)
ModelId = Annotated[ObjectId, Path(description="The model's id.")]
VersionId = Annotated[ObjectId, Path(description="A version id, or 'latest'.")]
PACKAGE_TYPES = (
    "application/gzip",
    "application/x-gzip",
    "application/octet-stream",
    "application/x-tar",
)


@router.post("", status_code=201, response_model=Model, summary="Create a model")
async def create(ctx: Ctx, caller: Auth, body: ModelSpec) -> Response:
    async with ctx.db.write() as s:
        return json(await models.create_model(ctx, s, caller, body), 201)


@router.get("", response_model=Page[Model], summary="List models")
async def list_(ctx: Ctx, caller: Auth, paging: Paging) -> Response:
    async with ctx.db.read() as s:
        return json(await models.list_models(s, caller, paging))


@router.get("/{model_id}", response_model=Model, summary="Get a model")
async def get(ctx: Ctx, caller: Auth, model_id: ModelId) -> Response:
    async with ctx.db.read() as s:
        return json(await models.get_model(s, caller, model_id))


@router.patch("/{model_id}", response_model=Model, summary="Change a model's description")
async def update(ctx: Ctx, caller: Auth, model_id: ModelId, body: ModelPatch) -> Response:
    async with ctx.db.write() as s:
        patch = body.model_dump(mode="json", exclude_unset=True)
        return json(await models.update_model(ctx, s, caller, model_id, patch))


@router.delete("/{model_id}", status_code=204, summary="Delete a model and its versions")
async def delete(ctx: Ctx, caller: Auth, model_id: ModelId) -> Response:
    """Refused (409 `MODEL_IN_USE`) while a deployment uses the model."""
    async with ctx.db.write() as s:
        await models.delete_model(ctx, s, caller, model_id)
    return Response(status_code=204)


@router.post(
    "/{model_id}/versions",
    status_code=201,
    response_model=ModelVersion,
    summary="Upload a model version (tar.gz package)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A tar.gz of the model folder: model.yaml, model.py, requirements.txt.",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in PACKAGE_TYPES
            },
        }
    },
    responses={200: {"model": ModelVersion, "description": "The same files were uploaded before"}},
)
async def upload(
    ctx: Ctx,
    caller: Auth,
    request: Request,
    model_id: ModelId,
    description: Annotated[Description, Query()] = "",
) -> Response:
    """Checked and unpacked safely (no absolute paths, `..` or links; size limits), stored by
    content: the same files uploaded again answer 200 with the existing version. The model is
    created if it does not exist."""
    caller.require(Scope.WRITE)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in PACKAGE_TYPES:
        raise UnsupportedMediaType(
            f"send the package as application/gzip (got '{content_type or 'none'}'), e.g. "
            "curl --data-binary @model.tar.gz -H 'Content-Type: application/gzip'"
        )
    archive = await packages.receive_upload(
        request.stream(), ctx.settings.home / "tmp", ctx.settings.max_package_bytes
    )
    try:
        package = await models.unpack(ctx, archive, model_id)
    finally:
        await asyncio.to_thread(archive.unlink, missing_ok=True)
    async with ctx.db.write() as s:
        version, created = await models.add_version(
            ctx, s, caller, model_id, package, description=description
        )
    return json(version, 201 if created else 200)


@router.get(
    "/{model_id}/versions", response_model=Page[ModelVersion], summary="List a model's versions"
)
async def list_versions(ctx: Ctx, caller: Auth, model_id: ModelId, paging: Paging) -> Response:
    """Newest first."""
    async with ctx.db.read() as s:
        return json(await models.list_versions(s, caller, model_id, paging))


@router.get(
    "/{model_id}/versions/{version_id}", response_model=ModelVersion, summary="Get a model version"
)
async def get_version(ctx: Ctx, caller: Auth, model_id: ModelId, version_id: VersionId) -> Response:
    async with ctx.db.read() as s:
        return json(await models.get_version(s, caller, model_id, version_id))


@router.get(
    "/{model_id}/versions/{version_id}/package",
    summary="Download a model version's package",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def download(
    ctx: Ctx, caller: Auth, model_id: ModelId, version_id: VersionId
) -> FileResponse:
    """The normalized tar.gz (sorted entries, no timestamps) whose digest names the version."""
    async with ctx.db.read() as s:
        path = await models.version_package(ctx, s, caller, model_id, version_id)
    return FileResponse(
        path, media_type="application/gzip", filename=f"{model_id}-{version_id}.tar.gz"
    )
