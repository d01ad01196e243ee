"""Finding rows as the caller may see them: their own, and the shared cluster.

Another user's object is reported as not found, never as forbidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.errors import (
    ClusterNotFound,
    DeploymentNotFound,
    FieldImmutable,
    FlotillaError,
    InvalidArgument,
    ModelNotFound,
    NodepoolNotFound,
    ObjectDeleting,
)
from flotilla.domain.specs import RuleBroken, merge_patch
from flotilla.domain.states import ClusterType
from flotilla.services.context import Caller
from flotilla.store.tables import ClusterRow, DeploymentRow, ModelRow, NodepoolRow

SHARED_CLUSTER_ID = "shared"
DEFAULT_NODEPOOL_ID = "default"
SYSTEM_OWNER = "system"

S = TypeVar("S", bound=BaseModel)


def visible_cluster(caller: Caller, system_user_pk: int | None = None) -> sa.ColumnElement[bool]:
    """The caller's clusters and the shared one (owned by the system user: an indexed IN when
    its pk is known)."""
    if system_user_pk is not None:
        return ClusterRow.owner_pk.in_([caller.user_pk, system_user_pk])
    return sa.or_(
        ClusterRow.owner_pk == caller.user_pk, ClusterRow.cluster_type == ClusterType.SHARED.value
    )


def owner_name(row: ClusterRow, caller: Caller) -> str:
    return SYSTEM_OWNER if row.cluster_type == ClusterType.SHARED.value else caller.user_id


async def cluster_row(session: AsyncSession, caller: Caller, cluster_id: str) -> ClusterRow:
    row = await session.scalar(
        sa.select(ClusterRow)
        .where(ClusterRow.id == cluster_id, visible_cluster(caller))
        # the caller's own cluster wins over the shared one if ever both match
        .order_by(sa.case((ClusterRow.owner_pk == caller.user_pk, 0), else_=1))
        .limit(1)
    )
    if row is None:
        raise ClusterNotFound(f"no compute cluster '{cluster_id}'")
    return row


async def nodepool_row(
    session: AsyncSession, caller: Caller, cluster_id: str, nodepool_id: str
) -> tuple[ClusterRow, NodepoolRow]:
    cluster = await cluster_row(session, caller, cluster_id)
    row = await session.scalar(
        sa.select(NodepoolRow).where(
            NodepoolRow.cluster_pk == cluster.pk, NodepoolRow.id == nodepool_id
        )
    )
    if row is None:
        raise NodepoolNotFound(f"compute cluster '{cluster_id}' has no nodepool '{nodepool_id}'")
    return cluster, row


async def model_row(session: AsyncSession, caller: Caller, model_id: str) -> ModelRow:
    row = await session.scalar(
        sa.select(ModelRow).where(ModelRow.owner_pk == caller.user_pk, ModelRow.id == model_id)
    )
    if row is None:
        raise ModelNotFound(f"no model '{model_id}'; upload it first (`flotilla model upload`)")
    return row


async def deployment_row(
    session: AsyncSession, caller: Caller, deployment_id: str
) -> DeploymentRow:
    row = await session.scalar(
        sa.select(DeploymentRow).where(
            DeploymentRow.owner_pk == caller.user_pk, DeploymentRow.id == deployment_id
        )
    )
    if row is None:
        raise DeploymentNotFound(f"no deployment '{deployment_id}'")
    return row


async def add_unique(session: AsyncSession, row: Any, conflict: FlotillaError) -> None:
    """Insert ``row``; a row with the same id raises ``conflict``. The transaction is lost with
    it — no savepoint is spent on the common case — so the whole request fails, as it should."""
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise conflict from None


def refuse_if_deleting(row: Any, what: str) -> None:
    if getattr(row, "deleting_at", None) is not None:
        raise ObjectDeleting(f"{what} is being deleted; it can no longer be changed")


def error_fields(errors: Iterable[Mapping[str, Any]], prefix: str = "") -> dict[str, str]:
    """Pydantic errors as ``{"field.path": "what is wrong"}``; a broken rule between fields
    (``RuleBroken``) is reported at each field it names."""
    fields: dict[str, str] = {}
    for item in errors:
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        if item.get("type") == "extra_forbidden":
            message = "unknown field; remove it (check its spelling)"
        elif item.get("type") == "missing":
            message = "required"
        rule = (item.get("ctx") or {}).get("error")
        loc = [prefix, *(str(p) for p in item.get("loc", ()))]
        for name in rule.fields if isinstance(rule, RuleBroken) else ("",):
            fields[".".join(p for p in (*loc, name) if p) or "body"] = message
    return fields


def validation_fields(error: ValidationError, prefix: str = "") -> dict[str, str]:
    return error_fields(error.errors(), prefix)


def summary(fields: dict[str, str]) -> str:
    """The first problem in one line, and how many others there are."""
    path, message = next(iter(fields.items()), ("body", "invalid"))
    leaf = path.rsplit(".", 1)[-1]
    rule = path == "body" or message.startswith(leaf)  # the message names its fields
    first = message if rule else f"invalid {path}: {message}"
    others = len(set(fields.values())) - 1  # a rule between two fields is one problem
    return first + (f" (and {others} more)" if others else "")


def invalid_argument(fields: dict[str, str]) -> InvalidArgument:
    return InvalidArgument(summary(fields), fields=fields)


def invalid(error: ValidationError, prefix: str = "") -> InvalidArgument:
    return invalid_argument(validation_fields(error, prefix))


def patched(spec_type: type[S], current: S, patch: dict[str, Any], immutable: frozenset[str]) -> S:
    """Apply a JSON merge patch to ``current`` and validate the result as a whole."""
    if not isinstance(patch, dict):
        raise InvalidArgument("a PATCH body is a JSON object of the fields to change")
    before = current.model_dump(mode="json")
    for name in sorted(immutable & patch.keys()):
        if patch[name] != before.get(name):
            raise FieldImmutable(
                f"'{name}' cannot be changed; create a new object instead",
                fields={name: "immutable"},
            )
    try:
        return spec_type.model_validate(merge_patch(before, patch))
    except ValidationError as error:
        raise invalid(error) from None
