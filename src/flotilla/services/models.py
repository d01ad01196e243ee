"""Models and their versions: immutable, content-addressed packages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.errors import (
    ModelAlreadyExists,
    ModelHasNoVersions,
    ModelInUse,
    ModelNotFound,
    ModelVersionNotFound,
)
from flotilla.domain.resources import Model, ModelVersion, Page
from flotilla.domain.specs import IMMUTABLE_FIELDS, ModelSpec, Resources
from flotilla.domain.states import ObjectKind, Scope
from flotilla.services import events
from flotilla.services.context import Caller, Context
from flotilla.services.lookup import add_unique, model_row, patched
from flotilla.services.packages import Package, unpack_package
from flotilla.services.paging import AnySelect, PageParams, fetch_page, make_page
from flotilla.store.tables import DeploymentRow, ModelRow, ModelVersionRow

LATEST = "latest"


async def resolve_version(session: AsyncSession, model: ModelRow, version: str) -> ModelVersionRow:
    """The version row ``version`` names ('latest': the newest)."""
    stmt = sa.select(ModelVersionRow).where(ModelVersionRow.model_pk == model.pk)
    if version == LATEST:
        row = await session.scalar(stmt.order_by(ModelVersionRow.pk.desc()).limit(1))
        if row is None:
            raise ModelHasNoVersions(
                f"model '{model.id}' has no version yet; upload one (`flotilla model upload`)"
            )
        return row
    row = await session.scalar(stmt.where(ModelVersionRow.id == version))
    if row is None:
        raise ModelVersionNotFound(f"model '{model.id}' has no version '{version}'")
    return row


def _version_view(row: ModelVersionRow, model_id: str) -> ModelVersion:
    return ModelVersion(
        id=row.id,
        model=model_id,
        digest=row.digest,
        size_bytes=row.size_bytes,
        entrypoint=row.entrypoint,
        resources=Resources.model_validate(row.resources),
        requirements_hash=row.requirements_hash,
        description=row.description,
        created_at=row.created_at,
    )


def _select() -> AnySelect:
    counts = (
        sa.select(
            ModelVersionRow.model_pk,
            sa.func.count().label("n"),
            sa.func.max(ModelVersionRow.pk).label("latest_pk"),
        )
        .group_by(ModelVersionRow.model_pk)
        .subquery()
    )
    return sa.select(ModelRow, counts.c.n, counts.c.latest_pk).outerjoin(
        counts, counts.c.model_pk == ModelRow.pk
    )


async def _views(
    session: AsyncSession, caller: Caller, rows: list[tuple[ModelRow, int | None, int | None]]
) -> list[Model]:
    latest_pks = [latest for _, _, latest in rows if latest is not None]
    latest_ids: dict[int, str] = {}
    if latest_pks:
        result = await session.execute(
            sa.select(ModelVersionRow.pk, ModelVersionRow.id).where(
                ModelVersionRow.pk.in_(latest_pks)
            )
        )
        latest_ids = dict(result.all())
    return [
        Model(
            id=row.id,
            description=row.description,
            owner=caller.user_id,
            latest_version=latest_ids.get(latest) if latest is not None else None,
            version_count=count or 0,
            created_at=row.created_at,
            modified_at=row.modified_at,
        )
        for row, count, latest in rows
    ]


async def get_model(session: AsyncSession, caller: Caller, model_id: str) -> Model:
    row = await model_row(session, caller, model_id)
    found, count, latest = (await session.execute(_select().where(ModelRow.pk == row.pk))).one()
    return (await _views(session, caller, [(found, count, latest)]))[0]


async def list_models(session: AsyncSession, caller: Caller, params: PageParams) -> Page[Model]:
    stmt = _select().where(ModelRow.owner_pk == caller.user_pk).order_by(ModelRow.id)
    rows, next_page = await fetch_page(session, stmt, params)
    views = await _views(session, caller, [(found, n, latest) for found, n, latest in rows])
    return make_page(views, params, next_page)


async def create_model(
    ctx: Context, session: AsyncSession, caller: Caller, spec: ModelSpec
) -> Model:
    caller.require(Scope.WRITE)
    now = ctx.now()
    row = ModelRow(
        id=spec.id,
        owner_pk=caller.user_pk,
        description=spec.description,
        created_at=now,
        modified_at=now,
    )
    await add_unique(session, row, ModelAlreadyExists(f"you already have a model '{spec.id}'"))
    events.record(
        session,
        owner_pk=caller.user_pk,
        kind=ObjectKind.MODEL,
        object_id=spec.id,
        reason="MODEL_CREATED",
        message=f"model '{spec.id}' created",
        time=now,
    )
    return (await _views(session, caller, [(row, 0, None)]))[0]


async def update_model(
    ctx: Context, session: AsyncSession, caller: Caller, model_id: str, patch: dict[str, object]
) -> Model:
    caller.require(Scope.WRITE)
    row = await model_row(session, caller, model_id)
    current = ModelSpec.model_construct(id=row.id, description=row.description)
    spec = patched(ModelSpec, current, patch, IMMUTABLE_FIELDS[ModelSpec])
    row.description = spec.description
    row.modified_at = ctx.now()
    await session.flush()
    return await get_model(session, caller, model_id)


async def _deployments_using(session: AsyncSession, model: ModelRow) -> list[DeploymentRow]:
    result = await session.scalars(
        sa.select(DeploymentRow)
        .where(DeploymentRow.model_pk == model.pk)
        .order_by(DeploymentRow.id)
    )
    return list(result.all())


async def delete_model(ctx: Context, session: AsyncSession, caller: Caller, model_id: str) -> None:
    """Delete a model and its versions; refused (409 ``MODEL_IN_USE``) while deployed."""
    caller.require(Scope.WRITE)
    row = await model_row(session, caller, model_id)
    users = await _deployments_using(session, row)
    if users:
        raise ModelInUse(
            f"model '{model_id}' is deployed by: {', '.join(d.id for d in users)}; delete those first"
        )
    events.record(
        session,
        owner_pk=caller.user_pk,
        kind=ObjectKind.MODEL,
        object_id=model_id,
        reason="MODEL_DELETED",
        message=f"model '{model_id}' and its versions deleted",
        time=ctx.now(),
    )
    await session.delete(row)


async def list_versions(
    session: AsyncSession, caller: Caller, model_id: str, params: PageParams
) -> Page[ModelVersion]:
    model = await model_row(session, caller, model_id)
    stmt = (
        sa.select(ModelVersionRow)
        .where(ModelVersionRow.model_pk == model.pk)
        .order_by(ModelVersionRow.pk.desc())
    )
    rows, next_page = await fetch_page(session, stmt, params)
    return make_page([_version_view(r[0], model.id) for r in rows], params, next_page)


async def get_version(
    session: AsyncSession, caller: Caller, model_id: str, version_id: str
) -> ModelVersion:
    model = await model_row(session, caller, model_id)
    return _version_view(await resolve_version(session, model, version_id), model.id)


async def version_package(
    ctx: Context, session: AsyncSession, caller: Caller, model_id: str, version_id: str
) -> Path:
    """The normalized tar.gz of a version, for agents and downloads."""
    from flotilla.services.packages import package_archive

    model = await model_row(session, caller, model_id)
    row = await resolve_version(session, model, version_id)
    return package_archive(ctx.settings, row.digest)


async def unpack(ctx: Context, archive: Path, model_id: str) -> Package:
    """Check and store an uploaded archive (in a thread: it reads and writes files)."""
    return await asyncio.to_thread(unpack_package, archive, ctx.settings, model_id=model_id)


async def add_version(
    ctx: Context,
    session: AsyncSession,
    caller: Caller,
    model_id: str,
    package: Package,
    *,
    description: str = "",
) -> tuple[ModelVersion, bool]:
    """Record an unpacked package as a version of ``model_id`` (created if new).

    Content-addressed: uploading the same files again returns the existing version and
    ``False``; a new version returns ``True``.
    """
    caller.require(Scope.WRITE)
    try:
        model = await model_row(session, caller, model_id)
    except ModelNotFound:
        await create_model(
            ctx, session, caller, ModelSpec(id=model_id, description=package.manifest.description)
        )
        model = await model_row(session, caller, model_id)
    existing = await session.scalar(
        sa.select(ModelVersionRow).where(
            ModelVersionRow.model_pk == model.pk, ModelVersionRow.digest == package.digest
        )
    )
    if existing is not None:
        return _version_view(existing, model.id), False
    now = ctx.now()
    row = ModelVersionRow(
        id=package.digest.removeprefix("sha256:")[:12],
        model_pk=model.pk,
        digest=package.digest,
        size_bytes=package.size_bytes,
        entrypoint=package.manifest.entrypoint,
        resources=package.manifest.resources.model_dump(mode="json"),
        requirements_hash=package.requirements_hash,
        description=description or package.manifest.description,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    events.record(
        session,
        owner_pk=caller.user_pk,
        kind=ObjectKind.MODEL_VERSION,
        object_id=f"{model.id}/{row.id}",
        reason="MODEL_VERSION_CREATED",
        message=f"version {row.id} of '{model.id}' uploaded ({package.size_bytes} bytes)",
        time=now,
    )
    ctx.hints.notify("deployments")  # deployments that follow 'latest' roll to it
    return _version_view(row, model.id), True
