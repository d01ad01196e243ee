"""``apply``: create or update every object a set of documents describes, in one transaction.

A document states the whole object: fields it omits take their defaults (except a cluster's
``token_id``, which keeps its binding). Applying the same documents twice changes nothing.
Clusters come first, then nodepools, then deployments, whatever the order in the file. Either
every document applies or none does.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.domain.errors import (
    ClusterNotFound,
    DeploymentNotFound,
    FlotillaError,
    NodepoolNotFound,
)
from flotilla.domain.specs import ComputeClusterSpec, DeploymentSpec, NodepoolSpec
from flotilla.services import clusters, deployments, nodepools
from flotilla.services.context import Caller, Context
from flotilla.services.documents import Document, load_documents
from flotilla.services.lookup import DEFAULT_NODEPOOL_ID, SHARED_CLUSTER_ID


class ApplyResult(BaseModel):
    kind: Literal["compute_cluster", "nodepool", "deployment"]
    id: str
    compute_cluster: str | None = None
    action: Literal["created", "updated", "unchanged"]


class ApplyResponse(BaseModel):
    results: list[ApplyResult]
    dry_run: bool = False


class _DryRun(Exception):
    def __init__(self, results: list[ApplyResult]) -> None:
        self.results = results


def _diff(current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in desired.items() if current.get(k) != v}


async def _apply_cluster(
    ctx: Context, s: AsyncSession, caller: Caller, doc: Document
) -> ApplyResult:
    assert isinstance(doc.spec, ComputeClusterSpec)
    spec = doc.spec
    try:
        current = await clusters.get_cluster(ctx, s, caller, spec.id)
    except ClusterNotFound:
        await clusters.create_cluster(ctx, s, caller, spec)
        return ApplyResult(kind="compute_cluster", id=spec.id, action="created")
    desired = spec.model_dump(mode="json")
    if "token_id" not in doc.set_fields:
        desired.pop("token_id")
    patch = _diff(current.model_dump(mode="json"), desired)
    if patch:
        await clusters.update_cluster(ctx, s, caller, spec.id, patch)
    return ApplyResult(
        kind="compute_cluster", id=spec.id, action="updated" if patch else "unchanged"
    )


async def _apply_nodepool(
    ctx: Context, s: AsyncSession, caller: Caller, doc: Document
) -> ApplyResult:
    assert isinstance(doc.spec, NodepoolSpec) and doc.compute_cluster is not None
    spec, cluster_id = doc.spec, doc.compute_cluster
    result = ApplyResult(
        kind="nodepool", id=spec.id, compute_cluster=cluster_id, action="unchanged"
    )
    try:
        current = await nodepools.get_nodepool(ctx, s, caller, cluster_id, spec.id)
    except NodepoolNotFound:
        await nodepools.create_nodepool(ctx, s, caller, cluster_id, spec)
        return result.model_copy(update={"action": "created"})
    patch = _diff(current.model_dump(mode="json"), spec.model_dump(mode="json"))
    if patch:
        await nodepools.update_nodepool(ctx, s, caller, cluster_id, spec.id, patch)
        return result.model_copy(update={"action": "updated"})
    return result


async def _apply_deployment(
    ctx: Context, s: AsyncSession, caller: Caller, doc: Document
) -> ApplyResult:
    assert isinstance(doc.spec, DeploymentSpec)
    spec = doc.spec
    try:
        current = await deployments.get_deployment(ctx, s, caller, spec.id)
    except DeploymentNotFound:
        await deployments.create_deployment(ctx, s, caller, spec)
        return ApplyResult(kind="deployment", id=spec.id, action="created")
    desired = spec.model_dump(mode="json")
    if not spec.nodepools:  # "none named" means the shared cluster's default nodepool
        desired["nodepools"] = [
            {"compute_cluster": SHARED_CLUSTER_ID, "nodepool": DEFAULT_NODEPOOL_ID, "priority": 0}
        ]
    patch = _diff(current.model_dump(mode="json"), desired)
    if patch:
        await deployments.update_deployment(ctx, s, caller, spec.id, patch)
    return ApplyResult(kind="deployment", id=spec.id, action="updated" if patch else "unchanged")


APPLY = {
    "compute_cluster": _apply_cluster,
    "nodepool": _apply_nodepool,
    "deployment": _apply_deployment,
}


async def apply(
    ctx: Context,
    caller: Caller,
    text: str,
    *,
    content_type: str = "application/yaml",
    dry_run: bool = False,
) -> ApplyResponse:
    docs = load_documents(text, content_type)
    try:
        async with ctx.db.write() as session:
            results = []
            for doc in docs:
                try:
                    results.append(await APPLY[doc.kind](ctx, session, caller, doc))
                except FlotillaError as error:
                    error.message = (
                        f"document {doc.index + 1} ({doc.kind} '{doc.spec.id}'): {error.message}"  # type: ignore[attr-defined]
                    )
                    error.args = (error.message,)
                    raise
            if dry_run:
                raise _DryRun(results)
    except _DryRun as done:
        return ApplyResponse(results=done.results, dry_run=True)
    return ApplyResponse(results=results)
